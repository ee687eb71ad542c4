package dev.iteralite.compress;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.iteralite.backend.Backends;
import dev.iteralite.model.IteraLiteConfig;
import dev.iteralite.model.IteraLiteModel;
import dev.iteralite.model.PrecisionPlan;
import dev.iteralite.model.QuantizedModel;
import dev.iteralite.quant.WeightFormat;
import dev.iteralite.tensor.DType;
import dev.iteralite.tensor.Tensor;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class MixedPrecisionSearchTest {
  private static final int VOCAB = 64;

  private static IteraLiteModel model() {
    IteraLiteConfig c = IteraLiteConfig.builder(VOCAB, 64, 2).ffnHidden(128).dtRank(4).build();
    return new IteraLiteModel(Backends.cpu(), c, DType.F32, 3);
  }

  private static int[] tokens(int n, long seed) {
    SplittableRandom r = new SplittableRandom(seed);
    int[] t = new int[n];
    for (int i = 0; i < n; i++) {
      t[i] = r.nextInt(VOCAB);
    }
    return t;
  }

  @Test
  void planRulesPickTheFirstMatchAndTheFallback() {
    PrecisionPlan p = PrecisionPlan.builder(WeightFormat.Q8_0).rule("embed\\.weight", WeightFormat.INT8)
        .rule(".*\\.moe\\..*", WeightFormat.Q4_0).rule(".*\\.mixer\\..*", WeightFormat.F32).build();
    assertEquals(WeightFormat.INT8, p.formatOf("embed.weight"));
    assertEquals(WeightFormat.Q4_0, p.formatOf("blocks.1.moe.w1.3"));
    assertEquals(WeightFormat.F32, p.formatOf("blocks.0.mixer.in_proj.weight"));
    assertEquals(WeightFormat.Q8_0, p.formatOf("blocks.0.ffn.w2.weight"));
    assertThrows(IllegalArgumentException.class, () -> PrecisionPlan.builder(WeightFormat.Q8_0).rule("(", WeightFormat.F32));
    try (IteraLiteModel m = model(); QuantizedModel q = QuantizedModel.quantize(m, p)) {
      assertEquals(WeightFormat.INT8, q.formatOf("embed.weight"));
      assertEquals(WeightFormat.F32, q.formatOf("blocks.1.mixer.out_proj.weight"));
      assertEquals(WeightFormat.Q8_0, q.formatOf("blocks.1.ffn.w3.weight"));
      assertTrue(q.keptF32().contains("blocks.1.mixer.out_proj.weight"));
    }
  }

  @Test
  void sizeTargetIsMetWithTheLowFormatWhereItCostsLeast() {
    try (IteraLiteModel m = model()) {
      int[] in = tokens(4 * 32, 1);
      int[] tgt = tokens(4 * 32, 2);
      long highBytes;
      try (QuantizedModel q = QuantizedModel.quantize(m, WeightFormat.Q8_0)) {
        highBytes = q.weightBytes();
      }
      long goal = highBytes * 85 / 100;
      MixedPrecisionSearch.Result r = MixedPrecisionSearch.search(m, WeightFormat.Q8_0, WeightFormat.Q4_0,
          MixedPrecisionSearch.Target.size(goal), in, tgt, 4);
      assertTrue(r.targetMet(), r.toString());
      assertTrue(r.bytes() <= goal && r.bytes() < r.highBytes());
      assertTrue(!r.lowered().isEmpty() && r.lowered().size() < r.sensitivities().size());
      try (QuantizedModel q = QuantizedModel.quantize(m, r.plan())) {
        assertEquals(r.bytes(), q.weightBytes());
        for (String n : r.lowered()) {
          assertEquals(WeightFormat.Q4_0, q.formatOf(n), n);
        }
        assertEquals(r.loss(), q.loss(in, tgt, 4), 1e-12);
      }
      // the dt projection (K = 4) cannot take 32-weight blocks, so it is never a candidate
      assertTrue(r.sensitivities().stream().noneMatch(s -> s.name().contains("dt_proj")));
    }
  }

  @Test
  void aZeroLossBudgetLowersOnlyHarmlessMatrices() {
    try (IteraLiteModel m = model()) {
      Tensor w2 = m.parameters().get("blocks.1.ffn.w2.weight").value();
      w2.copyFrom(new double[(int) w2.size()]); // an all-zero matrix quantises exactly
      int[] in = tokens(2 * 32, 3);
      int[] tgt = tokens(2 * 32, 4);
      MixedPrecisionSearch.Result r = MixedPrecisionSearch.search(m, WeightFormat.F32, WeightFormat.Q4_0,
          MixedPrecisionSearch.Target.lossIncrease(0), in, tgt, 2);
      assertTrue(r.lowered().contains("blocks.1.ffn.w2.weight"), r.lowered().toString());
      assertTrue(r.loss() <= r.baseLoss(), r.loss() + " vs " + r.baseLoss());
      MixedPrecisionSearch.Sensitivity zero = r.sensitivities().stream()
          .filter(s -> s.name().equals("blocks.1.ffn.w2.weight")).findFirst().orElseThrow();
      assertEquals(0.0, zero.lossIncrease(), 0.0);
    }
  }

  @Test
  void badSearchesAreRejected() {
    try (IteraLiteModel m = model()) {
      int[] t = tokens(32, 1);
      assertThrows(IllegalArgumentException.class, () -> MixedPrecisionSearch.search(m, WeightFormat.Q4_0, WeightFormat.Q8_0,
          MixedPrecisionSearch.Target.size(1000), t, t, 1));
      assertThrows(IllegalArgumentException.class, () -> MixedPrecisionSearch.search(m, WeightFormat.Q8_0, WeightFormat.Q4_0,
          MixedPrecisionSearch.Target.size(1000), t, new int[5], 1));
      assertThrows(IllegalArgumentException.class, () -> new MixedPrecisionSearch.Target(0, Double.POSITIVE_INFINITY));
      assertThrows(IllegalArgumentException.class, () -> MixedPrecisionSearch.Target.lossIncrease(-1));
    }
  }
}
