package dev.iteralite.nn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.iteralite.backend.Backend;
import dev.iteralite.backend.Backends;
import dev.iteralite.tensor.Arena;
import dev.iteralite.tensor.DType;
import dev.iteralite.tensor.Tensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.DoubleSupplier;
import org.junit.jupiter.api.Test;

/**
 * The whole {@link MixtureOfExperts} layer on the reference backend: float64 finite differences of
 * output plus auxiliary losses against the analytic backward (input, router and every expert
 * matrix), capacity drops, counts and configuration errors.
 */
class MixtureOfExpertsTest {
  private final Backend ref = Backends.reference();

  private static double[] uniform(int n, SplittableRandom r, double scale) {
    double[] v = new double[n];
    for (int i = 0; i < n; i++) {
      v[i] = (r.nextDouble() * 2 - 1) * scale;
    }
    return v;
  }

  /** Router probabilities [T, E] of input x (row-major doubles), computed independently of the layer. */
  private static double[] routerProbs(Tensor x, Parameter router) {
    int t = (int) x.dim(0);
    int d = (int) x.dim(1);
    int e = (int) router.shape()[0];
    double[] xv = x.toDoubleArray();
    double[] wv = router.value().toDoubleArray();
    double[] p = new double[t * e];
    for (int r = 0; r < t; r++) {
      double max = Double.NEGATIVE_INFINITY;
      for (int i = 0; i < e; i++) {
        double l = 0;
        for (int c = 0; c < d; c++) {
          l += xv[r * d + c] * wv[i * d + c];
        }
        p[r * e + i] = l;
        max = Math.max(max, l);
      }
      double s = 0;
      for (int i = 0; i < e; i++) {
        p[r * e + i] = Math.exp(p[r * e + i] - max);
        s += p[r * e + i];
      }
      for (int i = 0; i < e; i++) {
        p[r * e + i] /= s;
      }
    }
    return p;
  }

  /** Smallest gap, over tokens, between the k-th and (k+1)-th largest router probability. */
  private static double topKMargin(double[] p, int e, int k) {
    if (k == e) {
      return Double.POSITIVE_INFINITY;
    }
    double margin = Double.POSITIVE_INFINITY;
    for (int r = 0; r < p.length / e; r++) {
      double[] row = Arrays.copyOfRange(p, r * e, (r + 1) * e);
      Arrays.sort(row);
      margin = Math.min(margin, row[e - k] - row[e - k - 1]);
    }
    return margin;
  }

  /**
   * Checks d(sum(out * R) + auxLoss)/d(everything) of a fresh layer against central differences,
   * on an input whose routing has no near-tie (so the top-k choice is locally constant and the
   * loss differentiable).
   */
  private void checkWholeLayer(MoeConfig cfg, int tokens, long seed) {
    ParameterSet.Builder b = ParameterSet.builder();
    MixtureOfExperts moe = new MixtureOfExperts(ref, b, "moe", cfg);
    try (ParameterSet params = b.build(DType.F64, seed)) {
      SplittableRandom rnd = new SplittableRandom(seed);
      Tensor x = null;
      for (int attempt = 0; attempt < 200 && x == null; attempt++) {
        Tensor candidate = Tensor.ofDoubles(uniform(tokens * (int) cfg.dModel(), rnd, 2.0), tokens, cfg.dModel());
        double margin = topKMargin(routerProbs(candidate, moe.routerWeight()), cfg.experts(), cfg.topK());
        if (margin > 1e-3) {
          x = candidate;
        } else {
          candidate.close();
        }
      }
      assertTrue(x != null, "no input without a near-tie in the routing was found");
      Tensor input = x;
      try (input; Arena arena = Arena.open()) {
        params.zeroGrads(ref);
        Tensor out = moe.forward(input, arena);
        double[] projection = uniform((int) out.size(), rnd, 1.0);
        Tensor dOut = arena.allocate(DType.F64, out.shape());
        dOut.copyFrom(projection);
        double[] dx = moe.backward(dOut, arena).toDoubleArray();
        assertTrue(moe.auxLoss() > 0, "the auxiliary losses are active in this check");
        DoubleSupplier loss = () -> {
          try (Arena a = Arena.open()) {
            Tensor o = moe.forward(input, a);
            double s = moe.auxLoss();
            for (int i = 0; i < projection.length; i++) {
              s += o.getDoubleAt(i) * projection[i];
            }
            return s;
          }
        };
        GradientChecker checker = new GradientChecker().tolerances(1e-5, 1e-8).maxElementsPerTensor(40);
        List<GradientChecker.Result> results = new ArrayList<>();
        results.add(checker.checkScalar("input", input, dx, loss));
        for (Parameter p : params.parameters()) {
          results.add(checker.checkScalar(p.name(), p.value(), p.grad().toDoubleArray(), loss));
        }
        assertEquals(moe.parameters().size() + 1, results.size());
        for (GradientChecker.Result r : results) {
          assertTrue(r.checked() > 0, r.tensor() + ": nothing checked");
          assertTrue(r.passed(), () -> cfg + ": gradient mismatch in " + r);
        }
      }
    }
  }

