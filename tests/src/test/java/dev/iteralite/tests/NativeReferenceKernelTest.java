package dev.iteralite.tests;

import static dev.iteralite.tests.TestTensors.assertClose;
import static dev.iteralite.tests.TestTensors.f64;
import static dev.iteralite.tests.TestTensors.poison;
import static dev.iteralite.tests.TestTensors.random;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.iteralite.backend.Activation;
import dev.iteralite.backend.AdamWStep;
import dev.iteralite.backend.Backends;
import dev.iteralite.backend.CpuBackend;
import dev.iteralite.backend.Isa;
import dev.iteralite.backend.ReferenceBackend;
import dev.iteralite.nativelib.IteraNative;
import dev.iteralite.tensor.Arena;
import dev.iteralite.tensor.DType;
import dev.iteralite.tensor.Tensor;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The C++ scalar specification kernels ({@code itera_X_ref}, called raw through {@link
 * IteraNative}) against the Java double-precision reference, and the fast kernels against them:
 * covers the C++ spec itself, not only the fast paths.
 */
@ExtendWith(RestoresIsa.class)
class NativeReferenceKernelTest {
  static final CpuBackend CPU = Backends.cpu();
  static final ReferenceBackend REF = Backends.reference();
  static final double TOL = 1e-10;


  static java.util.List<Isa> isas() {
    return KernelParityTest.isas();
  }


  /**
   * Outputs larger than the L3 cache (>= 8M floats) take the non-temporal-store path of the add
   * kernel; an output view starting off a cache line exercises its alignment peel and tail.
   */
  @ParameterizedTest
  @MethodSource("isas")
  void addStreamingPathMatchesSpec(Isa isa) {
    CPU.setIsa(isa);
    Random rnd = new Random(77);
    long n = (1L << 23) + 37;
    try (Arena ar = Arena.open()) {
      Tensor a = random(ar, rnd, 2, n);
      Tensor b = random(ar, rnd, 2, n);
      Tensor outBuffer = poison(ar.allocate(DType.F32, n + 3));
      Tensor out = outBuffer.slice(0, 3, n + 3); // 12 bytes past a cache-line boundary
      Tensor expected = poison(ar.allocate(DType.F32, n));
      IteraNative.itera_add_ref(n, a.address(), b.address(), expected.address());
      CPU.add(a, b, out);
      assertClose("add (streaming) isa=" + isa, out, f64(ar, expected), 0.0);
      for (int i = 0; i < 3; i++) {
        assertEquals(Float.NaN, outBuffer.getFloat(i), "the add wrote before its output view (element " + i + ")");
      }
    }
  }

