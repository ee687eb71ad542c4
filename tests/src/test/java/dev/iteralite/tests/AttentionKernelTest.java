package dev.iteralite.tests;

import static dev.iteralite.tests.TestTensors.assertAccumulated;
import static dev.iteralite.tests.TestTensors.assertClose;
import static dev.iteralite.tests.TestTensors.assertOutsideUntouched;
import static dev.iteralite.tests.TestTensors.f64;
import static dev.iteralite.tests.TestTensors.matrix;
import static dev.iteralite.tests.TestTensors.ownerOf;
import static dev.iteralite.tests.TestTensors.poison;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.iteralite.backend.Backends;
import dev.iteralite.backend.CpuBackend;
import dev.iteralite.backend.Isa;
import dev.iteralite.backend.ReferenceBackend;
import dev.iteralite.nativelib.IteraNative;
import dev.iteralite.tensor.Arena;
import dev.iteralite.tensor.DType;
import dev.iteralite.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Training attention and RoPE kernels: the fast kernels (every ISA level) against the C++ scalar
 * specification ({@code _ref}, called raw) and the Java double reference; forward (output and
 * log-sum-exp) and every gradient, odd sequence lengths and head sizes (below, between and above
 * the vector width), grouped-query heads, strided rows, NaN-poisoned outputs and padding.
 */
@ExtendWith(RestoresIsa.class)
class AttentionKernelTest {
  static final CpuBackend CPU = Backends.cpu();
  static final ReferenceBackend REF = Backends.reference();
  /** Normalised squared error allowed between an F32 kernel and the double reference. */
  static final double TOL = 1e-9;



  /** batch, L, heads, kv heads, head size, row padding, magnitude of q / k, seed. */
  record Case(int batch, int len, int heads, int kvHeads, int hs, int pad, double mag, long seed) {
    @Override
    public String toString() {
      return "B" + batch + " L" + len + " H" + heads + " KV" + kvHeads + " hs" + hs + (pad > 0 ? " pad" + pad : "")
          + " |qk|" + mag;
    }
  }

  static final Case[] CASES = {
    new Case(1, 1, 1, 1, 2, 0, 1.0, 1),
    new Case(2, 13, 4, 2, 6, 3, 1.0, 2),
    new Case(3, 37, 6, 2, 18, 1, 1.0, 3),
    new Case(2, 70, 4, 4, 32, 0, 1.0, 4),
    new Case(1, 33, 2, 1, 64, 2, 1.0, 5),
    new Case(1, 130, 3, 1, 10, 1, 1.0, 6),
    new Case(2, 24, 2, 2, 16, 0, 4.0, 7), // peaked softmax: the max shift matters
  };

  static Stream<Arguments> cases() {
    List<Arguments> out = new ArrayList<>();
    for (Isa isa : KernelParityTest.isas()) {
      for (Case c : CASES) {
        out.add(Arguments.of(isa, c));
      }
    }
    return out.stream();
  }

  static Tensor grads(Arena ar, DType dt, long seed, long rows, long cols) {
    Tensor t = ar.allocate(dt, rows, cols);
    TestTensors.randomize(t, new Random(seed), 0.1);
    return t;
  }