  @Test
  void gradientSwigluTop2Dropless() {
    checkWholeLayer(MoeConfig.builder(6, 5, 4).balanceWeight(0.5).zLossWeight(0.2).build(), 9, 1);
  }

  @Test
  void gradientSwigluTop3WithCapacityDrops() {
    // C = ceil(0.6 * 3 * 9 / 5) = 4 per expert: at most 20 of the 27 assignments survive.
    MoeConfig cfg = MoeConfig.builder(5, 4, 5).topK(3).capacityFactor(0.6).balanceWeight(0.3).zLossWeight(0.1).build();
    assertEquals(4, cfg.capacity(9));
    checkWholeLayer(cfg, 9, 2);
  }

  @Test
  void gradientGeluTop1() {
    checkWholeLayer(
        MoeConfig.builder(7, 6, 3).topK(1).expertKind(MoeConfig.ExpertKind.GELU).balanceWeight(0.5).zLossWeight(0.2).build(),
        8, 3);
  }

  @Test
  void gradientAllExpertsSelected() {
    checkWholeLayer(MoeConfig.builder(4, 3, 3).topK(3).balanceWeight(0.5).zLossWeight(0.2).build(), 5, 4);
  }

  @Test
  void capacityDropsExactlyTheLaterTokensOfFullExpertsAndCountsAreKept() {
    MoeConfig cfg = MoeConfig.builder(4, 3, 2).topK(1).capacityFactor(0.5).build();
    ParameterSet.Builder b = ParameterSet.builder();
    MixtureOfExperts moe = new MixtureOfExperts(ref, b, "moe", cfg);
    int t = 12;
    long cap = cfg.capacity(t); // ceil(0.5 * 12 / 2) = 3
    assertEquals(3, cap);
    try (ParameterSet params = b.build(DType.F64, 5);
        Tensor x = Tensor.ofDoubles(uniform(t * 4, new SplittableRandom(9), 2.0), t, 4);
        Arena arena = Arena.open()) {
      double[] p = routerProbs(x, moe.routerWeight());
      Tensor out = moe.forward(x, arena);
      int[] seen = new int[2];
      int dropped = 0;
      for (int r = 0; r < t; r++) {
        int e = p[r * 2 + 1] > p[r * 2] ? 1 : 0;
        boolean keep = seen[e]++ < cap;
        double norm = 0;
        for (int c = 0; c < 4; c++) {
          norm += Math.abs(out.getDouble(r, c));
        }
        if (keep) {
          assertTrue(norm > 0, "token " + r + " was kept and has expert output");
        } else {
          dropped++;
          assertEquals(0.0, norm, "token " + r + " overflowed expert " + e + " and must get zero output");
        }
      }
      assertTrue(dropped > 0, "this input must overflow an expert");
      assertEquals(dropped, moe.lastDroppedCount());
      assertArrayEquals(seen, moe.lastRoutedCounts());
      assertArrayEquals(new int[] {(int) Math.min(seen[0], cap), (int) Math.min(seen[1], cap)}, moe.lastKeptCounts());
      moe.forward(x, arena);
      assertArrayEquals(new long[] {2L * seen[0], 2L * seen[1]}, moe.cumulativeRoutedCounts());
      moe.resetCounts();
      assertArrayEquals(new long[] {0, 0}, moe.cumulativeRoutedCounts());
    }
  }