  /**
   * Activation and norm forwards with outputs larger than the L3 cache write with non-temporal
   * stores; outputs that start off a cache line exercise the alignment head and the tail.
   */
  @ParameterizedTest
  @MethodSource("isas")
  void streamingForwardsMatchSpec(Isa isa) {
    CPU.setIsa(isa);
    Random rnd = new Random(79);
    long n = (1L << 23) + 37;
    try (Arena ar = Arena.open()) {
      Tensor x = random(ar, rnd, 4, n);
      for (Activation f : Activation.values()) {
        Tensor yBuffer = poison(ar.allocate(DType.F32, n + 3));
        Tensor y = yBuffer.slice(0, 3, n + 3);
        Tensor expected = poison(ar.allocate(DType.F32, n));
        switch (f) {
          case SILU:
            IteraNative.itera_silu_forward_ref(n, x.address(), expected.address());
            break;
          case GELU:
            IteraNative.itera_gelu_forward_ref(n, x.address(), expected.address());
            break;
          default:
            IteraNative.itera_softplus_forward_ref(n, x.address(), expected.address());
        }
        CPU.activationForward(f, x, y);
        assertClose(f + " forward (streaming) isa=" + isa, y, f64(ar, expected), 1e-12);
        assertEquals(Float.NaN, yBuffer.getFloat(2), f + " wrote before its output view");
      }
    }
    long rows = 2049;
    long cols = 4099;
    try (Arena ar = Arena.open()) {
      Tensor x = random(ar, rnd, 3, rows, cols);
      Tensor w = random(ar, rnd, 1, cols);
      Tensor b = random(ar, rnd, 1, cols);
      // Rows of y start at every alignment: the row stride cols + 2 = 4101 is 5 mod 16 (and mod 8).
      long ld = cols + 2;
      Tensor yBuffer = poison(ar.allocate(DType.F32, rows * ld + 5));
      Tensor y = yBuffer.view(5, new long[] {rows, cols}, new long[] {ld, 1});
      Tensor yRef = poison(ar.allocate(DType.F32, rows, cols));
      Tensor mean = ar.allocate(DType.F32, rows);
      Tensor rstd = ar.allocate(DType.F32, rows);
      Tensor rstdRef = ar.allocate(DType.F32, rows);
      Tensor meanRef = ar.allocate(DType.F32, rows);
      IteraNative.itera_rmsnorm_forward_ref(rows, cols, x.address(), cols, w.address(), 1e-5f, yRef.address(), cols, rstdRef.address());
      CPU.rmsNormForward(x, w, 1e-5f, y, rstd);
      assertClose("rmsnorm forward (streaming) isa=" + isa, y, f64(ar, yRef), 1e-12);
      assertClose("rmsnorm rstd isa=" + isa, rstd, f64(ar, rstdRef), 1e-12);
      IteraNative.itera_layernorm_forward_ref(
          rows, cols, x.address(), cols, w.address(), b.address(), 1e-5f, yRef.address(), cols, meanRef.address(), rstdRef.address());
      CPU.layerNormForward(x, w, b, 1e-5f, y, mean, rstd);
      assertClose("layernorm forward (streaming) isa=" + isa, y, f64(ar, yRef), 1e-12);
      assertClose("layernorm mean isa=" + isa, mean, f64(ar, meanRef), 1e-12);
      for (long r = 0; r < rows; r++) {
        assertEquals(Float.NaN, yBuffer.getFloat(5 + r * ld + cols), "a norm wrote into the gap after row " + r);
        assertEquals(Float.NaN, yBuffer.getFloat(5 + r * ld + cols + 1), "a norm wrote into the gap after row " + r);
      }
    }
  }

  /** Copies above 1 MiB are split across the worker threads; every byte must arrive once. */
  @Test
  void largeCopyIsExact() {
    Random rnd = new Random(78);
    long n = (1L << 22) + 13;
    try (Arena ar = Arena.open()) {
      Tensor src = random(ar, rnd, 5, n);
      Tensor dstBuffer = poison(ar.allocate(DType.F32, n + 1));
      Tensor dst = dstBuffer.slice(0, 1, n + 1);
      CPU.copy(src, dst);
      assertClose("copy of " + n + " floats", dst, f64(ar, src), 0.0);
      assertEquals(Float.NaN, dstBuffer.getFloat(0), "copy wrote before its destination");
    }
  }

  @Test
  void gemmSpec() {
    Random rnd = new Random(31);
    long[][] shapes = {{1, 1, 1, 1}, {3, 1, 33, 17}, {2, 17, 9, 13}, {1, 65, 129, 33}};
    for (long[] s : shapes) {
      for (int t = 0; t < 4; t++) {
        boolean ta = (t & 1) != 0;
        boolean tb = (t & 2) != 0;
        long batch = s[0];
        long m = s[1];
        long n = s[2];
        long k = s[3];
        String label = "sgemm_strided_batched_ref batch=" + batch + " " + m + "x" + n + "x" + k + " ta=" + ta + " tb=" + tb;
        try (Arena ar = Arena.open()) {
          Tensor a = random(ar, rnd, 1, batch, ta ? k : m, ta ? m : k);
          Tensor b = random(ar, rnd, 1, batch, tb ? n : k, tb ? k : n);
          Tensor c = random(ar, rnd, 1, batch, m, n);
          Tensor cFast = f32copy(ar, c);
          Tensor cRef = f64(ar, c);
          IteraNative.itera_sgemm_strided_batched_ref(
              ta ? 1 : 0, tb ? 1 : 0, m, n, k, 0.75f, a.address(), a.dim(2), a.stride(0), b.address(), b.dim(2),
              b.stride(0), 0.5f, c.address(), n, m * n, batch);
          CPU.gemm(ta, tb, 0.75f, a, b, 0.5f, cFast);
          REF.gemm(ta, tb, 0.75f, f64(ar, a), f64(ar, b), 0.5f, cRef);
          assertClose(label + " vs Java", c, cRef, TOL);
          assertClose(label + " vs fast", cFast, c, TOL);
        }
      }
    }
  }

