package dev.iteralite.tensor;

import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.Objects;
import java.util.function.Consumer;

/**
 * An n-dimensional array in native memory: the data type every backend, layer and kernel works on.
 *
 * <p>A tensor has a {@link DType}, a shape, strides (in elements, row-major by default) and an
 * element offset into a native {@code Storage}. {@link #allocate} creates an owning tensor whose
 * memory is zero-filled and released deterministically by {@link #close()}; {@link #view},
 * {@link #slice}, {@link #select} and {@link #reshape} create views that share the memory and
 * never free it. Using a tensor (or a view) after its memory was released throws {@link
 * IllegalStateException}; nothing reaches native code with a dangling address.
 *
 * <p>Element access from Java ({@link #getDouble}, {@link #copyFrom(float[])}, ...) is meant for
 * set-up, tests and the reference backend; hot loops belong in a backend.
 *
 * <p>Views are bounds-checked against the whole underlying allocation (that is what keeps native
 * code inside owned memory), not against the extent of the view they were made from. Tensors are
 * not thread-safe: share them read-only, and never close one while another thread computes with
 * it.
 */
public final class Tensor implements AutoCloseable {
  private final Storage storage;
  private final boolean owner;
  private final DType dtype;
  private final long[] shape;
  private final long[] strides;
  private final long offset;
  private final long size;
  private volatile boolean closed;

  private Tensor(Storage storage, boolean owner, DType dtype, long[] shape, long[] strides, long offset) {
    this.storage = storage;
    this.owner = owner;
    this.dtype = dtype;
    this.shape = shape;
    this.strides = strides;
    this.offset = offset;
    this.size = elementCount(shape);
  }

  // ------------------------------------------------------------------ creation

  /** A new zero-filled, contiguous tensor. The caller owns it and must {@link #close()} it. */
  public static Tensor allocate(DType dtype, long... shape) {
    Objects.requireNonNull(dtype, "dtype");
    long[] s = checkShape(shape);
    long n = elementCount(s);
    if (dtype == DType.I4 && n % 2 != 0) {
      throw new IllegalArgumentException("I4 tensors need an even element count, got shape " + Arrays.toString(s));
    }
    Storage storage = new Storage(Math.max(1, dtype.bytesFor(n)));
    return new Tensor(storage, true, dtype, s, contiguousStrides(s), 0);
  }

  /** A new F32 tensor holding a copy of {@code data} (row-major) with the given shape. */
  public static Tensor of(float[] data, long... shape) {
    return allocateFilled(DType.F32, shape, t -> t.copyFrom(data));
  }

  /** A new F64 tensor holding a copy of {@code data} (row-major) with the given shape. */
  public static Tensor ofDoubles(double[] data, long... shape) {
    return allocateFilled(DType.F64, shape, t -> t.copyFrom(data));
  }

  /** A new I32 tensor (token ids, targets) holding a copy of {@code data}. */
  public static Tensor ofInts(int[] data, long... shape) {
    return allocateFilled(DType.I32, shape, t -> t.copyFrom(data));
  }

  /** Allocates, fills, and frees again if filling fails (e.g. a length mismatch). */
  private static Tensor allocateFilled(DType dtype, long[] shape, Consumer<Tensor> fill) {
    Tensor t = allocate(dtype, shape);
    try {
      fill.accept(t);
      return t;
    } catch (RuntimeException e) {
      t.close();
      throw e;
    }
  }

  // ------------------------------------------------------------------ metadata

  public DType dtype() {
    return dtype;
  }

  /** A copy of the shape. */
  public long[] shape() {
    return shape.clone();
  }

  /** Size of dimension {@code d}; negative {@code d} counts from the end. */
  public long dim(int d) {
    return shape[axis(d)];
  }

  public int rank() {
    return shape.length;
  }

  /** A copy of the strides, in elements. */
  public long[] strides() {
    return strides.clone();
  }

  /** Stride of dimension {@code d} in elements; negative {@code d} counts from the end. */
  public long stride(int d) {
    return strides[axis(d)];
  }

