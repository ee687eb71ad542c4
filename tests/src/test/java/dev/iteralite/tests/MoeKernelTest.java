package dev.iteralite.tests;

import static dev.iteralite.tests.TestTensors.assertAccumulated;
import static dev.iteralite.tests.TestTensors.assertClose;
import static dev.iteralite.tests.TestTensors.f64;
import static dev.iteralite.tests.TestTensors.matrix;
import static dev.iteralite.tests.TestTensors.poison;
import static dev.iteralite.tests.TestTensors.random;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.iteralite.backend.Backend;
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
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The mixture-of-experts kernels (top-k, dispatch, gather, combine and their backwards, SwiGLU):
 * the fast CPU path against the C++ scalar specification ({@code _ref}, called raw) and both
 * against the Java double reference, on odd sizes, row-strided views and poisoned outputs; plus
 * tie-breaking, exact capacity drops and bad-input rejection.
 */
class MoeKernelTest {
  static final CpuBackend CPU = Backends.cpu();
  static final ReferenceBackend REF = Backends.reference();
  static final double TOL = 1e-10;

  private static Tensor ints(Arena arena, int[] values, long... shape) {
    Tensor t = arena.allocate(DType.I32, shape);
    t.copyFrom(values);
    return t;
  }

  private static Tensor intsPoisoned(Arena arena, long... shape) {
    Tensor t = arena.allocate(DType.I32, shape);
    t.fill(-77);
    return t;
  }

  /** Random probabilities with deliberate exact ties (every third row repeats a value). */
  private static Tensor probs(Arena arena, Random rnd, int t, int e, long pad) {
    Tensor p = matrix(arena, rnd, t, e, pad, 1.0);
    for (int r = 0; r < t; r++) {
      for (int c = 0; c < e; c++) {
        p.setDouble(Math.abs(p.getDouble(r, c)), r, c);
      }
      if (r % 3 == 0 && e > 1) {
        p.setDouble(p.getDouble(r, e - 1), r, 0); // tie between the first and last expert
      }
    }
    return p;
  }

  @ParameterizedTest
  @CsvSource({"1,1,1,0", "37,5,2,0", "37,8,3,3", "64,13,13,1", "1025,16,2,0", "9,4,1,2"})
  void topKFastAndSpecMatchReference(int t, int e, int k, long pad) {
    Random rnd = new Random(11 + t * 31L + e);
    try (Arena arena = Arena.open()) {
      Tensor p = probs(arena, rnd, t, e, pad);
      long ldp = pad == 0 ? e : e + pad;
      Tensor idsFast = intsPoisoned(arena, t, k);
      Tensor wFast = poison(arena.allocate(DType.F32, t, k));
      CPU.moeTopK(p, idsFast, wFast);
      Tensor idsSpec = intsPoisoned(arena, t, k);
      Tensor wSpec = poison(arena.allocate(DType.F32, t, k));
      assertEquals(0, IteraNative.itera_moe_topk_ref(t, e, k, p.address(), ldp, idsSpec.address(), wSpec.address()));
      Tensor idsRef = intsPoisoned(arena, t, k);
      Tensor wRef = arena.allocate(DType.F64, t, k);
      REF.moeTopK(f64(arena, p), idsRef, wRef);
      assertArrayEquals(idsRef.toIntArray(), idsFast.toIntArray(), "fast ids");
      assertArrayEquals(idsRef.toIntArray(), idsSpec.toIntArray(), "spec ids");
      assertClose("fast weights", wFast, wRef, TOL);
      assertClose("spec weights", wSpec, wRef, TOL);
    }
  }

