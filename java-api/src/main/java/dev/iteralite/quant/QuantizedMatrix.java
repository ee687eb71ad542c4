package dev.iteralite.quant;

import dev.iteralite.nativelib.IteraNative;
import dev.iteralite.nativelib.RawPointer;
import dev.iteralite.tensor.Arena;
import dev.iteralite.tensor.DType;
import dev.iteralite.tensor.NativeMemory;
import dev.iteralite.tensor.Tensor;
import java.nio.ByteBuffer;
import java.util.Objects;

/**
 * A weight matrix {@code W [rows, cols]} stored in a compressed {@link WeightFormat} in native
 * memory, with the native products that read it directly: {@code y = W x} ({@link #gemv}) and
 * {@code Y = X W^T} ({@link #gemm}), the Linear-layer layout (rows = output features).
 *
 * <p>Integer formats quantise the activations on the fly to int8 blocks of 32 and accumulate in
 * int32; F16/BF16 convert the weights to fp32 as they stream. BF16 products multiply the
 * activations rounded to bf16 (as ggml and oneDNN do), which lets products of 8 or more rows run on
 * AVX512-BF16's bf16 dot products at twice the fp32 rate; F16 keeps them fp32. The SIMD level follows {@code
 * CpuBackend.setIsa} and the thread count {@code CpuBackend.setThreads}. The raw bytes
 * ({@link #toBytes}) together with the format and shape are the whole state, so a checkpoint can
 * store them and {@link #fromBytes} rebuild the matrix, validating every size and scale.
 *
 * <p>Owns its memory: close it (or use try-with-resources). Not thread-safe to close while a
 * product runs; concurrent products on one matrix are fine.
 */
public final class QuantizedMatrix implements AutoCloseable {
  private final WeightFormat format;
  // Built once: decoding calls gemv/gemm per matrix per token, and the names only serve messages.
  private final String gemvOp;
  private final String gemmOp;
  private final long rows;
  private final long cols;
  private final long rowBytes;
  // ITERA_QFMT_* of the bytes in `data`: chosen at creation by the kernels (Q8_0 / Q4_0 are kept
  // row-interleaved where the CPU has kernels that read that layout directly), fixed thereafter.
  private final int layout;
  private final Tensor data; // I8 [rows * rowBytes]: the rows in `layout`

  private static int layoutFor(WeightFormat format) {
    return IteraNative.itera_quant_layout(format.nativeCode());
  }

  private QuantizedMatrix(WeightFormat format, int layout, long rows, long cols, Tensor data) {
    this.format = format;
    this.layout = layout;
    this.gemvOp = "QuantizedMatrix.gemv(" + format.id() + ")";
    this.gemmOp = "QuantizedMatrix.gemm(" + format.id() + ")";
    this.rows = rows;
    this.cols = cols;
    this.rowBytes = format.rowBytes(cols);
    this.data = data;
  }

  // ------------------------------------------------------------------ creation

  /**
   * Quantises an F32 matrix {@code [rows, cols]} (row stride allowed, last dimension contiguous).
   *
   * @throws IllegalArgumentException if the tensor is not such a matrix, {@code cols} does not suit
   *     the format, or the weights hold NaN/infinity or values too large for the format's fp16 fields
   */
  public static QuantizedMatrix quantize(WeightFormat format, Tensor weights) {
    Objects.requireNonNull(format, "format");
    String op = "QuantizedMatrix.quantize(" + format.id() + ")";
    long ld = matrixStride(op, "weights", weights, -1, -1);
    long n = weights.dim(0);
    long k = weights.dim(1);
    format.checkCols(k);
    requireNative(op);
    Tensor data = Tensor.allocate(DType.I8, format.matrixBytes(n, k));
    try {
      int layout = layoutFor(format);
      int rc = IteraNative.itera_quantize(layout, n, k, weights.address(), ld, data.address());
      if (rc != 0) {
        throw new IllegalArgumentException(
            op
                + ": the weights "
                + weights.describe()
                + " hold a NaN or infinity, or a magnitude the format's fp16 fields cannot hold"
                + " (F16 weights and Q4_0/INT4 scales overflow above 65504); clean or rescale them first");
      }
      return new QuantizedMatrix(format, layout, n, k, data);
    } catch (RuntimeException e) {
      data.close();
      throw e;
    }
  }

