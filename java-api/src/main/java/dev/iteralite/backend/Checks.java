package dev.iteralite.backend;

import dev.iteralite.tensor.DType;
import dev.iteralite.tensor.Tensor;
import java.util.Arrays;

/**
 * Argument validation shared by every backend: the one place that decides whether a call may
 * reach a kernel. Each instance checks one operation; messages name the operation, the argument,
 * what was expected, what was found, and how to fix it.
 *
 * <p>A strict instance ({@link #cpu}) enforces what the native kernels need: F32 data, a
 * contiguous last dimension with row stride {@code ld >= C}, full contiguity where a kernel takes a
 * plain pointer, and GEMM sizes that fit OpenBLAS's {@code int}. A lenient instance ({@link
 * #reference}) accepts F32 or F64 and any strides; everything else (nulls, closed tensors, ranks,
 * shapes, index ranges, aliasing) is checked identically.
 */
final class Checks {
  /** A tensor seen as R rows of C elements with row stride {@code ld} (elements). */
  record Rows(long r, long c, long ld) {}

  /** One matrix operand of a GEMM: stored rows x cols, row stride ld, batch stride. */
  record Mat(long rows, long cols, long ld, long batchStride) {}

  private final String op;
  private final boolean strict;
  private DType floatType;

  private Checks(String op, boolean strict) {
    this.op = op;
    this.strict = strict;
  }

  /** Strict checks for the native CPU backend. */
  static Checks cpu(String op) {
    return new Checks(op, true);
  }

  /** Lenient-layout checks for the reference backend. */
  static Checks reference(String op) {
    return new Checks(op, false);
  }

  boolean strict() {
    return strict;
  }

  IllegalArgumentException fail(String message) {
    return new IllegalArgumentException(op + ": " + message);
  }

  private static String what(String name, Tensor t) {
    return "argument '" + name + "' (" + t + ")";
  }

  // ------------------------------------------------------------------ presence and type

  /** Non-null and not closed (nor a view of released memory). */
  Tensor present(String name, Tensor t) {
    if (t == null) {
      throw fail("argument '" + name + "' is null; pass a tensor");
    }
    if (t.isClosed()) {
      throw new IllegalStateException(
          op + ": argument '" + name + "' (" + t.describe() + ") is closed: its memory was released by"
              + " close() (of the tensor, its owner or its arena); keep it open while it or any view of it"
              + " is in use");
    }
    return t;
  }

  /**
   * A floating-point data tensor. The first call fixes the call's compute type; later tensors must
   * match it. CPU: F32 only; reference: F32 or F64.
   */
  Tensor real(String name, Tensor t) {
    present(name, t);
    DType d = t.dtype();
    if (strict) {
      if (d != DType.F32) {
        throw fail(
            what(name, t) + " has dtype " + d + ": expected F32, the CPU backend's compute type; convert it,"
                + " or use the reference backend for F64");
      }
    } else if (d != DType.F32 && d != DType.F64) {
      throw fail(what(name, t) + " has dtype " + d + ": expected F32 or F64 (convert it first)");
    }
    if (floatType == null) {
      floatType = d;
    } else if (floatType != d) {
      throw fail(
          what(name, t) + " has dtype " + d + " but the other operands are " + floatType
              + ": mismatched dtypes; use one floating type for every operand");
    }
    return t;
  }

  /** An I32 tensor (token ids, targets). */
  Tensor ints(String name, Tensor t) {
    present(name, t);
    if (t.dtype() != DType.I32) {
      throw fail(what(name, t) + " has dtype " + t.dtype() + ": expected I32 (token ids / targets)");
    }
    return t;
  }

  // ------------------------------------------------------------------ layout