  @Test
  void topKBreaksTiesTowardsTheLowerExpert() {
    try (Arena arena = Arena.open()) {
      double[] rows = {
        0.25, 0.25, 0.25, 0.25, // all equal: 0, 1, 2
        0.1, 0.3, 0.1, 0.3, // two ties at the top: 1, 3, then 0 before 2
        0.4, 0.2, 0.2, 0.2 // a tie below the top: 0, 1, 2
      };
      for (Backend b : new Backend[] {CPU, REF}) {
        Tensor p = arena.allocate(DType.F32, 3, 4);
        p.copyFrom(rows);
        Tensor ids = intsPoisoned(arena, 3, 3);
        Tensor w = arena.allocate(DType.F32, 3, 3);
        b.moeTopK(p, ids, w);
        assertArrayEquals(new int[] {0, 1, 2, 1, 3, 0, 0, 1, 2}, ids.toIntArray(), b.name());
        assertEquals(1.0 / 3, w.getDouble(0, 0), 1e-7, b.name() + ": renormalised weight");
        assertEquals(0.3 / 0.7, w.getDouble(1, 0), 1e-7, b.name() + ": renormalised weight");
      }
    }
  }

  /** Dispatch outputs of one backend (or of the raw spec). */
  private record Dispatch(int n, int[] routed, int[] offsets, int[] slots, int[] perm) {}

  private static Dispatch dispatch(Arena arena, Backend b, Tensor ids, int e, long cap) {
    long t = ids.dim(0);
    long k = ids.dim(1);
    Tensor routed = intsPoisoned(arena, e);
    Tensor off = intsPoisoned(arena, e + 1L);
    Tensor slots = intsPoisoned(arena, t, k);
    Tensor perm = intsPoisoned(arena, t * k);
    int n;
    if (b == null) {
      assertEquals(0, IteraNative.itera_moe_dispatch_ref(
          t, k, e, cap, ids.address(), routed.address(), off.address(), slots.address(), perm.address()));
      n = off.getInt(e);
    } else {
      n = b.moeDispatch(ids, e, cap, routed, off, slots, perm);
    }
    return new Dispatch(n, routed.toIntArray(), off.toIntArray(), slots.toIntArray(), perm.toIntArray());
  }

  /** Independent statement of the capacity rule: per expert, the first C assignments in token order survive. */
  private static void assertDropsExactlyTheOverflow(int[] ids, int e, long cap, Dispatch d) {
    int[] seen = new int[e];
    int kept = 0;
    for (int a = 0; a < ids.length; a++) {
      boolean keep = cap <= 0 || seen[ids[a]] < cap;
      seen[ids[a]]++;
      assertEquals(keep, d.slots()[a] >= 0, "assignment " + a + " (expert " + ids[a] + ") kept?");
      if (keep) {
        kept++;
        int row = d.slots()[a];
        assertTrue(row >= d.offsets()[ids[a]] && row < d.offsets()[ids[a] + 1], "row inside its expert's segment");
        assertEquals(a, d.perm()[row], "perm inverts slots");
      }
    }
    assertEquals(kept, d.n(), "kept count");
    assertArrayEquals(seen, d.routed(), "routed histogram counts drops too");
    for (int r = d.n(); r < ids.length; r++) {
      assertEquals(-1, d.perm()[r], "rows past N are unused");
    }
  }

  @ParameterizedTest
  @CsvSource({"1,1,1,0", "53,2,7,0", "53,2,7,5", "53,2,7,1", "200,3,5,1000", "128,2,8,40", "31,4,4,0"})
  void dispatchFastSpecAndReferenceAgreeAndDropOnlyOverflow(int t, int k, int e, long cap) {
    Random rnd = new Random(5 + t + 7L * cap);
    try (Arena arena = Arena.open()) {
      int[] id = new int[t * k];
      for (int i = 0; i < id.length; i++) {
        // skewed: expert 0 is popular, so capacity actually bites
        id[i] = rnd.nextInt(3) == 0 ? 0 : rnd.nextInt(e);
      }
      Tensor ids = ints(arena, id, t, k);
      Dispatch fast = dispatch(arena, CPU, ids, e, cap);
      Dispatch spec = dispatch(arena, null, ids, e, cap);
      Dispatch ref = dispatch(arena, REF, ids, e, cap);
      for (Dispatch d : new Dispatch[] {fast, spec}) {
        assertEquals(ref.n(), d.n());
        assertArrayEquals(ref.routed(), d.routed());
        assertArrayEquals(ref.offsets(), d.offsets());
        assertArrayEquals(ref.slots(), d.slots());
        assertArrayEquals(ref.perm(), d.perm());
      }
      assertDropsExactlyTheOverflow(id, e, cap, fast);
    }
  }