  @ParameterizedTest(name = "{0} {1}")
  @MethodSource("cases")
  void attentionForwardBackwardMatchSpecAndReference(Isa isa, Case c) {
    CPU.setIsa(isa);
    try (Arena ar = Arena.open()) {
      Random rnd = new Random(c.seed());
      long rows = (long) c.batch() * c.len();
      long qc = (long) c.heads() * c.hs();
      long kc = (long) c.kvHeads() * c.hs();
      float scale = (float) (1 / Math.sqrt(c.hs()));
      Tensor q = matrix(ar, rnd, rows, qc, c.pad(), c.mag());
      Tensor k = matrix(ar, rnd, rows, kc, c.pad(), c.mag());
      Tensor v = matrix(ar, rnd, rows, kc, c.pad(), 1.0);
      long lseN = rows * c.heads();
      // fast: every output element must be written; padding of a strided output must stay untouched
      Tensor out = poison(matrix(ar, rnd, rows, qc, c.pad(), 1.0));
      poison(ownerOf(out, c.pad()));
      Tensor lse = poison(ar.allocate(DType.F32, lseN));
      CPU.causalAttentionForward(c.batch(), c.heads(), c.kvHeads(), scale, q, k, v, out, lse);
      assertOutsideUntouched("fast out padding " + c, ownerOf(out, c.pad()), out);
      // C++ specification
      Tensor outRef = poison(ar.allocate(DType.F32, rows, qc));
      Tensor lseRef = poison(ar.allocate(DType.F32, lseN));
      IteraNative.itera_causal_attention_forward_ref(c.batch(), c.len(), c.heads(), c.kvHeads(), c.hs(), scale,
          q.address(), q.stride(0), k.address(), k.stride(0), v.address(), v.stride(0), outRef.address(), qc,
          lseRef.address());
      // Java double reference
      Tensor outJ = ar.allocate(DType.F64, rows, qc);
      Tensor lseJ = ar.allocate(DType.F64, lseN);
      REF.causalAttentionForward(c.batch(), c.heads(), c.kvHeads(), scale, f64(ar, q), f64(ar, k), f64(ar, v), outJ, lseJ);
      String w = isa + " " + c;
      assertClose("spec out " + w, outRef, outJ, TOL);
      assertClose("spec lse " + w, lseRef, lseJ, TOL);
      assertClose("fast out " + w, out, outJ, TOL);
      assertClose("fast lse " + w, lse, lseJ, TOL);

      Tensor dout = matrix(ar, rnd, rows, qc, c.pad(), 1.0);
      Tensor dq = grads(ar, DType.F32, c.seed() + 1, rows, qc);
      Tensor dk = grads(ar, DType.F32, c.seed() + 2, rows, kc);
      Tensor dv = grads(ar, DType.F32, c.seed() + 3, rows, kc);
      double[] dq0 = dq.toDoubleArray();
      double[] dk0 = dk.toDoubleArray();
      double[] dv0 = dv.toDoubleArray();
      Tensor dqRef = grads(ar, DType.F32, c.seed() + 1, rows, qc);
      Tensor dkRef = grads(ar, DType.F32, c.seed() + 2, rows, kc);
      Tensor dvRef = grads(ar, DType.F32, c.seed() + 3, rows, kc);
      Tensor dqJ = grads(ar, DType.F64, c.seed() + 1, rows, qc);
      Tensor dkJ = grads(ar, DType.F64, c.seed() + 2, rows, kc);
      Tensor dvJ = grads(ar, DType.F64, c.seed() + 3, rows, kc);
      CPU.causalAttentionBackward(c.batch(), c.heads(), c.kvHeads(), scale, q, k, v, lse, dout, dq, dk, dv);
      IteraNative.itera_causal_attention_backward_ref(c.batch(), c.len(), c.heads(), c.kvHeads(), c.hs(), scale,
          q.address(), q.stride(0), k.address(), k.stride(0), v.address(), v.stride(0), lseRef.address(),
          dout.address(), dout.stride(0), dqRef.address(), qc, dkRef.address(), kc, dvRef.address(), kc);
      REF.causalAttentionBackward(c.batch(), c.heads(), c.kvHeads(), scale, f64(ar, q), f64(ar, k), f64(ar, v), lseJ,
          f64(ar, dout), dqJ, dkJ, dvJ);
      assertAccumulated("spec dq " + w, dqRef, dqJ, dq0, TOL);
      assertAccumulated("spec dk " + w, dkRef, dkJ, dk0, TOL);
      assertAccumulated("spec dv " + w, dvRef, dvJ, dv0, TOL);
      assertAccumulated("fast dq " + w, dq, dqJ, dq0, TOL);
      assertAccumulated("fast dk " + w, dk, dkJ, dk0, TOL);
      assertAccumulated("fast dv " + w, dv, dvJ, dv0, TOL);
    }
  }