  @ParameterizedTest
  @MethodSource("isas")
  void gemvSpecAndFast(Isa isa) {
    assertEquals(isa, CPU.setIsa(isa));
    Random rnd = new Random(32);
    long[][] shapes = {{1, 1}, {7, 33}, {1031, 65}, {33, 1031}, {4096, 129}};
    for (long[] s : shapes) {
      for (int transW = 0; transW < 2; transW++) {
        long n = s[0];
        long k = s[1];
        String label = "sgemv N=" + n + " K=" + k + " transW=" + transW + " isa=" + isa;
        try (Arena ar = Arena.open()) {
          Tensor w = transW == 1 ? random(ar, rnd, 1, n, k + 2) : random(ar, rnd, 1, k, n + 2);
          long ldw = w.dim(1);
          Tensor x = random(ar, rnd, 1, k);
          Tensor y = random(ar, rnd, 1, n);
          Tensor yFast = f32copy(ar, y);
          Tensor yRow = f64(ar, y).reshape(1, n);
          IteraNative.itera_sgemv_ref(transW, n, k, 1.5f, w.address(), ldw, x.address(), 0.25f, y.address());
          IteraNative.itera_sgemv(transW, n, k, 1.5f, w.address(), ldw, x.address(), 0.25f, yFast.address());
          // Java: y = 1.5 * x (1 x K) * op(W) + 0.25 y
          Tensor wView = transW == 1 ? w.slice(1, 0, k) : w.slice(1, 0, n);
          REF.gemm(false, transW == 1, 1.5f, f64(ar, x).reshape(1, k), f64(ar, wView), 0.25f, yRow);
          assertClose(label + " ref vs Java", y.toDoubleArray(), yRow.toDoubleArray(), TOL);
          assertClose(label + " fast vs ref", yFast, y, TOL);
        }
      }
    }
  }