  @Test
  void capacityDropsLaterTokensOfAFullExpert() {
    try (Arena arena = Arena.open()) {
      // k = 1; expert 1 gets tokens 0, 2, 3, 5 and capacity 2 keeps tokens 0 and 2 only.
      Tensor ids = ints(arena, new int[] {1, 0, 1, 1, 0, 1}, 6, 1);
      for (Backend b : new Backend[] {CPU, REF}) {
        Dispatch d = dispatch(arena, b, ids, 2, 2);
        assertArrayEquals(new int[] {2, 0, 3, -1, 1, -1}, d.slots(), b.name());
        assertArrayEquals(new int[] {0, 2, 4}, d.offsets(), b.name());
        assertArrayEquals(new int[] {2, 4}, d.routed(), b.name());
        assertArrayEquals(new int[] {1, 4, 0, 2, -1, -1}, d.perm(), b.name());
      }
    }
  }

  @ParameterizedTest
  @CsvSource({"1,1,1,3,0,0", "37,2,5,33,0,1", "64,3,4,128,40,0", "129,2,8,65,0,3", "300,2,4,257,70,1"})
  void gatherCombineAndBackwardsMatchReference(int t, int k, int e, int d, long cap, long pad) {
    Random rnd = new Random(3 + t * 7L + d);
    try (Arena arena = Arena.open()) {
      int[] id = new int[t * k];
      for (int r = 0; r < t; r++) {
        // distinct experts per token, like a real top-k
        int start = rnd.nextInt(e);
        for (int j = 0; j < k; j++) {
          id[r * k + j] = (start + j) % e;
        }
      }
      Tensor ids = ints(arena, id, t, k);
      Tensor routed = arena.allocate(DType.I32, e);
      Tensor off = arena.allocate(DType.I32, e + 1L);
      Tensor slots = arena.allocate(DType.I32, t, k);
      Tensor permAll = arena.allocate(DType.I32, (long) t * k);
      int n = CPU.moeDispatch(ids, e, cap, routed, off, slots, permAll);
      Tensor perm = permAll.slice(0, 0, n);
      long ldN = pad == 0 ? d : d + pad;
      long ldT = pad == 0 ? d : d + pad;

      // gather: xp [N, D] from x [T, D]
      Tensor x = matrix(arena, rnd, t, d, pad, 1.0);
      Tensor xpFast = poison(matrix(arena, rnd, n, d, pad, 1.0));
      CPU.moeGather(x, perm, k, xpFast);
      Tensor xpSpec = poison(matrix(arena, rnd, n, d, pad, 1.0));
      IteraNative.itera_moe_gather_ref(n, d, k, perm.address(), x.address(), ldT, xpSpec.address(), ldN);
      Tensor xpRef = arena.allocate(DType.F64, n, d);
      REF.moeGather(f64(arena, x), perm, k, xpRef);
      assertClose("gather fast", xpFast, xpRef, 0);
      assertClose("gather spec", xpSpec, xpRef, 0);

      // gather backward: dx [T, D] += ...
      Tensor dxp = matrix(arena, rnd, n, d, pad, 1.0);
      Tensor dx0 = random(arena, rnd, 1.0, t, d);
      double[] dxInit = dx0.toDoubleArray();
      Tensor dxFast = matrix(arena, rnd, t, d, pad, 1.0);
      dxFast.copyFrom(dxInit);
      CPU.moeGatherBackward(dxp, slots, dxFast);
      Tensor dxSpec = matrix(arena, rnd, t, d, pad, 1.0);
      dxSpec.copyFrom(dxInit);
      IteraNative.itera_moe_gather_backward_ref(t, d, k, slots.address(), dxp.address(), ldN, dxSpec.address(), ldT);
      Tensor dxRef = f64(arena, dx0);
      REF.moeGatherBackward(f64(arena, dxp), slots, dxRef);
      assertAccumulated("gather backward fast", dxFast, dxRef, dxInit, TOL);
      assertAccumulated("gather backward spec", dxSpec, dxRef, dxInit, TOL);

      // combine: out [T, D] (written, poisoned first)
      Tensor yp = matrix(arena, rnd, n, d, pad, 1.0);
      Tensor w = random(arena, rnd, 1.0, t, k);
      Tensor outFast = poison(matrix(arena, rnd, t, d, pad, 1.0));
      CPU.moeCombine(yp, slots, w, outFast);
      Tensor outSpec = poison(matrix(arena, rnd, t, d, pad, 1.0));
      IteraNative.itera_moe_combine_ref(
          t, d, k, slots.address(), w.address(), yp.address(), ldN, outSpec.address(), ldT);
      Tensor outRef = arena.allocate(DType.F64, t, d);
      REF.moeCombine(f64(arena, yp), slots, f64(arena, w), outRef);
      assertClose("combine fast", outFast, outRef, TOL);
      assertClose("combine spec", outSpec, outRef, TOL);

      // combine backward: dyp [N, D] += ..., dweights [T, k] += ...
      Tensor dout = matrix(arena, rnd, t, d, pad, 1.0);
      double[] dypInit = random(arena, rnd, 1.0, n, d).toDoubleArray();
      double[] dwInit = random(arena, rnd, 1.0, t, k).toDoubleArray();
      Tensor dypFast = matrix(arena, rnd, n, d, pad, 1.0);
      dypFast.copyFrom(dypInit);
      Tensor dwFast = arena.allocate(DType.F32, t, k);
      dwFast.copyFrom(dwInit);
      CPU.moeCombineBackward(dout, yp, perm, slots, w, dypFast, dwFast);
      Tensor dypSpec = matrix(arena, rnd, n, d, pad, 1.0);
      dypSpec.copyFrom(dypInit);
      Tensor dwSpec = arena.allocate(DType.F32, t, k);
      dwSpec.copyFrom(dwInit);
      IteraNative.itera_moe_combine_backward_ref(
          t, n, d, k, perm.address(), slots.address(), w.address(), dout.address(), ldT, yp.address(), ldN,
          dypSpec.address(), ldN, dwSpec.address());
      Tensor dypRef = arena.allocate(DType.F64, n, d);
      dypRef.copyFrom(dypInit);
      Tensor dwRef = arena.allocate(DType.F64, t, k);
      dwRef.copyFrom(dwInit);
      REF.moeCombineBackward(f64(arena, dout), f64(arena, yp), perm, slots, f64(arena, w), dypRef, dwRef);
      assertAccumulated("combine backward dyp fast", dypFast, dypRef, dypInit, TOL);
      assertAccumulated("combine backward dyp spec", dypSpec, dypRef, dypInit, TOL);
      assertAccumulated("combine backward dweights fast", dwFast, dwRef, dwInit, TOL);
      assertAccumulated("combine backward dweights spec", dwSpec, dwRef, dwInit, TOL);
      if (cap > 0) {
        int[] sl = slots.toIntArray();
        for (int a = 0; a < sl.length; a++) {
          if (sl[a] < 0) {
            assertEquals(dwInit[a], dwFast.getDoubleAt(a), 1e-6, "a dropped assignment gets no weight gradient");
          }
        }
      }
    }
  }

