package dev.iteralite.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.iteralite.backend.Activation;
import dev.iteralite.backend.Backend;
import dev.iteralite.backend.Backends;
import dev.iteralite.nn.ActivationLayer;
import dev.iteralite.nn.Embedding;
import dev.iteralite.nn.LayerNorm;
import dev.iteralite.nn.Linear;
import dev.iteralite.nn.LmHeadLoss;
import dev.iteralite.nn.ParameterSet;
import dev.iteralite.nn.RMSNorm;
import dev.iteralite.nn.Residual;
import dev.iteralite.nn.Sequential;
import dev.iteralite.optim.AdamW;
import dev.iteralite.tensor.Arena;
import dev.iteralite.tensor.DType;
import dev.iteralite.tensor.Tensor;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * A small model (embedding, residual MLP blocks with both norms and two activations, tied fused
 * LM-head loss) trained for a few AdamW steps on the native CPU backend and on the reference
 * backend from the same initial parameters: losses, gradients and updated parameters must agree.
 */
class CrossBackendModelTest {
  private static final int VOCAB = 97;
  private static final int DIM = 24;
  private static final int TOKENS = 67;

  private record Model(Sequential net, LmHeadLoss head, ParameterSet params) {}

  private static Model build(Backend backend) {
    ParameterSet.Builder b = ParameterSet.builder();
    Embedding emb = new Embedding(backend, b, "emb", VOCAB, DIM);
    Sequential net =
        new Sequential(
            List.of(
                emb,
                new Residual(
                    backend,
                    new Sequential(
                        List.of(
                            new RMSNorm(backend, b, "b0.norm", DIM, 1e-5f),
                            new Linear(backend, b, "b0.up", DIM, 40, true),
                            new ActivationLayer(backend, Activation.SILU),
                            new Linear(backend, b, "b0.down", 40, DIM, false)))),
                new Residual(
                    backend,
                    new Sequential(
                        List.of(
                            new LayerNorm(backend, b, "b1.norm", DIM, 1e-5f),
                            new Linear(backend, b, "b1.up", DIM, 33, false),
                            new ActivationLayer(backend, Activation.GELU),
                            new Linear(backend, b, "b1.down", 33, DIM, true)))),
                new RMSNorm(backend, b, "final", DIM, 1e-5f)));
    ParameterSet params = b.build(DType.F32, 2024);
    return new Model(net, new LmHeadLoss(backend, emb.table()), params);
  }

  private static double step(Model m, Backend backend, int[] ids, int[] targets) {
    try (Arena arena = Arena.open()) {
      m.params().zeroGrads(backend);
      Tensor h = m.net().forward(arena.adopt(Tensor.ofInts(ids, ids.length)), arena);
      Tensor dh = arena.allocate(DType.F32, h.shape());
      double loss = m.head().forwardBackward(h, arena.adopt(Tensor.ofInts(targets, targets.length)), dh, arena);
      m.net().backward(dh, arena);
      return loss;
    }
  }

  private static double normalisedError(double[] actual, double[] expected) {
    double num = 0;
    double den = 0;
    for (int i = 0; i < actual.length; i++) {
      double d = actual[i] - expected[i];
      num += d * d;
      den += expected[i] * expected[i];
    }
    return num / Math.max(den, 1e-300);
  }

  @Test
  void cpuAndReferenceTrainTheSameModel() {
    Backend cpu = Backends.cpu();
    Backend ref = Backends.reference();
    Model a = build(cpu);
    Model b = build(ref);
    try (ParameterSet pa = a.params();
        ParameterSet pb = b.params();
        AdamW oa = new AdamW(cpu, pa, AdamW.Config.defaults());
        AdamW ob = new AdamW(ref, pb, AdamW.Config.defaults())) {
      SplittableRandom r = new SplittableRandom(3);
      for (int s = 0; s < 4; s++) {
        int[] ids = r.ints(TOKENS, 0, VOCAB).toArray();
        int[] targets = r.ints(TOKENS, 0, VOCAB).toArray();
        targets[5] = LmHeadLoss.IGNORE_INDEX;
        double la = step(a, cpu, ids, targets);
        double lb = step(b, ref, ids, targets);
        assertEquals(lb, la, 1e-5 * Math.abs(lb), "loss at step " + s);
        double gradError = normalisedError(pa.grads().toDoubleArray(), pb.grads().toDoubleArray());
        assertTrue(gradError < 1e-9, "gradient normalised error " + gradError + " at step " + s);
        oa.step(1e-2, 1.0);
        ob.step(1e-2, 1.0);
        double paramError = normalisedError(pa.values().toDoubleArray(), pb.values().toDoubleArray());
        assertTrue(paramError < 1e-10, "parameter normalised error " + paramError + " after step " + s);
      }
    }
  }
}