  @Test
  void rowKernelsSpec() {
    Random rnd = new Random(33);
    long[][] shapes = {{1, 1}, {7, 33}, {3, 1031}};
    for (long[] s : shapes) {
      long r = s[0];
      long c = s[1];
      String label = "R=" + r + " C=" + c;
      try (Arena ar = Arena.open()) {
        Tensor x = random(ar, rnd, 2, r, c);
        Tensor w = random(ar, rnd, 1, c);
        Tensor b = random(ar, rnd, 1, c);
        // rmsnorm
        Tensor y = poison(ar.allocate(DType.F32, r, c));
        Tensor rstd = poison(ar.allocate(DType.F32, r));
        IteraNative.itera_rmsnorm_forward_ref(r, c, x.address(), c, w.address(), 1e-5f, y.address(), c, rstd.address());
        Tensor yRef = ar.allocate(DType.F64, r, c);
        Tensor rstdRef = ar.allocate(DType.F64, r);
        REF.rmsNormForward(f64(ar, x), f64(ar, w), 1e-5f, yRef, rstdRef);
        assertClose("rmsnorm_forward_ref " + label, y, yRef, TOL);
        assertClose("rmsnorm_forward_ref rstd " + label, rstd, rstdRef, TOL);
        Tensor dy = random(ar, rnd, 1, r, c);
        Tensor dx = random(ar, rnd, 1, r, c);
        Tensor dw = random(ar, rnd, 1, c);
        Tensor dxRef = f64(ar, dx);
        Tensor dwRef = f64(ar, dw);
        IteraNative.itera_rmsnorm_backward_ref(
            r, c, dy.address(), c, x.address(), c, w.address(), rstd.address(), dx.address(), c, dw.address());
        REF.rmsNormBackward(f64(ar, dy), f64(ar, x), f64(ar, w), f64(ar, rstd), dxRef, dwRef);
        assertClose("rmsnorm_backward_ref dx " + label, dx, dxRef, TOL);
        assertClose("rmsnorm_backward_ref dw " + label, dw, dwRef, TOL);
        // layernorm
        Tensor mean = poison(ar.allocate(DType.F32, r));
        IteraNative.itera_layernorm_forward_ref(
            r, c, x.address(), c, w.address(), b.address(), 1e-5f, y.address(), c, mean.address(), rstd.address());
        Tensor meanRef = ar.allocate(DType.F64, r);
        REF.layerNormForward(f64(ar, x), f64(ar, w), f64(ar, b), 1e-5f, yRef, meanRef, rstdRef);
        assertClose("layernorm_forward_ref " + label, y, yRef, TOL);
        assertClose("layernorm_forward_ref mean " + label, mean, meanRef, TOL);
        assertClose("layernorm_forward_ref rstd " + label, rstd, rstdRef, TOL);
        Tensor db = random(ar, rnd, 1, c);
        dxRef = f64(ar, dx);
        dwRef = f64(ar, dw);
        Tensor dbRef = f64(ar, db);
        IteraNative.itera_layernorm_backward_ref(
            r, c, dy.address(), c, x.address(), c, w.address(), mean.address(), rstd.address(), dx.address(), c,
            dw.address(), db.address());
        REF.layerNormBackward(f64(ar, dy), f64(ar, x), f64(ar, w), f64(ar, mean), f64(ar, rstd), dxRef, dwRef, dbRef);
        assertClose("layernorm_backward_ref dx " + label, dx, dxRef, TOL);
        assertClose("layernorm_backward_ref dw " + label, dw, dwRef, TOL);
        assertClose("layernorm_backward_ref db " + label, db, dbRef, TOL);
        // softmax
        IteraNative.itera_softmax_forward_ref(r, c, x.address(), c, y.address(), c);
        REF.softmaxForward(f64(ar, x), yRef);
        assertClose("softmax_forward_ref " + label, y, yRef, TOL);
        dxRef = f64(ar, dx);
        IteraNative.itera_softmax_backward_ref(r, c, y.address(), c, dy.address(), c, dx.address(), c);
        REF.softmaxBackward(f64(ar, y), f64(ar, dy), dxRef);
        assertClose("softmax_backward_ref " + label, dx, dxRef, TOL);
      }
    }
  }

  @Test
  void lossSpec() {
    Random rnd = new Random(34);
    int[][] shapes = {{1, 1, 1}, {7, 33, 65}, {9, 64, 1031}};
    for (int[] s : shapes) {
      int t = s[0];
      int c = s[1];
      int v = s[2];
      String label = "T=" + t + " C=" + c + " V=" + v;
      try (Arena ar = Arena.open()) {
        int[] tv = new int[t];
        for (int i = 0; i < t; i++) {
          tv[i] = i == 1 ? -1 : rnd.nextInt(v);
        }
        Tensor tg = ar.adopt(Tensor.ofInts(tv, t));
        Tensor logits = random(ar, rnd, 4, t, v);
        Tensor losses = poison(ar.allocate(DType.F32, t));
        Tensor dl = poison(ar.allocate(DType.F32, t, v));
        assertEquals(
            0,
            IteraNative.itera_cross_entropy_ref(
                t, v, logits.address(), v, tg.address(), -1, 0.5f, losses.address(), dl.address(), v));
        Tensor lossesRef = ar.allocate(DType.F64, t);
        Tensor dlRef = ar.allocate(DType.F64, t, v);
        REF.crossEntropy(f64(ar, logits), tg, -1, 0.5f, lossesRef, dlRef);
        assertClose("cross_entropy_ref losses " + label, losses, lossesRef, TOL);
        assertClose("cross_entropy_ref dlogits " + label, dl, dlRef, TOL);

        Tensor h = random(ar, rnd, 1, t, c);
        Tensor w = random(ar, rnd, 0.5, v, c);
        Tensor dh = random(ar, rnd, 1, t, c);
        Tensor dw = random(ar, rnd, 1, v, c);
        Tensor dhRef = f64(ar, dh);
        Tensor dwRef = f64(ar, dw);
        long block = 4;
        long ws = IteraNative.itera_fused_xent_workspace(t, v, block);
        try (Tensor workspace = Tensor.allocate(DType.F32, Math.max(1, ws))) {
          assertEquals(
              0,
              IteraNative.itera_fused_linear_cross_entropy_ref(
                  t, c, v, h.address(), c, w.address(), c, tg.address(), -1, 0.25f, losses.address(), dh.address(),
                  c, dw.address(), c, block, workspace.address()));
        }
        REF.fusedLinearCrossEntropy(f64(ar, h), f64(ar, w), tg, -1, 0.25f, lossesRef, dhRef, dwRef);
        assertClose("fused_linear_cross_entropy_ref losses " + label, losses, lossesRef, TOL);
        assertClose("fused_linear_cross_entropy_ref dh " + label, dh, dhRef, TOL);
        assertClose("fused_linear_cross_entropy_ref dw " + label, dw, dwRef, TOL);
      }
    }
  }