  /** {@link #fromBytes(WeightFormat, long, long, ByteBuffer)} over an array. */
  public static QuantizedMatrix fromBytes(WeightFormat format, long rows, long cols, byte[] bytes) {
    Objects.requireNonNull(bytes, "bytes");
    return fromBytes(format, rows, cols, ByteBuffer.wrap(bytes));
  }

  /**
   * Rebuilds a matrix from its stored bytes (the buffer's remaining bytes; its position is not
   * moved), e.g. as read from a checkpoint.
   *
   * @throws IllegalArgumentException if the byte count is not exactly {@code
   *     format.matrixBytes(rows, cols)}, or a stored scale is NaN/infinite or an INT4 zero point
   *     exceeds 15 (a corrupt or mislabelled tensor)
   */
  public static QuantizedMatrix fromBytes(WeightFormat format, long rows, long cols, ByteBuffer bytes) {
    Objects.requireNonNull(format, "format");
    Objects.requireNonNull(bytes, "bytes");
    String op = "QuantizedMatrix.fromBytes(" + format.id() + ", " + rows + " x " + cols + ")";
    format.checkCols(cols);
    long expected = format.matrixBytes(rows, cols);
    if (bytes.remaining() != expected) {
      throw new IllegalArgumentException(
          op
              + ": expected "
              + expected
              + " bytes ("
              + rows
              + " rows of "
              + format.rowBytes(cols)
              + "), got "
              + bytes.remaining()
              + "; the format or the shape recorded with these bytes is wrong, or the data is truncated");
    }
    requireNative(op);
    Tensor data = Tensor.allocate(DType.I8, expected);
    try {
      int layout = layoutFor(format);
      if (layout == format.nativeCode()) {
        buffer(data, expected).put(bytes.duplicate());
        checkStored(op, format, rows, cols, data);
      } else {
        try (Tensor stored = Tensor.allocate(DType.I8, expected)) {
          buffer(stored, expected).put(bytes.duplicate());
          checkStored(op, format, rows, cols, stored);
          check(op, IteraNative.itera_quant_relayout(format.nativeCode(), layout, rows, cols, stored.address(), data.address()));
        }
      }
      return new QuantizedMatrix(format, layout, rows, cols, data);
    } catch (RuntimeException e) {
      data.close();
      throw e;
    }
  }

  private static void checkStored(String op, WeightFormat format, long rows, long cols, Tensor stored) {
    if (IteraNative.itera_quant_check(format.nativeCode(), rows, cols, stored.address()) != 0) {
      throw new IllegalArgumentException(
          op
              + ": the bytes do not hold valid "
              + format.id()
              + " rows (a scale or weight is NaN/infinite, or an INT4 zero point exceeds 15);"
              + " the data is corrupt or was written in another format");
    }
  }

  // ------------------------------------------------------------------ description

  /** The storage format. */
  public WeightFormat format() {
    return format;
  }

  /** Output features (N). */
  public long rows() {
    return rows;
  }

  /** Input features (K). */
  public long cols() {
    return cols;
  }

  /** Stored bytes (scales, zero points and padding included). */
  public long bytes() {
    return rows * rowBytes;
  }

  /** Stored bits per weight. */
  public double bitsPerWeight() {
    return 8.0 * bytes() / ((double) rows * cols);
  }

  /**
   * Native address of the weights in the layout {@link #nativeLayout()} names, for kernels; valid
   * until {@link #close()}. Q8_0, Q4_0, NF4 and INT4 may be held row-interleaved, so a row is not always at
   * {@code row * rowBytes}: read single rows with {@link #dequantizeRow}.
   */
  public long address() {
    return data.address();
  }

  /**
   * The {@code ITERA_QFMT_*} code of the bytes at {@link #address()}, chosen when the matrix was
   * made ({@code itera_quant_layout}): on CPUs with AVX-512 VNNI, Q8_0 / Q4_0 / NF4 / NF4_DQ /
   * INT4 are held in their {@code _R16} layouts (e.g. {@code ITERA_QFMT_Q8_0_R16}: the same blocks
   * with 16 rows interleaved, see itera_kernels.h), which their products read directly;
   * otherwise {@code format().nativeCode()}. {@link #toBytes} and {@link #copyTo} always give the
   * format's stored layout (ggml's, bitsandbytes' for NF4).
   */
  public int nativeLayout() {
    return layout;
  }

  /** Whether {@link #close()} has run. */
  public boolean isClosed() {
    return data.isClosed();
  }

  @Override
  public String toString() {
    return "QuantizedMatrix[" + format.id() + ", " + rows + " x " + cols + ", " + bytes() + " bytes]"
        + (isClosed() ? " (closed)" : "");
  }