  /**
   * A matrix of rows: rank >= 2, the last dimension is C and the leading dimensions are the rows.
   * Strict: the last dimension has stride 1 and the leading dimensions collapse into one uniform
   * row stride {@code ld >= C}.
   */
  Rows rows(String name, Tensor t) {
    if (t.rank() < 2) {
      throw fail(
          what(name, t) + " has rank " + t.rank() + ": expected rank >= 2 ([R, C]: rows x channels);"
              + " reshape it, e.g. to [1, n]");
    }
    int last = t.rank() - 1;
    long c = t.dim(last);
    long r = 1;
    for (int d = 0; d < last; d++) {
      r = Math.multiplyExact(r, t.dim(d));
    }
    if (!strict) {
      return new Rows(r, c, c);
    }
    if (c > 1 && t.stride(last) != 1) {
      throw fail(
          what(name, t) + " has strides " + Arrays.toString(t.strides()) + ": the last dimension must be"
              + " contiguous (stride 1), got stride " + t.stride(last) + "; make a contiguous copy");
    }
    long ld = -1;
    long expected = -1;
    for (int d = last - 1; d >= 0; d--) {
      long size = t.dim(d);
      if (size == 1) {
        continue;
      }
      long stride = t.stride(d);
      if (ld < 0) {
        ld = stride;
      } else if (stride != expected) {
        throw fail(
            what(name, t) + " has strides " + Arrays.toString(t.strides()) + ": its leading dimensions"
                + " cannot be merged into rows of one stride (dimension " + d + " has stride " + stride
                + ", expected " + expected + "); make a contiguous copy or pass a rank-2 view");
      }
      expected = Math.multiplyExact(stride, size);
    }
    if (r <= 1 || ld < 0) {
      return new Rows(r, c, Math.max(1, c));
    }
    if (ld < c) {
      throw fail(
          what(name, t) + " has row stride " + ld + " < row length C=" + c + ": rows overlap; expected a"
              + " row stride >= " + c + " (make a contiguous copy)");
    }
    return new Rows(r, c, ld);
  }

  /** Strict: densely packed. Lenient: anything. */
  Tensor contiguous(String name, Tensor t) {
    if (strict && !t.isContiguous()) {
      throw fail(
          what(name, t) + " is not contiguous (strides " + Arrays.toString(t.strides()) + "): this"
              + " operation needs densely packed elements; make a contiguous copy first");
    }
    return t;
  }

  /** Holds exactly {@code n} elements (any shape), contiguous when strict; {@code label} names n. */
  Tensor count(String name, Tensor t, long n, String label) {
    if (t.size() != n) {
      throw fail(
          what(name, t) + " has " + t.size() + " elements: expected " + label + "=" + n + " (shape [" + n
              + "])");
    }
    return contiguous(name, t);
  }

  /** Same shape as {@code ref}. */
  Tensor sameShape(String name, Tensor t, String refName, Tensor ref) {
    if (!sameShape(t, ref)) {
      throw fail(
          what(name, t) + " has shape " + Arrays.toString(t.shape()) + ": expected the shape of '" + refName
              + "', " + Arrays.toString(ref.shape()));
    }
    return t;
  }

  private static boolean sameShape(Tensor a, Tensor b) {
    int rank = a.rank();
    if (rank != b.rank()) {
      return false;
    }
    for (int d = 0; d < rank; d++) {
      if (a.dim(d) != b.dim(d)) {
        return false;
      }
    }
    return true;
  }

  private static boolean sameLayout(Tensor a, Tensor b) {
    if (!sameShape(a, b)) {
      return false;
    }
    for (int d = 0; d < a.rank(); d++) {
      if (a.stride(d) != b.stride(d)) {
        return false;
      }
    }
    return true;
  }

  /** Requires {@code actual == expected}, naming the dimension. */
  void dimension(String name, Tensor t, String dimLabel, long actual, long expected, String expectedFrom) {
    if (actual != expected) {
      throw fail(
          what(name, t) + ": dimension " + dimLabel + " is " + actual + ", expected " + expected + " (from "
              + expectedFrom + ")");
    }
  }

  void positive(String label, long value, String why) {
    if (value < 1) {
      throw fail(label + " must be >= 1 (" + why + "), got " + value);
    }
  }

  /** OpenBLAS takes {@code int} sizes and strides. */
  void fitsInt(String label, long value) {
    if (value > Integer.MAX_VALUE) {
      throw fail(
          label + " = " + value + " exceeds OpenBLAS's 32-bit limit " + Integer.MAX_VALUE
              + "; split the product into smaller blocks");
    }
  }

  // ------------------------------------------------------------------ index ranges

  /**
   * Every id in {@code [0, v)}, or equal to {@code ignoreIndex} when {@code allowIgnore}. Scans in
   * Java before any native call.
   */
  void indices(String name, Tensor ids, long v, String vLabel, boolean allowIgnore, int ignoreIndex) {
    int[] values = ids.toIntArray();
    for (int i = 0; i < values.length; i++) {
      int id = values[i];
      if ((id < 0 || id >= v) && !(allowIgnore && id == ignoreIndex)) {
        throw fail(
            "argument '" + name + "' holds " + id + " at position " + i + ": out of range, valid values are"
                + " [0, " + v + ") (" + vLabel + "=" + v + ")"
                + (allowIgnore ? " or the ignore index " + ignoreIndex : "")
                + "; fix the data or the vocabulary size");
      }
    }
  }