  @Test
  void pointwiseSpec() {
    Random rnd = new Random(35);
    int n = 1031;
    try (Arena ar = Arena.open()) {
      Tensor x = random(ar, rnd, 25, n);
      Tensor dy = random(ar, rnd, 1, n);
      for (Activation f : Activation.values()) {
        Tensor y = poison(ar.allocate(DType.F32, n));
        Tensor dx = random(ar, rnd, 1, n);
        Tensor dxRef = f64(ar, dx);
        switch (f) {
          case SILU -> {
            IteraNative.itera_silu_forward_ref(n, x.address(), y.address());
            IteraNative.itera_silu_backward_ref(n, x.address(), dy.address(), dx.address());
          }
          case GELU -> {
            IteraNative.itera_gelu_forward_ref(n, x.address(), y.address());
            IteraNative.itera_gelu_backward_ref(n, x.address(), dy.address(), dx.address());
          }
          case SOFTPLUS -> {
            IteraNative.itera_softplus_forward_ref(n, x.address(), y.address());
            IteraNative.itera_softplus_backward_ref(n, x.address(), dy.address(), dx.address());
          }
        }
        Tensor yRef = ar.allocate(DType.F64, n);
        REF.activationForward(f, f64(ar, x), yRef);
        REF.activationBackward(f, f64(ar, x), f64(ar, dy), dxRef);
        assertClose(f + " forward_ref", y, yRef, TOL);
        assertClose(f + " backward_ref", dx, dxRef, TOL);
      }
      Tensor a = random(ar, rnd, 1, n);
      Tensor out = poison(ar.allocate(DType.F32, n));
      IteraNative.itera_add_ref(n, a.address(), dy.address(), out.address());
      Tensor outRef = ar.allocate(DType.F64, n);
      REF.add(f64(ar, a), f64(ar, dy), outRef);
      assertClose("add_ref", out, outRef, TOL);
      Tensor yRef = f64(ar, out);
      IteraNative.itera_axpy_ref(n, 0.3f, a.address(), out.address());
      REF.axpy(0.3f, f64(ar, a), yRef);
      assertClose("axpy_ref", out, yRef, TOL);
      IteraNative.itera_scale_ref(n, -2f, out.address());
      REF.scale(-2f, yRef);
      assertClose("scale_ref", out, yRef, TOL);
      double ss = IteraNative.itera_sum_squares_ref(n, out.address());
      assertEquals(REF.sumSquares(f64(ar, out)), ss, 1e-12 * ss, "sum_squares_ref");
      assertEquals(ss, IteraNative.itera_sum_squares(n, out.address()), 1e-9 * ss, "sum_squares fast vs ref");
    }
  }