  @Test
  void balanceLossIsAlphaAtUniformRouting() {
    // A zero router gives p = 1/E everywhere; with E = 4, k = 4 every expert gets f = 1/4.
    MoeConfig cfg = MoeConfig.builder(3, 2, 4).topK(4).balanceWeight(0.01).zLossWeight(0.001).build();
    ParameterSet.Builder b = ParameterSet.builder();
    MixtureOfExperts moe = new MixtureOfExperts(ref, b, "moe", cfg);
    try (ParameterSet params = b.build(DType.F64, 1);
        Tensor x = Tensor.ofDoubles(uniform(15, new SplittableRandom(2), 1.0), 5, 3);
        Arena arena = Arena.open()) {
      moe.routerWeight().value().fill(0);
      moe.forward(x, arena);
      assertEquals(0.01, moe.balanceLoss(), 1e-15);
      assertEquals(0.001 * Math.log(4) * Math.log(4), moe.zLoss(), 1e-15);
      assertEquals(moe.balanceLoss() + moe.zLoss(), moe.auxLoss(), 0);
    }
  }

  @Test
  void tiedRoutingGoesToTheLowestExpertsDeterministically() {
    // A zero router ties every expert for every token: top-2 must pick experts 0 and 1, each
    // with weight 1/2, on every run.
    MoeConfig cfg = MoeConfig.builder(3, 2, 4).topK(2).build();
    ParameterSet.Builder b = ParameterSet.builder();
    MixtureOfExperts moe = new MixtureOfExperts(ref, b, "moe", cfg);
    try (ParameterSet params = b.build(DType.F64, 1);
        Tensor x = Tensor.ofDoubles(uniform(18, new SplittableRandom(3), 1.0), 6, 3);
        Arena arena = Arena.open()) {
      moe.routerWeight().value().fill(0);
      for (int run = 0; run < 2; run++) {
        moe.forward(x, arena);
        assertArrayEquals(new int[] {6, 6, 0, 0}, moe.lastRoutedCounts());
      }
    }
  }

  @Test
  void badConfigurationAndInputsAreRejected() {
    assertThrows(IllegalArgumentException.class, () -> MoeConfig.builder(4, 4, 2).topK(3).build());
    assertThrows(IllegalArgumentException.class, () -> MoeConfig.builder(0, 4, 2).build());
    assertThrows(IllegalArgumentException.class, () -> MoeConfig.builder(4, 4, 2).balanceWeight(-1).build());
    assertThrows(IllegalArgumentException.class, () -> MoeConfig.builder(4, 4, 2).capacityFactor(Double.NaN).build());
    ParameterSet.Builder b = ParameterSet.builder();
    MixtureOfExperts moe = new MixtureOfExperts(ref, b, "moe", MoeConfig.builder(4, 3, 2).build());
    try (ParameterSet params = b.build(DType.F64, 1); Arena arena = Arena.open()) {
      assertThrows(IllegalStateException.class, () -> moe.backward(arena.allocate(DType.F64, 2, 4), arena));
      assertThrows(IllegalStateException.class, moe::lastRoutedCounts);
      assertThrows(IllegalArgumentException.class, () -> moe.forward(arena.allocate(DType.F64, 0, 4), arena));
      IllegalArgumentException ex =
          assertThrows(IllegalArgumentException.class, () -> moe.forward(arena.allocate(DType.F64, 2, 5), arena));
      assertTrue(ex.getMessage().contains("[rows, 4]"), ex.getMessage());
      moe.forward(arena.allocate(DType.F64, 3, 4), arena);
      ex = assertThrows(IllegalArgumentException.class, () -> moe.backward(arena.allocate(DType.F64, 2, 4), arena));
      assertTrue(ex.getMessage().contains("3 tokens"), ex.getMessage());
    }
  }
}