  // ------------------------------------------------------------------ aliasing

  /** {@code out} and {@code in} share no element (two disjoint column blocks of one matrix pass). */
  void disjoint(String outName, Tensor out, String inName, Tensor in) {
    if (out.size() == 0 || in.size() == 0 || !overlaps(out, in)) {
      return;
    }
    throw fail(
        "argument '" + outName + "' (" + out + ") overlaps argument '" + inName + "' (" + in + ") in memory;"
            + " this operation needs them separate: write into a different tensor");
  }

  /** Like {@link #disjoint} but exact aliasing (same address and layout) is allowed: in-place ops. */
  void disjointOrSame(String outName, Tensor out, String inName, Tensor in) {
    if (out.size() == 0 || in.size() == 0) {
      return;
    }
    if (out.address() == in.address() && out.dtype() == in.dtype() && sameLayout(out, in)) {
      return;
    }
    if (overlaps(out, in)) {
      throw fail(
          "argument '" + outName + "' (" + out + ") partially overlaps argument '" + inName + "' (" + in
              + "): pass the same tensor (in place) or separate tensors");
    }
  }

  /**
   * Every output is {@link #disjoint} from every input and from every earlier output, checked in
   * order (output by output: the inputs, then the earlier outputs). Null outputs (absent optional
   * gradients) are skipped.
   */
  void outputsDisjoint(String[] outNames, Tensor[] outs, String[] inNames, Tensor[] ins) {
    for (int o = 0; o < outs.length; o++) {
      if (outs[o] == null) {
        continue;
      }
      for (int i = 0; i < ins.length; i++) {
        disjoint(outNames[o], outs[o], inNames[i], ins[i]);
      }
      for (int p = 0; p < o; p++) {
        if (outs[p] != null) {
          disjoint(outNames[o], outs[o], outNames[p], outs[p]);
        }
      }
    }
  }

  private static boolean overlaps(Tensor a, Tensor b) {
    long a0 = a.address();
    long a1 = a0 + spanBytes(a);
    long b0 = b.address();
    long b1 = b0 + spanBytes(b);
    if (a1 <= b0 || b1 <= a0) {
      return false;
    }
    // Column blocks of one row-major matrix (overlapping spans imply one storage, so element
    // offsets are comparable): same dtype and row stride, disjoint column ranges within a row.
    if (a.rank() == 2 && b.rank() == 2 && a.dtype() == b.dtype() && a.stride(1) == 1 && b.stride(1) == 1
        && a.stride(0) == b.stride(0) && a.stride(0) > 0) {
      long ld = a.stride(0);
      long ac0 = Math.floorMod(a.offset(), ld);
      long ac1 = ac0 + a.dim(1);
      long bc0 = Math.floorMod(b.offset(), ld);
      long bc1 = bc0 + b.dim(1);
      if (ac1 <= ld && bc1 <= ld && (ac1 <= bc0 || bc1 <= ac0)) {
        return false;
      }
    }
    return true;
  }

  /** Bytes from element [0..0] to just past the last addressable element. */
  private static long spanBytes(Tensor t) {
    long last = 0;
    for (int d = 0; d < t.rank(); d++) {
      last += (t.dim(d) - 1) * t.stride(d);
    }
    return t.dtype().bytesFor(last + 1);
  }

  // ------------------------------------------------------------------ GEMM

  /** Sizes of one (batched) GEMM after validation. */
  record GemmShape(long batch, long m, long n, long k, Mat a, Mat b, Mat c) {}

