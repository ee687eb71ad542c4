package dev.iteralite.tensor;

/**
 * Element types a {@link Tensor} can store.
 *
 * <p>{@code F32} is the compute type of the native CPU backend; {@code F64} exists for the
 * double-precision reference backend and gradient checking; {@code I32} holds token ids and
 * targets. The 16-bit, 8-bit and 4-bit types are storage formats for compressed weights: tensors
 * of those types can be allocated, copied and saved, and the kernels that compute with them
 * arrive with the compression work.
 */
public enum DType {
  F64(64, true),
  F32(32, true),
  F16(16, true),
  BF16(16, true),
  I32(32, false),
  I8(8, false),
  /** Two 4-bit values per byte; element counts must be even. */
  I4(4, false);

  private final int bits;
  private final boolean floatingPoint;

  DType(int bits, boolean floatingPoint) {
    this.bits = bits;
    this.floatingPoint = floatingPoint;
  }

  /** Storage size of one element in bits. */
  public int bits() {
    return bits;
  }

  /** Whether the type holds real numbers (as opposed to integers or codes). */
  public boolean isFloatingPoint() {
    return floatingPoint;
  }

  /** Bytes needed to store {@code elements} values of this type (rounded up to whole bytes). */
  public long bytesFor(long elements) {
    long totalBits = Math.multiplyExact(elements, (long) bits);
    return (totalBits + 7L) / 8L;
  }
}