  /** Causality: changing the last token's q, k, v changes no earlier output row. */
  @Test
  void laterTokensDoNotLeakIntoEarlierOutputs() {
    try (Arena ar = Arena.open()) {
      Random rnd = new Random(11);
      int len = 20;
      Tensor q = matrix(ar, rnd, len, 16, 0, 1.0);
      Tensor k = matrix(ar, rnd, len, 8, 0, 1.0);
      Tensor v = matrix(ar, rnd, len, 8, 0, 1.0);
      Tensor out = ar.allocate(DType.F32, len, 16);
      Tensor lse = ar.allocate(DType.F32, 2L * len);
      CPU.causalAttentionForward(1, 2, 1, 0.35f, q, k, v, out, lse);
      float[] before = out.toFloatArray();
      for (Tensor t : new Tensor[] {q, k, v}) {
        TestTensors.randomize(t.slice(0, len - 1, len), rnd, 5.0);
      }
      CPU.causalAttentionForward(1, 2, 1, 0.35f, q, k, v, out, lse);
      float[] after = out.toFloatArray();
      for (int i = 0; i < (len - 1) * 16; i++) {
        assertTrue(before[i] == after[i], "row " + i / 16 + " changed");
      }
    }
  }

  static Stream<Arguments> ropeCases() {
    List<Arguments> out = new ArrayList<>();
    for (Isa isa : KernelParityTest.isas()) {
      out.add(Arguments.of(isa, 3, 11, 4, 6, 2));
      out.add(Arguments.of(isa, 1, 300, 2, 32, 0));
      out.add(Arguments.of(isa, 2, 5, 1, 2, 1));
    }
    return out.stream();
  }

  @ParameterizedTest(name = "{0} B{1} L{2} H{3} hs{4} pad{5}")
  @MethodSource("ropeCases")
  void ropeMatchesSpecAndReference(Isa isa, int batch, int len, int heads, int hs, int pad) {
    CPU.setIsa(isa);
    try (Arena ar = Arena.open()) {
      Random rnd = new Random(len);
      long rows = (long) batch * len;
      long cols = (long) heads * hs;
      Tensor x = matrix(ar, rnd, rows, cols, pad, 1.0);
      Tensor y = poison(ar.allocate(DType.F32, rows, cols));
      CPU.ropeForward(batch, hs, x, y);
      Tensor yRef = poison(ar.allocate(DType.F32, rows, cols));
      IteraNative.itera_rope_forward_ref(rows, len, heads, hs, x.address(), x.stride(0), yRef.address(), cols);
      Tensor yJ = ar.allocate(DType.F64, rows, cols);
      REF.ropeForward(batch, hs, f64(ar, x), yJ);
      assertClose("spec rope " + isa, yRef, yJ, 1e-12);
      assertClose("fast rope " + isa, y, yJ, 1e-12);
      // in place (the layer's use) gives the same values
      Tensor inPlace = matrix(ar, new Random(len), rows, cols, pad, 1.0);
      CPU.ropeForward(batch, hs, inPlace, inPlace);
      assertClose("in-place rope " + isa, inPlace, yJ, 1e-12);
      assertOutsideUntouched("in-place rope padding", ownerOf(inPlace, pad), inPlace);

      Tensor dy = matrix(ar, rnd, rows, cols, pad, 1.0);
      Tensor dx = grads(ar, DType.F32, 5, rows, cols);
      double[] dx0 = dx.toDoubleArray();
      Tensor dxRef = grads(ar, DType.F32, 5, rows, cols);
      Tensor dxJ = grads(ar, DType.F64, 5, rows, cols);
      CPU.ropeBackward(batch, hs, dy, dx);
      IteraNative.itera_rope_backward_ref(rows, len, heads, hs, dy.address(), dy.stride(0), dxRef.address(), cols);
      REF.ropeBackward(batch, hs, f64(ar, dy), dxJ);
      assertAccumulated("spec rope backward " + isa, dxRef, dxJ, dx0, 1e-12);
      assertAccumulated("fast rope backward " + isa, dx, dxJ, dx0, 1e-12);
      // the backward is the transpose: <R x, dy> = <x, R^T dy>
      Tensor rt = ar.allocate(DType.F64, rows, cols);
      REF.ropeBackward(batch, hs, f64(ar, dy), rt);
      double lhs = dot(yJ.toDoubleArray(), dy.toDoubleArray());
      double rhs = dot(x.toDoubleArray(), rt.toDoubleArray());
      assertTrue(Math.abs(lhs - rhs) <= 1e-9 * (1 + Math.abs(lhs)), lhs + " vs " + rhs);
    }
  }