  @ParameterizedTest
  @CsvSource({"1", "1001", "100003"})
  void swigluFastAndSpecMatchReference(int n) {
    // The gate's sigmoid goes through the run-time-dispatched SiLU kernels: check every ISA level.
    Isa saved = CPU.isa();
    try {
      for (Isa isa : KernelParityTest.isas()) {
        assertEquals(isa, CPU.setIsa(isa));
        swigluAtCurrentIsa(n);
      }
    } finally {
      CPU.setIsa(saved);
    }
  }

  private static void swigluAtCurrentIsa(int n) {
    Random rnd = new Random(n);
    try (Arena arena = Arena.open()) {
      Tensor h1 = random(arena, rnd, 8.0, n);
      if (n > 4) {
        // saturated ends of the sigmoid
        h1.setDoubleAt(0, 95.0);
        h1.setDoubleAt(1, -95.0);
        h1.setDoubleAt(2, 0.0);
        h1.setDoubleAt(3, -20.0);
      }
      Tensor h3 = random(arena, rnd, 2.0, n);
      Tensor outFast = poison(arena.allocate(DType.F32, n));
      CPU.swigluForward(h1, h3, outFast);
      Tensor outSpec = poison(arena.allocate(DType.F32, n));
      IteraNative.itera_swiglu_forward_ref(n, h1.address(), h3.address(), outSpec.address());
      Tensor outRef = arena.allocate(DType.F64, n);
      REF.swigluForward(f64(arena, h1), f64(arena, h3), outRef);
      assertClose("swiglu fast at " + CPU.isa(), outFast, outRef, TOL);
      assertClose("swiglu spec", outSpec, outRef, TOL);

      Tensor dout = random(arena, rnd, 1.0, n);
      double[] d1 = random(arena, rnd, 1.0, n).toDoubleArray();
      double[] d3 = random(arena, rnd, 1.0, n).toDoubleArray();
      Tensor dh1Fast = arena.allocate(DType.F32, n);
      dh1Fast.copyFrom(d1);
      Tensor dh3Fast = arena.allocate(DType.F32, n);
      dh3Fast.copyFrom(d3);
      CPU.swigluBackward(h1, h3, dout, dh1Fast, dh3Fast);
      Tensor dh1Spec = arena.allocate(DType.F32, n);
      dh1Spec.copyFrom(d1);
      Tensor dh3Spec = arena.allocate(DType.F32, n);
      dh3Spec.copyFrom(d3);
      IteraNative.itera_swiglu_backward_ref(
          n, h1.address(), h3.address(), dout.address(), dh1Spec.address(), dh3Spec.address());
      Tensor dh1Ref = arena.allocate(DType.F64, n);
      dh1Ref.copyFrom(d1);
      Tensor dh3Ref = arena.allocate(DType.F64, n);
      dh3Ref.copyFrom(d3);
      REF.swigluBackward(f64(arena, h1), f64(arena, h3), f64(arena, dout), dh1Ref, dh3Ref);
      assertAccumulated("swiglu dh1 fast at " + CPU.isa(), dh1Fast, dh1Ref, d1, TOL);
      assertAccumulated("swiglu dh3 fast at " + CPU.isa(), dh3Fast, dh3Ref, d3, TOL);
      assertAccumulated("swiglu dh1 spec", dh1Spec, dh1Ref, d1, TOL);
      assertAccumulated("swiglu dh3 spec", dh3Spec, dh3Ref, d3, TOL);
    }
  }