  // ------------------------------------------------------------------ bytes

  /** A copy of the stored bytes (limited to matrices under 2 GiB). */
  public byte[] toBytes() {
    long n = bytes();
    if (n > Integer.MAX_VALUE - 8) {
      throw new UnsupportedOperationException(
          this + " is too large for one Java array; use copyTo(ByteBuffer) in pieces or write from address()");
    }
    byte[] out = new byte[(int) n];
    copyTo(ByteBuffer.wrap(out));
    return out;
  }

  /** Copies the stored bytes into {@code dst} at its position, advancing it by {@link #bytes()}. */
  public void copyTo(ByteBuffer dst) {
    Objects.requireNonNull(dst, "dst");
    if (dst.remaining() < bytes()) {
      throw new IllegalArgumentException(
          "QuantizedMatrix.copyTo: the buffer has " + dst.remaining() + " bytes left, " + bytes() + " needed");
    }
    checkOpen("QuantizedMatrix.copyTo");
    if (layout == format.nativeCode()) {
      dst.put(buffer(data, bytes()));
      return;
    }
    try (Tensor stored = Tensor.allocate(DType.I8, bytes())) {
      check("QuantizedMatrix.copyTo", IteraNative.itera_quant_relayout(layout, format.nativeCode(), rows, cols, address(), stored.address()));
      dst.put(buffer(stored, bytes()));
    }
  }

  // ------------------------------------------------------------------ compute

  /** A new F32 {@code [rows, cols]} tensor in {@code arena} holding the dequantised weights. */
  public Tensor dequantize(Arena arena) {
    Objects.requireNonNull(arena, "arena");
    checkOpen("dequantize");
    Tensor out = arena.allocate(DType.F32, rows, cols);
    dequantize(out);
    return out;
  }

  /** Writes the dequantised weights into {@code out}, an F32 {@code [rows, cols]} matrix (row stride allowed). */
  public void dequantize(Tensor out) {
    String op = "QuantizedMatrix.dequantize(" + format.id() + ")";
    checkOpen(op);
    long ld = matrixStride(op, "out", out, rows, cols);
    check(op, IteraNative.itera_dequantize(layout, rows, cols, address(), out.address(), ld));
  }

  /**
   * Writes row {@code row} of the dequantised weights ({@code cols} floats) to the native address
   * {@code dst}: the embedding lookup of a compressed (tied) embedding, in any layout. The caller
   * owns {@code dst} and guarantees its {@code 4 * cols} bytes.
   *
   * @throws IndexOutOfBoundsException if {@code row} is not in {@code [0, rows)}
   */
  public void dequantizeRow(long row, long dst) {
    String op = "QuantizedMatrix.dequantizeRow(" + format.id() + ")";
    checkOpen(op);
    if (row < 0 || row >= rows) {
      throw new IndexOutOfBoundsException(op + ": row " + row + " is outside [0, " + rows + ")");
    }
    if (dst == 0) {
      throw new IllegalArgumentException(op + ": the destination address is null");
    }
    check(op, IteraNative.itera_dequantize_row(layout, rows, cols, address(), row, dst));
  }

  /**
   * {@code y = W x}: {@code x} F32 with {@code cols} elements ({@code [cols]} or {@code [1, cols]}),
   * {@code y} F32 with {@code rows} elements; both contiguous, {@code y} written (never read) and
   * not overlapping {@code x}.
   */
  public void gemv(Tensor x, Tensor y) {
    String op = gemvOp;
    checkOpen(op);
    vector(op, "x", x, cols);
    vector(op, "y", y, rows);
    disjoint(op, x, 1, cols, cols, y, 1, rows, rows);
    check(op, IteraNative.itera_qgemv(layout, rows, cols, address(), x.address(), y.address()));
  }

  /**
   * {@code Y = X W^T}: {@code x} F32 {@code [M, cols]}, {@code y} F32 {@code [M, rows]} (row
   * strides allowed, last dimensions contiguous); {@code y} is written (never read) and must not
   * overlap {@code x}.
   */
  public void gemm(Tensor x, Tensor y) {
    String op = gemmOp;
    checkOpen(op);
    long ldx = matrixStride(op, "x", x, -1, cols);
    long m = x.dim(0);
    long ldy = matrixStride(op, "y", y, m, rows);
    disjoint(op, x, m, cols, ldx, y, m, rows, ldy);
    check(op, IteraNative.itera_qgemm(layout, m, rows, cols, x.address(), ldx, address(), y.address(), ldy));
  }

