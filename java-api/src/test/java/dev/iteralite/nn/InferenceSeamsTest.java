package dev.iteralite.nn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.iteralite.backend.Backend;
import dev.iteralite.backend.Backends;
import dev.iteralite.nn.MambaMixer.Projection;
import dev.iteralite.nn.MixtureOfExperts.ExpertProjection;
import dev.iteralite.tensor.Arena;
import dev.iteralite.tensor.DType;
import dev.iteralite.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * The sequence-product seams a compressed model's batched prefill plugs into: {@link
 * MambaMixer#prefill(Tensor, MambaState, Arena, Projection, Projection, Projection, Projection)}
 * and {@link MixtureOfExperts#infer}. Given the layer's own F32 products they must reproduce the
 * layer's own prefill / dropless forward exactly, call each product once over all rows (per
 * expert: once over the rows routed to it), and leave training state alone.
 */
class InferenceSeamsTest {
  private final Backend cpu = Backends.cpu();

  private static Tensor random(Arena arena, SplittableRandom r, long rows, long cols) {
    double[] v = new double[(int) (rows * cols)];
    for (int i = 0; i < v.length; i++) {
      v[i] = r.nextDouble() * 2 - 1;
    }
    Tensor t = arena.allocate(DType.F32, rows, cols);
    t.copyFrom(v);
    return t;
  }

  /** y = x W^T through the backend, recording the row count of every call. */
  private Projection counted(Tensor weight, List<Long> calls) {
    return (x, y) -> {
      calls.add(x.dim(0));
      cpu.gemm(false, true, 1f, x, weight, 0f, y);
    };
  }

  @Test
  void mixerPrefillWithSuppliedProjectionsEqualsItsOwnPrefillAndLeavesTheSameState() {
    // d_inner 40 and chunk 4: a prompt of 11 tokens spans several scan chunks
    MambaConfig c = MambaConfig.builder(24).dInner(40).dtRank(3).dState(8).chunk(4).build();
    ParameterSet.Builder b = ParameterSet.builder();
    MambaMixer mixer = new MambaMixer(cpu, b, "m", c);
    int batch = 2;
    long len = 11;
    try (ParameterSet params = b.build(DType.F32, 3);
        Arena arena = Arena.open();
        MambaState own = mixer.newState(batch);
        MambaState supplied = mixer.newState(batch)) {
      Tensor x = random(arena, new SplittableRandom(5), batch * len, 24);
      float[] want = mixer.prefill(x, own, arena).toFloatArray();
      List<List<Long>> calls = List.of(new ArrayList<>(), new ArrayList<>(), new ArrayList<>(), new ArrayList<>());
      Tensor got = mixer.prefill(x, supplied, arena, counted(mixer.inProjWeight().value(), calls.get(0)),
          counted(mixer.xProjWeight().value(), calls.get(1)), counted(mixer.dtProjWeight().value(), calls.get(2)),
          counted(mixer.outProjWeight().value(), calls.get(3)));
      assertArrayEquals(want, got.toFloatArray());
      assertArrayEquals(own.conv().toFloatArray(), supplied.conv().toFloatArray(), "conv window");
      assertArrayEquals(own.ssm().toFloatArray(), supplied.ssm().toFloatArray(), "SSM state");
      for (List<Long> call : calls) {
        assertEquals(List.of(batch * len), call, "each projection runs once over every row");
      }
      // nothing was saved for backward by the supplied-projection prefill
      assertThrows(IllegalStateException.class, () -> mixer.backward(x, arena));
      assertThrows(IllegalArgumentException.class, () -> mixer.prefill(x, supplied, arena, null, null, null, null));
    }
  }

  @Test
  void moeInferWithSuppliedExpertProductsEqualsTheDroplessForwardAndKeepsCountsAndDropsOut() {
    long t = 13;
    for (double capacityFactor : new double[] {0, 0.5}) {
      MoeConfig c = MoeConfig.builder(24, 40, 4).topK(2).capacityFactor(capacityFactor).build();
      ParameterSet.Builder b = ParameterSet.builder();
      MixtureOfExperts moe = new MixtureOfExperts(cpu, b, "moe", c);
      try (ParameterSet params = b.build(DType.F32, 7); Arena arena = Arena.open()) {
        Tensor x = random(arena, new SplittableRandom(9), t, 24);
        float[] forward = moe.forward(x, arena).toFloatArray();
        int dropped = moe.lastDroppedCount();
        long[] counts = moe.cumulativeRoutedCounts();
        List<int[]> calls1 = new ArrayList<>();
        List<int[]> calls2 = new ArrayList<>();
        ExpertProjection p1 = (e, in, out) -> {
          calls1.add(new int[] {e, (int) in.dim(0)});
          cpu.gemm(false, true, 1f, in, moe.w1().value().select(0, e), 0f, out);
        };
        ExpertProjection p3 = (e, in, out) -> cpu.gemm(false, true, 1f, in, moe.w3().value().select(0, e), 0f, out);
        ExpertProjection p2 = (e, in, out) -> {
          calls2.add(new int[] {e, (int) in.dim(0)});
          cpu.gemm(false, true, 1f, in, moe.w2().value().select(0, e), 0f, out);
        };
        float[] infer = moe.infer(x, arena, p1, p3, p2).toFloatArray();
        assertArrayEquals(counts, moe.cumulativeRoutedCounts(), "inference leaves the routing counts alone");
        int rows = 0;
        int previous = -1;
        for (int[] call : calls1) {
          assertTrue(call[0] > previous, "one product per expert, in expert order");
          previous = call[0];
          rows += call[1];
        }
        assertEquals(t * c.topK(), rows, "dropless: every token's k assignments are computed");
        assertEquals(calls1.size(), calls2.size());
        if (capacityFactor == 0) {
          assertEquals(0, dropped);
          assertArrayEquals(forward, infer, "same routing, dispatch, products and combine as forward");
        } else {
          assertTrue(dropped > 0, "the capacity factor should drop assignments in the training forward");
        }
      }
    }
  }
}
