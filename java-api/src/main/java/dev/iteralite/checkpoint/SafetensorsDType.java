package dev.iteralite.checkpoint;

import dev.iteralite.tensor.DType;
import java.util.Arrays;
import java.util.Locale;

/**
 * The element types a safetensors file may hold, with their header names and storage sizes: the one
 * place where {@link Safetensors} learns how many bytes a tensor of a given shape occupies and which
 * native {@link DType} it corresponds to.
 *
 * <p>Block-quantised formats (a group of elements sharing a scale) are added here as new constants
 * that override {@link #bytesFor(long[])} and {@link #checkShape(long[])}; the reader and writer
 * only go through those two methods.
 */
public enum SafetensorsDType {
  F64("F64", 8, DType.F64),
  F32("F32", 4, DType.F32),
  F16("F16", 2, DType.F16),
  BF16("BF16", 2, DType.BF16),
  I64("I64", 8, null),
  I32("I32", 4, DType.I32),
  I16("I16", 2, null),
  I8("I8", 1, DType.I8),
  U8("U8", 1, null),
  BOOL("BOOL", 1, null);

  private final String headerName;
  private final int elementBytes;
  private final DType tensorType;

  SafetensorsDType(String headerName, int elementBytes, DType tensorType) {
    this.headerName = headerName;
    this.elementBytes = elementBytes;
    this.tensorType = tensorType;
  }

  /** The name used in the JSON header, e.g. {@code F32}. */
  public String headerName() {
    return headerName;
  }

  /** The native tensor type, or {@code null} where Itera-Lite tensors have no such type (raw bytes only). */
  public DType tensorType() {
    return tensorType;
  }

  /**
   * Bytes occupied by a tensor of this type and shape.
   *
   * @throws ArithmeticException if the size overflows a {@code long}
   */
  public long bytesFor(long[] shape) {
    return Math.multiplyExact(elementCount(shape), (long) elementBytes);
  }

  /**
   * Checks that {@code shape} can hold this type; returns {@code null} when it can, else the
   * problem (block formats need whole blocks).
   */
  public String checkShape(long[] shape) {
    for (long s : shape) {
      if (s < 0) {
        return "negative dimension in shape " + Arrays.toString(shape);
      }
    }
    return null;
  }

  /** The type named {@code name} in a header, or {@code null} if unknown. */
  public static SafetensorsDType fromHeaderName(String name) {
    for (SafetensorsDType t : values()) {
      if (t.headerName.equals(name)) {
        return t;
      }
    }
    return null;
  }

  /**
   * The safetensors type that stores a native tensor type.
   *
   * @throws IllegalArgumentException for types safetensors cannot store (I4 packed codes)
   */
  public static SafetensorsDType of(DType dtype) {
    for (SafetensorsDType t : values()) {
      if (t.tensorType == dtype) {
        return t;
      }
    }
    throw new IllegalArgumentException("safetensors has no element type for " + dtype
        + " tensors; store packed codes as U8 with their scales as separate tensors");
  }

  /** Every header name this reader knows, for error messages. */
  static String knownNames() {
    StringBuilder b = new StringBuilder();
    for (SafetensorsDType t : values()) {
      b.append(b.length() == 0 ? "" : ", ").append(t.headerName);
    }
    return b.toString().toUpperCase(Locale.ROOT);
  }

  static long elementCount(long[] shape) {
    long n = 1;
    for (long s : shape) {
      n = Math.multiplyExact(n, s);
    }
    return n;
  }
}