  @Test
  void embeddingAndAdamWSpec() {
    Random rnd = new Random(36);
    try (Arena ar = Arena.open()) {
      int t = 37;
      int v = 11;
      int c = 19;
      Tensor id = TestTensors.ids(ar, rnd, t, v);
      Tensor table = random(ar, rnd, 1, v, c);
      Tensor out = poison(ar.allocate(DType.F32, t, c));
      assertEquals(0, IteraNative.itera_embedding_forward_ref(t, c, v, id.address(), table.address(), c, out.address(), c));
      Tensor outRef = ar.allocate(DType.F64, t, c);
      REF.embeddingForward(id, f64(ar, table), outRef);
      assertClose("embedding_forward_ref", out, outRef, 0);
      Tensor dtable = random(ar, rnd, 1, v, c);
      Tensor dtableRef = f64(ar, dtable);
      assertEquals(0, IteraNative.itera_embedding_backward_ref(t, c, v, id.address(), out.address(), c, dtable.address(), c));
      REF.embeddingBackward(id, f64(ar, out), dtableRef);
      assertClose("embedding_backward_ref", dtable, dtableRef, TOL);

      int n = 1031;
      Tensor p = random(ar, rnd, 1, n);
      Tensor g = random(ar, rnd, 1, n);
      Tensor m = random(ar, rnd, 0.1, n);
      Tensor vv = ar.allocate(DType.F32, n);
      vv.fill(0.003);
      Tensor pRef = f64(ar, p);
      Tensor mRef = f64(ar, m);
      Tensor vRef = f64(ar, vv);
      AdamWStep hp = new AdamWStep(0.01, 0.8, 0.99, 1e-6, 0.05, 2.0, 4);
      IteraNative.itera_adamw_ref(n, p.address(), g.address(), m.address(), vv.address(), 0.01f, 0.8f, 0.99f, 1e-6f,
          0.05f, 2.0f, 4);
      REF.adamW(pRef, f64(ar, g), mRef, vRef, hp);
      assertClose("adamw_ref param", p, pRef, TOL);
      assertClose("adamw_ref m", m, mRef, TOL);
      assertClose("adamw_ref v", vv, vRef, TOL);
    }
  }

  /** The kernels' own last line of defence: out-of-range ids come back as a status, not a crash. */
  @Test
  void kernelsReportBadIdsThemselves() {
    try (Arena ar = Arena.open()) {
      Tensor table = random(ar, new Random(37), 1, 5, 3);
      Tensor out = ar.allocate(DType.F32, 2, 3);
      Tensor logits = random(ar, new Random(38), 1, 2, 5);
      Tensor losses = ar.allocate(DType.F32, 2);
      for (int bad : new int[] {5, -1, Integer.MAX_VALUE, Integer.MIN_VALUE}) {
        Tensor ids = ar.adopt(Tensor.ofInts(new int[] {0, bad}, 2));
        assertEquals(-1, IteraNative.itera_embedding_forward(2, 3, 5, ids.address(), table.address(), 3, out.address(), 3),
            "itera_embedding_forward id " + bad);
        assertEquals(-1, IteraNative.itera_embedding_forward_ref(2, 3, 5, ids.address(), table.address(), 3, out.address(), 3),
            "itera_embedding_forward_ref id " + bad);
        assertEquals(-1, IteraNative.itera_embedding_backward(2, 3, 5, ids.address(), out.address(), 3, table.address(), 3),
            "itera_embedding_backward id " + bad);
        assertEquals(-1, IteraNative.itera_cross_entropy(2, 5, logits.address(), 5, ids.address(), -100, 1f, losses.address(), 0L, 5),
            "itera_cross_entropy target " + bad);
        assertEquals(-1, IteraNative.itera_cross_entropy_ref(2, 5, logits.address(), 5, ids.address(), -100, 1f, losses.address(), 0L, 5),
            "itera_cross_entropy_ref target " + bad);
      }
    }
  }

  private static Tensor f32copy(Arena ar, Tensor src) {
    Tensor t = ar.allocate(DType.F32, src.shape());
    t.copyFrom(src.toDoubleArray());
    return t;
  }
}
