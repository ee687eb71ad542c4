package dev.iteralite.nn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.iteralite.backend.Backend;
import dev.iteralite.backend.Backends;
import dev.iteralite.tensor.Arena;
import dev.iteralite.tensor.DType;
import dev.iteralite.tensor.Tensor;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * {@link CausalSelfAttention} (projections, RoPE, causal grouped-query attention, output projection):
 * float64 gradients of the input and of every weight against central finite differences on the
 * reference backend, for one sequence and for a batch of sequences, with and without grouping; and
 * the CPU backend agrees with the reference.
 */
class AttentionGradientTest {
  private final Backend ref = Backends.reference();

  private static Tensor randomInput(long[] shape, long seed, double scale) {
    SplittableRandom r = new SplittableRandom(seed);
    long n = 1;
    for (long s : shape) {
      n *= s;
    }
    double[] v = new double[Math.toIntExact(n)];
    for (int i = 0; i < v.length; i++) {
      v[i] = (r.nextDouble() * 2 - 1) * scale;
    }
    return Tensor.ofDoubles(v, shape);
  }

  private void check(int dim, int heads, int kvHeads, long... inputShape) {
    ParameterSet.Builder b = ParameterSet.builder();
    // Larger weights than a model's init, so the softmax is far from uniform and every term matters.
    CausalSelfAttention attn = new CausalSelfAttention(ref, b, "attn", dim, heads, kvHeads, 0.5, 0.3);
    try (ParameterSet params = b.build(DType.F64, 17); Tensor x = randomInput(inputShape, 3, 1.0)) {
      List<GradientChecker.Result> results = new GradientChecker().check(attn, params, x);
      assertTrue(results.size() == 5, "input + 4 weights: " + results);
      for (GradientChecker.Result r : results) {
        assertTrue(r.checked() > 0, r.tensor() + ": no element checked");
        assertTrue(r.passed(), () -> "gradient mismatch in " + r);
      }
    }
  }

  @Test
  void oneSequenceMultiHead() {
    check(12, 3, 3, 7, 12);
  }

  @Test
  void batchOfSequencesGroupedQuery() {
    // [batch 2, L 5, D 16]: 4 query heads of 4 sharing 2 key/value heads; positions restart per sequence
    check(16, 4, 2, 2, 5, 16);
  }

  @Test
  void singleKeyValueHead() {
    check(8, 2, 1, 3, 4, 8);
  }

  /**
   * Weights that are not adjacent in memory (a spacer between them) take the three-GEMM path; it
   * passes the gradient check and agrees with the fused single-GEMM path on the same values.
   */
  @Test
  void separateAndFusedProjectionsAgree() {
    int dim = 16;
    int kv = 8;
    ParameterSet.Builder bs = ParameterSet.builder();
    Parameter q = bs.add("wq", Init.normal(0.4), true, dim, dim);
    bs.add("spacer1", Init.zeros(), false, 3);
    Parameter k = bs.add("wk", Init.normal(0.4), true, kv, dim);
    bs.add("spacer2", Init.zeros(), false, 5);
    Parameter v = bs.add("wv", Init.normal(0.4), true, kv, dim);
    Parameter o = bs.add("wo", Init.normal(0.4), true, dim, dim);
    CausalSelfAttention separate = new CausalSelfAttention(ref, q, k, v, o, 4, 2);
    ParameterSet.Builder bf = ParameterSet.builder();
    CausalSelfAttention fused = new CausalSelfAttention(ref, bf, "a", dim, 4, 2, 0.4, 0.4);
    try (ParameterSet ps = bs.build(DType.F64, 4); ParameterSet pf = bf.build(DType.F64, 5);
        Tensor x = randomInput(new long[] {2, 6, dim}, 6, 1.0)) {
      assertTrue(pf.get("a.wk").offset() == pf.get("a.wq").offset() + dim * dim, "fused layout expected");
      for (GradientChecker.Result r : new GradientChecker().check(separate, ps, x)) {
        assertTrue(r.passed(), () -> "gradient mismatch in " + r);
      }
      for (String n : new String[] {"wq", "wk", "wv", "wo"}) {
        pf.get("a." + n).value().copyFrom(ps.get(n).value().toDoubleArray());
      }
      try (Arena arena = Arena.open()) {
        ps.zeroGrads(ref);
        pf.zeroGrads(ref);
        Tensor ys = separate.forward(x, arena);
        Tensor yf = fused.forward(x, arena);
        assertArrayEquals(ys.toDoubleArray(), yf.toDoubleArray(), 1e-12);
        Tensor dy = randomInput(new long[] {2, 6, dim}, 7, 1.0);
        arena.adopt(dy);
        assertArrayEquals(separate.backward(dy, arena).toDoubleArray(), fused.backward(dy, arena).toDoubleArray(), 1e-12);
        for (String n : new String[] {"wq", "wk", "wv", "wo"}) {
          assertArrayEquals(ps.get(n).grad().toDoubleArray(), pf.get("a." + n).grad().toDoubleArray(), 1e-12, n);
        }
      }
    }
  }