  /** Number of elements. */
  public long size() {
    return size;
  }

  /** Element offset of this view into its storage. */
  public long offset() {
    return offset;
  }

  /** Whether the elements are densely packed in row-major order. */
  public boolean isContiguous() {
    long expected = 1;
    for (int d = shape.length - 1; d >= 0; d--) {
      if (shape[d] != 1 && strides[d] != expected) {
        return false;
      }
      expected *= shape[d];
    }
    return true;
  }

  /** Whether this tensor owns its memory (as opposed to being a view). */
  public boolean isOwner() {
    return owner;
  }

  /** Whether this tensor, or the storage under this view, has been released. */
  public boolean isClosed() {
    return closed || storage.isFreed();
  }

  /**
   * Native address of element {@code [0, ..., 0]}, for backends passing it to kernels.
   *
   * @throws IllegalStateException if the memory was released
   */
  public long address() {
    checkOpen();
    if (dtype == DType.I4 && offset % 2 != 0) {
      throw new IllegalStateException("an I4 view must start on a byte boundary (even element offset)");
    }
    return storage.address() + offset * dtype.bits() / 8;
  }

  /** Bytes spanned by the storage under this tensor. */
  public long storageBytes() {
    return storage.bytes();
  }

  /** Throws {@link IllegalStateException} if this tensor can no longer be used. */
  public void checkOpen() {
    if (closed) {
      throw new IllegalStateException("tensor " + describe() + " is closed");
    }
    storage.checkOpen();
  }

  /** A short description such as {@code F32[4, 7]} (used in error messages). */
  public String describe() {
    return dtype + Arrays.toString(shape);
  }

  @Override
  public String toString() {
    return "Tensor" + describe() + (isContiguous() ? "" : " strides=" + Arrays.toString(strides)) + (isClosed() ? " (closed)" : "");
  }

  // ------------------------------------------------------------------ views

  /**
   * A view with an explicit shape, strides (elements) and offset (elements, relative to this
   * tensor's offset). Every addressable element must lie inside the storage.
   */
  public Tensor view(long relativeOffset, long[] newShape, long[] newStrides) {
    checkOpen();
    long[] s = checkShape(newShape);
    if (newStrides.length != s.length) {
      throw new IllegalArgumentException("strides " + Arrays.toString(newStrides) + " do not match shape " + Arrays.toString(s));
    }
    long start = offset + relativeOffset;
    long lo = start;
    long hi = start;
    for (int d = 0; d < s.length; d++) {
      if (newStrides[d] < 0) {
        throw new IllegalArgumentException("negative strides are not supported: " + Arrays.toString(newStrides));
      }
      if (s[d] == 0) {
        hi = lo - 1;
        break;
      }
      hi += (s[d] - 1) * newStrides[d];
    }
    long capacity = storage.bytes() * 8 / dtype.bits();
    if (lo < 0 || (hi >= lo && hi >= capacity)) {
      throw new IndexOutOfBoundsException(
          "view offset " + relativeOffset + " shape " + Arrays.toString(s) + " strides " + Arrays.toString(newStrides)
              + " reaches element " + hi + " of a storage holding " + capacity);
    }
    return new Tensor(storage, false, dtype, s, newStrides.clone(), start);
  }

  /** A view of a contiguous tensor with a new shape of the same element count. */
  public Tensor reshape(long... newShape) {
    long[] s = checkShape(newShape);
    if (elementCount(s) != size) {
      throw new IllegalArgumentException("cannot reshape " + describe() + " (" + size + " elements) to " + Arrays.toString(s));
    }
    if (!isContiguous()) {
      throw new IllegalStateException("reshape needs a contiguous tensor; " + this + " is strided (copy it first)");
    }
    return view(0, s, contiguousStrides(s));
  }