  /** Frees the native memory. Idempotent. */
  @Override
  public void close() {
    data.close();
  }

  // ------------------------------------------------------------------ validation

  private void checkOpen(String op) {
    if (data.isClosed()) {
      throw new IllegalStateException(op + ": " + this + " is closed");
    }
  }

  private static void requireNative(String op) {
    if (!NativeMemory.usesKernelAllocator()) {
      throw new IllegalStateException(
          op + ": quantised matrices need the native CPU kernel library, which did not load on this machine");
    }
  }

  private static void present(String op, String name, Tensor t) {
    if (t == null) {
      throw new IllegalArgumentException(op + ": argument '" + name + "' is null");
    }
    if (t.isClosed()) {
      throw new IllegalArgumentException(op + ": argument '" + name + "' (" + t + ") is closed");
    }
    if (t.dtype() != DType.F32) {
      throw new IllegalArgumentException(
          op + ": argument '" + name + "' must be F32, got " + t.describe() + "; convert it to F32 first");
    }
  }

  /**
   * Checks an F32 rank-2 matrix with a contiguous last dimension (expected rows / cols, -1 = any)
   * and returns its row stride.
   */
  private static long matrixStride(String op, String name, Tensor t, long expRows, long expCols) {
    present(op, name, t);
    if (t.rank() != 2) {
      throw new IllegalArgumentException(
          op + ": argument '" + name + "' must be a matrix [rows, cols], got " + t.describe() + "; reshape it to rank 2");
    }
    long r = t.dim(0);
    long c = t.dim(1);
    if ((expRows >= 0 && r != expRows) || (expCols >= 0 && c != expCols) || r == 0 || c == 0) {
      throw new IllegalArgumentException(
          op + ": argument '" + name + "' must have shape [" + (expRows >= 0 ? expRows : "M") + ", "
              + (expCols >= 0 ? expCols : "K") + "] (non-empty), got " + t.describe());
    }
    if (c > 1 && t.stride(1) != 1) {
      throw new IllegalArgumentException(
          op + ": argument '" + name + "' needs contiguous rows (column stride 1), got strides "
              + java.util.Arrays.toString(t.strides()) + "; copy it into a contiguous tensor");
    }
    long ld = r == 1 ? Math.max(c, t.stride(0)) : t.stride(0);
    if (ld < c) {
      throw new IllegalArgumentException(
          op + ": argument '" + name + "' has row stride " + ld + " < " + c + " columns (rows overlap)");
    }
    return ld;
  }

  private static void vector(String op, String name, Tensor t, long n) {
    present(op, name, t);
    boolean shapeOk = (t.rank() == 1 && t.dim(0) == n) || (t.rank() == 2 && t.dim(0) == 1 && t.dim(1) == n);
    if (!shapeOk) {
      throw new IllegalArgumentException(
          op + ": argument '" + name + "' must be [" + n + "] or [1, " + n + "], got " + t.describe());
    }
    if (!t.isContiguous()) {
      throw new IllegalArgumentException(
          op + ": argument '" + name + "' must be contiguous, got strides " + java.util.Arrays.toString(t.strides()));
    }
  }

  /** The output must not share bytes with the input (the kernels read x while writing y). */
  private static void disjoint(String op, Tensor x, long xr, long xc, long ldx, Tensor y, long yr, long yc, long ldy) {
    long x0 = x.address();
    long x1 = x0 + 4 * ((xr - 1) * ldx + xc);
    long y0 = y.address();
    long y1 = y0 + 4 * ((yr - 1) * ldy + yc);
    if (x0 < y1 && y0 < x1) {
      throw new IllegalArgumentException(
          op + ": output 'y' (" + y + ") overlaps input 'x' (" + x + "); write into a separate tensor");
    }
  }

  private static void check(String op, int rc) {
    if (rc != 0) {
      // Every argument was validated above, so a native refusal is a bug, not bad input.
      throw new IllegalStateException(op + ": native kernel returned status " + rc);
    }
  }

  private static ByteBuffer buffer(Tensor t, long bytes) {
    if (bytes > Integer.MAX_VALUE) {
      throw new UnsupportedOperationException("byte access from Java is limited to matrices under 2 GiB");
    }
    // JavaCPP may size the buffer by its own element size: pin it to exactly `bytes`.
    ByteBuffer b = new RawPointer(t.address(), bytes).asByteBuffer();
    b.clear().limit((int) bytes);
    return b.slice();
  }
}
