package dev.iteralite.optim;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.iteralite.backend.Backend;
import dev.iteralite.backend.Backends;
import dev.iteralite.nn.Init;
import dev.iteralite.nn.Parameter;
import dev.iteralite.nn.ParameterSet;
import dev.iteralite.tensor.DType;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

class AdamWTest {
  /** Two steps of AdamW written out by hand in double, per element. */
  private static double[] expected(double[] p0, double[][] grads, double lr, double wd, double clipScale0, double clipScale1) {
    double b1 = 0.9;
    double b2 = 0.95;
    double eps = 1e-8;
    double[] p = p0.clone();
    double[] m = new double[p.length];
    double[] v = new double[p.length];
    double[] scales = {clipScale0, clipScale1};
    for (int t = 1; t <= grads.length; t++) {
      for (int i = 0; i < p.length; i++) {
        double g = grads[t - 1][i] * scales[t - 1];
        m[i] = b1 * m[i] + (1 - b1) * g;
        v[i] = b2 * v[i] + (1 - b2) * g * g;
        double mh = m[i] / (1 - Math.pow(b1, t));
        double vh = v[i] / (1 - Math.pow(b2, t));
        p[i] -= lr * (mh / (Math.sqrt(vh) + eps) + wd * p[i]);
      }
    }
    return p;
  }

  @ParameterizedTest
  @ValueSource(strings = {"reference", "cpu"})
  void matchesHandWrittenUpdateWithDecayGroupsAndClipping(String backendName) {
    Backend backend = backendName.equals("cpu") ? Backends.cpu() : Backends.reference();
    ParameterSet.Builder b = ParameterSet.builder();
    Parameter w = b.add("w", Init.constant(0.5), true, 3);
    Parameter n = b.add("n", Init.constant(1.0), false, 2);
    double[][] gw = {{0.1, -0.2, 0.3}, {1.0, 2.0, -2.0}};
    double[][] gn = {{0.05, 0.0}, {-1.0, 0.5}};
    try (ParameterSet ps = b.build(DType.F32, 0);
        AdamW opt = new AdamW(backend, ps, new AdamW.Config(0.9, 0.95, 1e-8, 0.1, 2.0))) {
      double[] norms = new double[2];
      for (int step = 0; step < 2; step++) {
        ps.zeroGrads(backend);
        w.grad().copyFrom(gw[step]);
        n.grad().copyFrom(gn[step]);
        norms[step] = opt.step(1e-2, 1.0);
      }
      double norm0 = Math.sqrt(0.01 + 0.04 + 0.09 + 0.0025);
      double norm1 = Math.sqrt(1 + 4 + 4 + 1 + 0.25);
      assertEquals(norm0, norms[0], 1e-6);
      assertEquals(norm1, norms[1], 1e-5);
      double clip1 = 2.0 / norm1; // second step exceeds maxGradNorm = 2
      assertArrayEquals(expected(new double[] {0.5, 0.5, 0.5}, gw, 1e-2, 0.1, 1, clip1), w.value().toDoubleArray(), 1e-6);
      assertArrayEquals(expected(new double[] {1, 1}, gn, 1e-2, 0.0, 1, clip1), n.value().toDoubleArray(), 1e-6);
      assertEquals(2, opt.stepCount());
    }
  }

  @Test
  void nonFiniteGradientLeavesParametersUntouched() {
    Backend backend = Backends.cpu();
    ParameterSet.Builder b = ParameterSet.builder();
    Parameter w = b.add("w", Init.constant(0.5), true, 4);
    try (ParameterSet ps = b.build(DType.F32, 0); AdamW opt = new AdamW(backend, ps, AdamW.Config.defaults())) {
      w.grad().copyFrom(new double[] {1, Double.NaN, 0, 0});
      ArithmeticException e = assertThrows(ArithmeticException.class, () -> opt.step(1e-3, 1));
      assertEquals(true, e.getMessage().contains("gradient norm"));
      assertArrayEquals(new double[] {0.5, 0.5, 0.5, 0.5}, w.value().toDoubleArray());
      assertEquals(0, opt.stepCount());
    }
  }

  @Test
  void warmupCosineSchedule() {
    LearningRateSchedule s = LearningRateSchedule.warmupCosine(1.0, 10, 110, 0.1);
    assertEquals(0.1, s.at(0), 1e-12);
    assertEquals(1.0, s.at(9), 1e-12);
    assertEquals(1.0, s.at(10), 1e-12);
    assertEquals(0.55, s.at(60), 1e-12);
    assertEquals(0.1, s.at(110), 1e-12);
    assertEquals(0.1, s.at(5000), 1e-12);
    assertThrows(IllegalArgumentException.class, () -> LearningRateSchedule.warmupCosine(1, 10, 10, 0));
  }
}