  /** A view of indices {@code [start, end)} along dimension {@code d}. */
  public Tensor slice(int d, long start, long end) {
    int a = axis(d);
    if (start < 0 || end > shape[a] || start > end) {
      throw new IndexOutOfBoundsException("slice [" + start + ", " + end + ") of dimension " + a + " of " + describe());
    }
    long[] s = shape.clone();
    s[a] = end - start;
    return view(start * strides[a], s, strides);
  }

  /** A view of index {@code i} of dimension {@code d}, with that dimension removed. */
  public Tensor select(int d, long i) {
    int a = axis(d);
    if (i < 0 || i >= shape[a]) {
      throw new IndexOutOfBoundsException("index " + i + " of dimension " + a + " of " + describe());
    }
    long[] s = new long[shape.length - 1];
    long[] st = new long[shape.length - 1];
    for (int k = 0, j = 0; k < shape.length; k++) {
      if (k != a) {
        s[j] = shape[k];
        st[j++] = strides[k];
      }
    }
    return view(i * strides[a], s, st);
  }

  // ------------------------------------------------------------------ element access (Java side)

  /** Element at a multi-index, as a double (F32, F64, I32 tensors). */
  public double getDouble(long... index) {
    return readDouble(elementOffset(index));
  }

  /** Sets the element at a multi-index (F32, F64, I32 tensors; rounded to the storage type). */
  public void setDouble(double value, long... index) {
    writeDouble(elementOffset(index), value);
  }

  public float getFloat(long... index) {
    return (float) getDouble(index);
  }

  public void setFloat(float value, long... index) {
    setDouble(value, index);
  }

  public int getInt(long... index) {
    requireType(DType.I32);
    return storage.buffer().getInt(byteIndex(elementOffset(index)));
  }

  public void setInt(int value, long... index) {
    requireType(DType.I32);
    storage.buffer().putInt(byteIndex(elementOffset(index)), value);
  }

  /** Element number {@code i} in row-major logical order (whatever the strides), as a double. */
  public double getDoubleAt(long i) {
    return readDouble(logicalToStorage(i));
  }

  /** Sets element number {@code i} in row-major logical order. */
  public void setDoubleAt(long i, double value) {
    writeDouble(logicalToStorage(i), value);
  }

  /** Copies {@code data} into this tensor in row-major logical order; lengths must match. */
  public void copyFrom(float[] data) {
    checkLength(data.length);
    for (int i = 0; i < data.length; i++) {
      writeDouble(logicalToStorage(i), data[i]);
    }
  }

  /** Copies {@code data} into this tensor in row-major logical order; lengths must match. */
  public void copyFrom(double[] data) {
    checkLength(data.length);
    for (int i = 0; i < data.length; i++) {
      writeDouble(logicalToStorage(i), data[i]);
    }
  }

  /** Copies {@code data} into this I32 tensor in row-major logical order; lengths must match. */
  public void copyFrom(int[] data) {
    requireType(DType.I32);
    checkLength(data.length);
    ByteBuffer b = storage.buffer();
    for (int i = 0; i < data.length; i++) {
      b.putInt(byteIndex(logicalToStorage(i)), data[i]);
    }
  }

  /** The elements in row-major logical order. */
  public float[] toFloatArray() {
    float[] out = new float[checkedArraySize()];
    for (int i = 0; i < out.length; i++) {
      out[i] = (float) readDouble(logicalToStorage(i));
    }
    return out;
  }

  /** The elements in row-major logical order. */
  public double[] toDoubleArray() {
    double[] out = new double[checkedArraySize()];
    for (int i = 0; i < out.length; i++) {
      out[i] = readDouble(logicalToStorage(i));
    }
    return out;
  }

  /** The elements of an I32 tensor in row-major logical order. */
  public int[] toIntArray() {
    requireType(DType.I32);
    int[] out = new int[checkedArraySize()];
    ByteBuffer b = storage.buffer();
    for (int i = 0; i < out.length; i++) {
      out[i] = b.getInt(byteIndex(logicalToStorage(i)));
    }
    return out;
  }

  /** Sets every element to {@code value}. */
  public void fill(double value) {
    for (long i = 0; i < size; i++) {
      writeDouble(logicalToStorage(i), value);
    }
  }