  @Test
  void cpuBackendMatchesReference() {
    int dim = 32;
    ParameterSet.Builder bc = ParameterSet.builder();
    CausalSelfAttention cpu = new CausalSelfAttention(Backends.cpu(), bc, "a", dim, 4, 2, 0.2, 0.2);
    ParameterSet.Builder br = ParameterSet.builder();
    CausalSelfAttention rf = new CausalSelfAttention(ref, br, "a", dim, 4, 2, 0.2, 0.2);
    try (ParameterSet pc = bc.build(DType.F32, 5); ParameterSet pr = br.build(DType.F32, 5);
        Arena arena = Arena.open()) {
      Tensor x = f32(arena, randomInput(new long[] {3 * 9, dim}, 8, 1.0));
      Tensor yc = cpu.forward(x, 3, arena);
      Tensor yr = rf.forward(x, 3, arena);
      assertClose(yr.toFloatArray(), yc.toFloatArray(), 1e-5);
      Tensor dy = f32(arena, randomInput(new long[] {3 * 9, dim}, 9, 1.0));
      pc.zeroGrads(Backends.cpu());
      pr.zeroGrads(ref);
      assertClose(rf.backward(dy, arena).toFloatArray(), cpu.backward(dy, arena).toFloatArray(), 1e-5);
      for (Parameter p : pr.parameters()) {
        assertClose(p.grad().toFloatArray(), pc.get(p.name()).grad().toFloatArray(), 1e-5);
      }
    }
  }

  private static Tensor f32(Arena arena, Tensor f64) {
    try (f64) {
      Tensor t = arena.allocate(DType.F32, f64.shape());
      t.copyFrom(f64.toDoubleArray());
      return t;
    }
  }

  private static void assertClose(float[] expected, float[] actual, double tol) {
    double scale = 0;
    for (float v : expected) {
      scale = Math.max(scale, Math.abs(v));
    }
    for (int i = 0; i < expected.length; i++) {
      assertTrue(Math.abs(expected[i] - actual[i]) <= tol * (1 + scale), "element " + i + ": " + expected[i] + " vs " + actual[i]);
    }
  }

  @Test
  void rejectsBadShapes() {
    ParameterSet.Builder b = ParameterSet.builder();
    assertThrows(IllegalArgumentException.class, () -> new CausalSelfAttention(ref, b, "a", 12, 5, 5, 0.02, 0.02));
    assertThrows(IllegalArgumentException.class, () -> new CausalSelfAttention(ref, b, "b", 12, 4, 3, 0.02, 0.02));
    assertThrows(IllegalArgumentException.class, () -> new CausalSelfAttention(ref, b, "c", 12, 4, 4, 0.02, 0.02));
    CausalSelfAttention ok = new CausalSelfAttention(ref, b, "d", 8, 2, 1, 0.02, 0.02);
    try (ParameterSet p = b.build(DType.F64, 1); Arena arena = Arena.open()) {
      assertArrayEquals(new long[] {4, 8}, p.get("d.wk").shape());
      Tensor x = arena.allocate(DType.F64, 6, 8);
      assertThrows(IllegalArgumentException.class, () -> ok.forward(x, 4, arena));
      assertThrows(IllegalArgumentException.class, () -> ok.forward(arena.allocate(DType.F64, 6, 7), 1, arena));
    }
  }
}
