package dev.iteralite.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.iteralite.nativelib.RawPointer;
import dev.iteralite.tensor.Arena;
import dev.iteralite.tensor.DType;
import dev.iteralite.tensor.Tensor;
import java.util.Random;

/** Helpers for the cross-backend tests: random (strided) tensors, poisoning, error norms. */
final class TestTensors {
  private TestTensors() {}

  /**
   * A rows x cols F32 view with row stride {@code cols + pad} (pad 0 or >= 1) inside a larger owner (owned by the
   * arena); the padding holds NaN so reading it shows up, values uniform in [-scale, scale].
   */
  static Tensor matrix(Arena arena, Random rnd, long rows, long cols, long pad, double scale) {
    Tensor owner = arena.allocate(DType.F32, rows, cols + pad);
    owner.fill(Double.NaN);
    // a padded view also starts one element in, so SIMD paths see unaligned rows
    Tensor view = pad == 0 ? owner : owner.slice(1, 1, cols + 1);
    randomize(view, rnd, scale);
    return view;
  }

  /** A contiguous F32 tensor of the given shape with uniform values in [-scale, scale]. */
  static Tensor random(Arena arena, Random rnd, double scale, long... shape) {
    Tensor t = arena.allocate(DType.F32, shape);
    randomize(t, rnd, scale);
    return t;
  }

  static void randomize(Tensor t, Random rnd, double scale) {
    double[] v = new double[(int) t.size()];
    for (int i = 0; i < v.length; i++) {
      v[i] = (rnd.nextDouble() * 2 - 1) * scale;
    }
    t.copyFrom(v);
  }

  /** The bytes of an I8 tensor (which has no Java element accessors), e.g. a quantised matrix. */
  static byte[] bytes(Tensor i8) {
    byte[] out = new byte[(int) i8.size()];
    new RawPointer(i8.address(), out.length).asByteBuffer().get(out);
    return out;
  }

  /** Every element of the view set to NaN. */
  static Tensor poison(Tensor t) {
    t.fill(Double.NaN);
    return t;
  }

  /** A contiguous F64 tensor with the same shape and (exact) values as {@code src}. */
  static Tensor f64(Arena arena, Tensor src) {
    Tensor t = arena.allocate(DType.F64, src.shape());
    t.copyFrom(src.toDoubleArray());
    return t;
  }

  /** Random token ids in [0, v). */
  static Tensor ids(Arena arena, Random rnd, int n, int v) {
    int[] ids = new int[n];
    for (int i = 0; i < n; i++) {
      ids[i] = rnd.nextInt(v);
    }
    Tensor t = arena.allocate(DType.I32, n);
    t.copyFrom(ids);
    return t;
  }

  /** sum((a-b)^2) / sum(b^2) (or the plain sum when b is all zero); NaN when a holds NaN. */
  static double normalisedError(double[] a, double[] b) {
    assertEquals(b.length, a.length, "element counts differ");
    double num = 0;
    double den = 0;
    for (int i = 0; i < a.length; i++) {
      if (!Double.isFinite(a[i])) {
        return Double.NaN;
      }
      double d = a[i] - b[i];
      num += d * d;
      den += b[i] * b[i];
    }
    return den == 0 ? num : num / den;
  }

  /** Asserts the normalised error of actual against expected is at most tol. */
  static void assertClose(String what, Tensor actual, Tensor expected, double tol) {
    assertClose(what, actual.toDoubleArray(), expected.toDoubleArray(), tol);
  }

  static void assertClose(String what, double[] actual, double[] expected, double tol) {
    double err = normalisedError(actual, expected);
    if (!(err <= tol)) {
      int worst = 0;
      double worstDiff = -1;
      for (int i = 0; i < actual.length; i++) {
        double d = Double.isFinite(actual[i]) ? Math.abs(actual[i] - expected[i]) : Double.POSITIVE_INFINITY;
        if (d > worstDiff) {
          worstDiff = d;
          worst = i;
        }
      }
      fail(
          what + ": normalised error " + err + " > " + tol + " (worst element " + worst + ": got " + actual[worst]
              + ", expected " + expected[worst] + ", " + actual.length + " elements)");
    }
  }

  /**
   * For gradients accumulated into {@code initial}: the normalised error with sum(initial^2) added
   * to the denominator, so a sum that cancels to near zero (fp32 rounding of O(1) terms) is judged
   * against the size of its terms, not of the tiny result.
   */
  static void assertAccumulated(String what, Tensor actual, Tensor expected, double[] initial, double tol) {
    double[] a = actual.toDoubleArray();
    double[] b = expected.toDoubleArray();
    double num = 0;
    double den = 0;
    for (int i = 0; i < a.length; i++) {
      double d = a[i] - b[i];
      num += d * d;
      den += b[i] * b[i] + initial[i] * initial[i];
    }
    double err = den == 0 ? num : num / den;
    if (!(err <= tol)) {
      assertClose(what + " (accumulated; error relative to terms " + err + ")", a, b, 0);
    }
  }

  /** Asserts that every element of {@code owner} outside {@code view} is still NaN. */
  static void assertOutsideUntouched(String what, Tensor owner, Tensor view) {
    if (owner == view) {
      return;
    }
    boolean[] inView = new boolean[(int) owner.size()];
    long[] shape = view.shape();
    long[] strides = view.strides();
    long n = view.size();
    for (long i = 0; i < n; i++) {
      long rem = i;
      long o = view.offset() - owner.offset();
      for (int d = shape.length - 1; d >= 0; d--) {
        o += (rem % shape[d]) * strides[d];
        rem /= shape[d];
      }
      inView[(int) o] = true;
    }
    double[] all = owner.toDoubleArray();
    for (int i = 0; i < all.length; i++) {
      if (!inView[i]) {
        assertTrue(Double.isNaN(all[i]), what + ": element " + i + " outside the view was written (" + all[i] + ")");
      }
    }
  }

  /** The owner a {@link #matrix} view was sliced from: the view itself when unpadded. */
  static Tensor ownerOf(Tensor view, long pad) {
    if (pad == 0) {
      return view;
    }
    long rows = view.dim(0);
    long ld = view.stride(0);
    return view.view(-view.offset(), new long[] {rows, ld}, new long[] {ld, 1});
  }
}
