package dev.iteralite.nn;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.iteralite.backend.Activation;
import dev.iteralite.backend.Backend;
import dev.iteralite.backend.Backends;
import dev.iteralite.tensor.Arena;
import dev.iteralite.tensor.DType;
import dev.iteralite.tensor.Tensor;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.BiFunction;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** Every layer's backward against float64 finite differences on the reference backend. */
class LayerGradientTest {
  private final Backend ref = Backends.reference();

  private static Tensor randomInput(long rows, long cols, long seed, double scale) {
    SplittableRandom r = new SplittableRandom(seed);
    double[] v = new double[Math.toIntExact(rows * cols)];
    for (int i = 0; i < v.length; i++) {
      v[i] = (r.nextDouble() * 2 - 1) * scale;
    }
    return Tensor.ofDoubles(v, rows, cols);
  }

  private void assertGradients(BiFunction<Backend, ParameterSet.Builder, Layer> factory, Tensor input) {
    ParameterSet.Builder b = ParameterSet.builder();
    Layer layer = factory.apply(ref, b);
    try (ParameterSet params = b.build(DType.F64, 99); Tensor x = input) {
      List<GradientChecker.Result> results = new GradientChecker().check(layer, params, x);
      assertTrue(results.size() >= 1, "nothing was checked");
      for (GradientChecker.Result r : results) {
        assertTrue(r.checked() > 0, r.tensor() + ": no element checked");
        assertTrue(r.passed(), () -> "gradient mismatch in " + r);
      }
    }
  }

  @Test
  void linearWithBias() {
    assertGradients((be, b) -> new Linear(be, b, "fc", 7, 5, true), randomInput(3, 7, 1, 1));
  }

  @Test
  void linearWithoutBias() {
    assertGradients((be, b) -> new Linear(be, b, "fc", 33, 1, false), randomInput(4, 33, 2, 1));
  }

  @Test
  void embeddingAccumulatesRepeatedIds() {
    assertGradients(
        (be, b) -> new Embedding(be, b, "emb", 11, 6), Tensor.ofInts(new int[] {3, 0, 10, 3, 3, 7, 0, 1, 9}, 9));
  }

  @Test
  void rmsNorm() {
    assertGradients((be, b) -> new RMSNorm(be, b, "norm", 13, 1e-5f), randomInput(4, 13, 3, 2));
  }

  @Test
  void layerNorm() {
    assertGradients((be, b) -> new LayerNorm(be, b, "norm", 13, 1e-5f), randomInput(4, 13, 4, 2));
  }

  @ParameterizedTest
  @EnumSource(Activation.class)
  void activations(Activation f) {
    assertGradients((be, b) -> new ActivationLayer(be, f), randomInput(5, 7, 5, 4));
  }

  @Test
  void softplusAboveThresholdIsIdentity() {
    Tensor x = Tensor.ofDoubles(new double[] {21, 25, 40, -30, 0.5, 19.5}, 2, 3);
    assertGradients((be, b) -> new ActivationLayer(be, Activation.SOFTPLUS), x);
  }

  @Test
  void softmax() {
    assertGradients((be, b) -> new Softmax(be), randomInput(3, 8, 6, 3));
  }

  @Test
  void residualMlpBlock() {
    assertGradients(
        (be, b) ->
            new Residual(
                be,
                new Sequential(
                    List.of(
                        new RMSNorm(be, b, "n", 6, 1e-5f),
                        new Linear(be, b, "up", 6, 10, true),
                        new ActivationLayer(be, Activation.GELU),
                        new Linear(be, b, "down", 10, 6, false)))),
        randomInput(5, 6, 7, 1));
  }

  @Test
  void lmHeadLossGradientsForHiddenAndWeight() {
    ParameterSet.Builder b = ParameterSet.builder();
    Parameter w = b.add("head", Init.normal(0.5), true, 9, 6);
    try (ParameterSet params = b.build(DType.F64, 5);
        Tensor h = randomInput(5, 6, 8, 1);
        Tensor targets = Tensor.ofInts(new int[] {2, LmHeadLoss.IGNORE_INDEX, 8, 0, 2}, 5);
        Arena arena = Arena.open()) {
      LmHeadLoss head = new LmHeadLoss(ref, w);
      Tensor dh = arena.allocate(DType.F64, 5, 6);
      double loss = head.forwardBackward(h, targets, dh, arena);
      assertTrue(loss > 0 && Double.isFinite(loss), "loss " + loss);
      GradientChecker checker = new GradientChecker();
      GradientChecker.Result rh =
          checker.checkScalar("hidden", h, dh.toDoubleArray(), () -> lossOnly(head, h, targets));
      GradientChecker.Result rw =
          checker.checkScalar("head", w.value(), w.grad().toDoubleArray(), () -> lossOnly(head, h, targets));
      assertTrue(rh.passed(), rh::toString);
      assertTrue(rw.passed(), rw::toString);
      // The ignored row gets no gradient at all.
      for (int c = 0; c < 6; c++) {
        assertEquals(0.0, dh.getDouble(1, c));
      }
    }
  }

  private static double lossOnly(LmHeadLoss head, Tensor h, Tensor targets) {
    try (Arena a = Arena.open()) {
      return head.loss(h, targets, a);
    }
  }

  @Test
  void checkerCatchesAWrongGradient() {
    // A layer whose backward is deliberately off by 1% must fail the check: the checker can fail.
    ParameterSet.Builder b = ParameterSet.builder();
    Linear inner = new Linear(ref, b, "fc", 4, 3, false);
    Layer broken =
        new Layer() {
          @Override
          public Tensor forward(Tensor x, Arena arena) {
            return inner.forward(x, arena);
          }

          @Override
          public Tensor backward(Tensor dy, Arena arena) {
            Tensor dx = inner.backward(dy, arena);
            ref.scale(1.01f, dx);
            return dx;
          }

          @Override
          public List<Parameter> parameters() {
            return inner.parameters();
          }
        };
    try (ParameterSet params = b.build(DType.F64, 1); Tensor x = randomInput(2, 4, 9, 1)) {
      List<GradientChecker.Result> results = new GradientChecker().check(broken, params, x);
      assertTrue(!results.get(0).passed(), "a 1% error in dx went unnoticed: " + results.get(0));
      assertTrue(results.get(1).passed(), "the weight gradient is right: " + results.get(1));
    }
  }
}