  @Test
  void badInputIsRejectedBeforeAnyNativeCall() {
    try (Arena arena = Arena.open()) {
      for (Backend b : new Backend[] {CPU, REF}) {
        Tensor ids = ints(arena, new int[] {0, 1, 2, 4}, 2, 2); // 4 is out of range for E = 4
        Tensor routed = arena.allocate(DType.I32, 4);
        Tensor off = arena.allocate(DType.I32, 5);
        Tensor slots = arena.allocate(DType.I32, 2, 2);
        Tensor perm = arena.allocate(DType.I32, 4);
        IllegalArgumentException ex =
            assertThrows(IllegalArgumentException.class, () -> b.moeDispatch(ids, 4, 0, routed, off, slots, perm));
        assertTrue(ex.getMessage().contains("'ids' holds 4 at position 3"), ex.getMessage());
        Tensor negative = ints(arena, new int[] {0, -1, 2, 3}, 2, 2);
        assertThrows(IllegalArgumentException.class, () -> b.moeDispatch(negative, 4, 0, routed, off, slots, perm));
        // wrong shapes of the outputs
        Tensor shortOffsets = arena.allocate(DType.I32, 4);
        Tensor good = ints(arena, new int[] {0, 1, 2, 3}, 2, 2);
        ex = assertThrows(IllegalArgumentException.class, () -> b.moeDispatch(good, 4, 0, routed, shortOffsets, slots, perm));
        assertTrue(ex.getMessage().contains("'offsets'"), ex.getMessage());
        assertThrows(IllegalArgumentException.class, () -> b.moeDispatch(good, 0, 0, routed, off, slots, perm));

        // top-k: k > E, and weights of the wrong shape
        Tensor p = arena.allocate(DType.F32, 2, 3);
        ex = assertThrows(IllegalArgumentException.class,
            () -> b.moeTopK(p, arena.allocate(DType.I32, 2, 4), arena.allocate(DType.F32, 2, 4)));
        assertTrue(ex.getMessage().contains("1 <= k <= E"), ex.getMessage());
        assertThrows(IllegalArgumentException.class,
            () -> b.moeTopK(p, arena.allocate(DType.I32, 2, 2), arena.allocate(DType.F32, 2, 3)));
        assertThrows(IllegalArgumentException.class,
            () -> b.moeTopK(p, arena.allocate(DType.F32, 2, 2), arena.allocate(DType.F32, 2, 2)));

        // slots / perm outside the permuted buffer
        Tensor yp = arena.allocate(DType.F32, 3, 5);
        Tensor w = arena.allocate(DType.F32, 2, 2);
        Tensor out = arena.allocate(DType.F32, 2, 5);
        Tensor badSlots = ints(arena, new int[] {0, 1, 2, 3}, 2, 2); // 3 >= N = 3
        ex = assertThrows(IllegalArgumentException.class, () -> b.moeCombine(yp, badSlots, w, out));
        assertTrue(ex.getMessage().contains("'slots' holds 3"), ex.getMessage());
        Tensor tooNegative = ints(arena, new int[] {0, -2, 1, 2}, 2, 2);
        assertThrows(IllegalArgumentException.class, () -> b.moeCombine(yp, tooNegative, w, out));
        Tensor x = arena.allocate(DType.F32, 2, 5);
        Tensor badPerm = ints(arena, new int[] {0, 4, 1}, 3); // T*k = 4
        ex = assertThrows(IllegalArgumentException.class, () -> b.moeGather(x, badPerm, 2, yp));
        assertTrue(ex.getMessage().contains("'perm' holds 4"), ex.getMessage());
        Tensor okSlots = ints(arena, new int[] {0, 1, 2, -1}, 2, 2);
        Tensor okPerm = ints(arena, new int[] {0, 1, 2}, 3);
        assertThrows(IllegalArgumentException.class,
            () -> b.moeCombineBackward(out, yp, badPerm, okSlots, w, arena.allocate(DType.F32, 3, 5), arena.allocate(DType.F32, 2, 2)));
        assertThrows(IllegalArgumentException.class,
            () -> b.moeCombineBackward(out, yp, okPerm, badSlots, w, arena.allocate(DType.F32, 3, 5), arena.allocate(DType.F32, 2, 2)));
        assertThrows(IllegalArgumentException.class,
            () -> b.moeGatherBackward(yp, badSlots, arena.allocate(DType.F32, 2, 5)));
        // width mismatch
        assertThrows(IllegalArgumentException.class, () -> b.moeCombine(yp, okSlots, w, arena.allocate(DType.F32, 2, 4)));
        // swiglu shapes
        assertThrows(IllegalArgumentException.class,
            () -> b.swigluForward(arena.allocate(DType.F32, 4), arena.allocate(DType.F32, 5), arena.allocate(DType.F32, 4)));
      }
    }
  }
}