  /** One stored matrix operand of rank 2 or 3 (leading batch dimension). */
  private Mat matrix(String name, Tensor t) {
    int rank = t.rank();
    long rows = t.dim(rank - 2);
    long cols = t.dim(rank - 1);
    if (!strict) {
      return new Mat(rows, cols, cols, rank == 3 ? t.stride(0) : 0);
    }
    if (cols > 1 && t.stride(rank - 1) != 1) {
      throw fail(
          what(name, t) + " has strides " + Arrays.toString(t.strides()) + ": a GEMM operand's last"
              + " dimension must be contiguous (stride 1); pass the transpose flag instead of a transposed"
              + " view, or make a contiguous copy");
    }
    long ld = rows > 1 ? t.stride(rank - 2) : Math.max(1, cols);
    if (ld < Math.max(1, cols)) {
      throw fail(
          what(name, t) + " has row stride " + ld + " < its row length " + cols + ": expected a row stride"
              + " >= " + Math.max(1, cols) + " (make a contiguous copy)");
    }
    long batchStride = rank == 3 ? t.stride(0) : 0;
    return new Mat(rows, cols, ld, batchStride);
  }

  /**
   * Validates {@code c = op(a) op(b)}: ranks (2, or 3 with one batch size), shapes, strides, int32
   * limits (strict) and that c overlaps neither input nor, across the batch, itself.
   */
  GemmShape gemm(boolean transA, boolean transB, Tensor a, Tensor b, Tensor c) {
    real("a", a);
    real("b", b);
    real("c", c);
    int rank = a.rank();
    if (rank != 2 && rank != 3) {
      throw fail(what("a", a) + " has rank " + rank + ": expected rank 2 [M, K] or rank 3 [batch, M, K]");
    }
    if (b.rank() != rank || c.rank() != rank) {
      throw fail(
          "ranks differ: a " + a.describe() + ", b " + b.describe() + ", c " + c.describe()
              + ": expected all rank " + rank + " (rank 3 = one batch dimension on all three)");
    }
    long batch = 1;
    if (rank == 3) {
      batch = a.dim(0);
      if (b.dim(0) != batch || c.dim(0) != batch) {
        throw fail(
            "batch sizes differ: a " + a.describe() + ", b " + b.describe() + ", c " + c.describe()
                + ": expected one batch size " + batch + " on all three");
      }
    }
    Mat ma = matrix("a", a);
    Mat mb = matrix("b", b);
    Mat mc = matrix("c", c);
    long m = transA ? ma.cols() : ma.rows();
    long k = transA ? ma.rows() : ma.cols();
    long kb = transB ? mb.cols() : mb.rows();
    long n = transB ? mb.rows() : mb.cols();
    String aForm = transA ? "a^T" : "a";
    String bForm = transB ? "b^T" : "b";
    if (kb != k) {
      throw fail(
          "inner dimensions differ: op(a) = " + aForm + " is " + m + " x " + k + " (a " + a.describe() + ") but op(b) = "
              + bForm + " is " + kb + " x " + n + " (b " + b.describe() + "); expected op(b) with " + k
              + " rows: check the shapes or the transpose flags");
    }
    if (mc.rows() != m || mc.cols() != n) {
      throw fail(
          what("c", c) + " is " + mc.rows() + " x " + mc.cols() + ": expected " + m + " x " + n + " = rows of "
              + aForm + " x columns of " + bForm);
    }
    if (strict) {
      fitsInt("M", m);
      fitsInt("N", n);
      fitsInt("K", k);
      fitsInt("row stride of a (lda)", ma.ld());
      fitsInt("row stride of b (ldb)", mb.ld());
      fitsInt("row stride of c (ldc)", mc.ld());
    }
    disjoint("c", c, "a", a);
    disjoint("c", c, "b", b);
    if (batch > 1 && m > 0 && n > 0) {
      long cSpan = (mc.rows() - 1) * (strict ? mc.ld() : c.stride(1)) + mc.cols();
      if (c.stride(0) < cSpan) {
        throw fail(
            what("c", c) + " has batch stride " + c.stride(0) + ": its matrices overlap (each spans " + cSpan
                + " elements); expected a batch stride >= " + cSpan);
      }
    }
    return new GemmShape(batch, m, n, k, ma, mb, mc);
  }

  // ------------------------------------------------------------------ kernel status codes

  /** Maps a nonzero {@code ITERA_ERR_*} status to an exception. */
  void status(int code) {
    if (code == 0) {
      return;
    }
    if (code == -1) {
      throw fail("the kernel reported ITERA_ERR_INDEX_OUT_OF_RANGE (an id or target outside [0, V))");
    }
    if (code == -2) {
      throw fail("the kernel reported ITERA_ERR_BAD_ARGUMENT (a size or stride it cannot honour)");
    }
    throw new IllegalStateException(op + ": the kernel returned unknown status " + code);
  }
}