  // ------------------------------------------------------------------ lifetime

  /**
   * Releases the memory if this tensor owns it; a view only becomes unusable. Idempotent. Views
   * of a closed owner become unusable too.
   */
  @Override
  public void close() {
    if (closed) {
      return;
    }
    closed = true;
    if (owner) {
      storage.free();
    }
  }

  // ------------------------------------------------------------------ helpers

  /** Row-major strides for a shape. */
  public static long[] contiguousStrides(long[] shape) {
    long[] st = new long[shape.length];
    long s = 1;
    for (int d = shape.length - 1; d >= 0; d--) {
      st[d] = s;
      s = Math.multiplyExact(s, Math.max(1, shape[d]));
    }
    return st;
  }

  private static long[] checkShape(long[] shape) {
    Objects.requireNonNull(shape, "shape");
    for (long s : shape) {
      if (s < 0) {
        throw new IllegalArgumentException("negative dimension in shape " + Arrays.toString(shape));
      }
    }
    elementCount(shape);
    return shape.clone();
  }

  private static long elementCount(long[] shape) {
    long n = 1;
    for (long s : shape) {
      n = Math.multiplyExact(n, s);
    }
    return n;
  }

  private int axis(int d) {
    int a = d < 0 ? d + shape.length : d;
    if (a < 0 || a >= shape.length) {
      throw new IndexOutOfBoundsException("dimension " + d + " of a rank-" + shape.length + " tensor");
    }
    return a;
  }

  private long elementOffset(long[] index) {
    if (index.length != shape.length) {
      throw new IllegalArgumentException("index of rank " + index.length + " for tensor " + describe());
    }
    long o = offset;
    for (int d = 0; d < index.length; d++) {
      if (index[d] < 0 || index[d] >= shape[d]) {
        throw new IndexOutOfBoundsException("index " + Arrays.toString(index) + " out of range for " + describe());
      }
      o += index[d] * strides[d];
    }
    return o;
  }

  private long logicalToStorage(long i) {
    if (i < 0 || i >= size) {
      throw new IndexOutOfBoundsException("element " + i + " of " + describe());
    }
    long o = offset;
    for (int d = shape.length - 1; d >= 0; d--) {
      long s = shape[d];
      o += (i % s) * strides[d];
      i /= s;
    }
    return o;
  }

  private int byteIndex(long storageElement) {
    return Math.toIntExact(storageElement * dtype.bits() / 8);
  }

  private double readDouble(long storageElement) {
    checkOpen();
    ByteBuffer b = storage.buffer();
    switch (dtype) {
      case F32:
        return b.getFloat(byteIndex(storageElement));
      case F64:
        return b.getDouble(byteIndex(storageElement));
      case I32:
        return b.getInt(byteIndex(storageElement));
      default:
        throw new UnsupportedOperationException("element access to " + dtype + " tensors is not supported from Java; convert with a backend");
    }
  }

  private void writeDouble(long storageElement, double value) {
    checkOpen();
    ByteBuffer b = storage.buffer();
    switch (dtype) {
      case F32:
        b.putFloat(byteIndex(storageElement), (float) value);
        break;
      case F64:
        b.putDouble(byteIndex(storageElement), value);
        break;
      case I32:
        b.putInt(byteIndex(storageElement), (int) value);
        break;
      default:
        throw new UnsupportedOperationException("element access to " + dtype + " tensors is not supported from Java; convert with a backend");
    }
  }

  private void requireType(DType t) {
    if (dtype != t) {
      throw new IllegalArgumentException("expected a " + t + " tensor, got " + describe());
    }
  }

  private void checkLength(int length) {
    if (length != size) {
      throw new IllegalArgumentException("array of length " + length + " does not match " + describe() + " (" + size + " elements)");
    }
  }

  private int checkedArraySize() {
    if (size > Integer.MAX_VALUE - 8) {
      throw new UnsupportedOperationException(describe() + " is too large for a Java array");
    }
    return (int) size;
  }
}