  private static double dot(double[] a, double[] b) {
    double s = 0;
    for (int i = 0; i < a.length; i++) {
      s += a[i] * b[i];
    }
    return s;
  }

  @Test
  void badArgumentsAreRejectedBeforeTheKernel() {
    try (Arena ar = Arena.open()) {
      Tensor q = ar.allocate(DType.F32, 12, 24);
      Tensor k = ar.allocate(DType.F32, 12, 12);
      Tensor v = ar.allocate(DType.F32, 12, 12);
      Tensor out = ar.allocate(DType.F32, 12, 24);
      Tensor lse = ar.allocate(DType.F32, 48);
      // heads 4 of 6, kv heads 2 of 6: valid
      CPU.causalAttentionForward(2, 4, 2, 0.4f, q, k, v, out, lse);
      assertThrows(IllegalArgumentException.class, () -> CPU.causalAttentionForward(2, 4, 3, 0.4f, q, k, v, out, lse));
      assertThrows(IllegalArgumentException.class, () -> CPU.causalAttentionForward(5, 4, 2, 0.4f, q, k, v, out, lse));
      assertThrows(IllegalArgumentException.class, () -> CPU.causalAttentionForward(2, 4, 1, 0.4f, q, k, v, out, lse));
      assertThrows(IllegalArgumentException.class,
          () -> CPU.causalAttentionForward(2, 4, 2, 0.4f, q, k, v, out, ar.allocate(DType.F32, 47)));
      assertThrows(IllegalArgumentException.class,
          () -> CPU.causalAttentionForward(2, 4, 2, Float.NaN, q, k, v, out, lse));
      assertThrows(IllegalArgumentException.class, () -> CPU.causalAttentionForward(2, 4, 2, 0.4f, q, k, v, q, lse));
      assertThrows(IllegalArgumentException.class,
          () -> CPU.causalAttentionForward(2, 4, 2, 0.4f, f64(ar, q), k, v, out, lse));
      Tensor wide = ar.allocate(DType.F32, 2, 514);
      assertThrows(IllegalArgumentException.class,
          () -> CPU.causalAttentionForward(1, 2, 2, 0.1f, wide, wide, wide, ar.allocate(DType.F32, 2, 514),
              ar.allocate(DType.F32, 4)));
      assertThrows(IllegalArgumentException.class,
          () -> CPU.causalAttentionBackward(2, 4, 2, 0.4f, q, k, v, lse, out, q, k, v));
      assertThrows(IllegalArgumentException.class, () -> CPU.ropeForward(2, 5, q, q));
      assertThrows(IllegalArgumentException.class, () -> CPU.ropeForward(2, 7, ar.allocate(DType.F32, 12, 14), out));
      assertThrows(IllegalArgumentException.class, () -> CPU.ropeBackward(2, 6, q, q));
      assertThrows(IllegalArgumentException.class, () -> CPU.ropeForward(5, 6, q, q));
    }
  }
}
