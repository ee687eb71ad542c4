package dev.iteralite.quant;

import java.util.Locale;

/**
 * Storage formats of a weight matrix: the one place that describes each format's block geometry,
 * so {@link QuantizedMatrix}, the kernels and checkpoint writers agree on every byte count.
 *
 * <p>A matrix {@code W [rows, cols]} (rows = output features, cols = inputs {@code K}) is stored
 * as {@code rows} rows of {@link #rowBytes(long)} bytes, each a run of blocks along K; the exact
 * layouts are in the "quantised weights" section of {@code itera_kernels.h}. {@code cols} must be
 * a multiple of {@link #blockSize()}. {@link #id()} is the stable lower-case name to record in
 * files ({@code "q8_0"}, {@code "int4_g64"}, ...).
 */
public enum WeightFormat {
  /** Plain fp32 (the uncompressed baseline; products go through OpenBLAS / the native GEMV). */
  F32("f32", 0, 1),
  /** IEEE binary16, rounded to nearest even. */
  F16("f16", 1, 1),
  /** bfloat16 (the top half of fp32), rounded to nearest even. */
  BF16("bf16", 2, 1),
  /** ggml Q8_0: per 32 weights an fp16 scale and 32 int8 values (8.5 bits per weight). */
  Q8_0("q8_0", 3, 32),
  /** ggml Q4_0: per 32 weights an fp16 scale and 16 bytes of nibbles, low nibbles first (4.5 bpw). */
  Q4_0("q4_0", 4, 32),
  /** Symmetric per-channel INT8: one fp32 scale per row, int8 values in [-127, 127]. */
  INT8("int8", 5, 32),
  /** Asymmetric INT4 in groups of 32: fp16 scale and a 4-bit zero point (stored in a byte) per group. */
  INT4_G32("int4_g32", 6, 32),
  /** Asymmetric INT4 in groups of 64. */
  INT4_G64("int4_g64", 7, 64),
  /** Asymmetric INT4 in groups of 128. */
  INT4_G128("int4_g128", 8, 128),
  /** NF4 (QLoRA): 16 normal-quantile levels, an fp32 absmax per 64 weights. */
  NF4("nf4", 9, 64),
  /** NF4 with double quantisation: the absmaxes themselves stored as int8 around their row mean. */
  NF4_DQ("nf4_dq", 10, 64);

  private final String id;
  private final int code;
  private final int blockSize;

  WeightFormat(String id, int code, int blockSize) {
    this.id = id;
    this.code = code;
    this.blockSize = blockSize;
  }

  /** The stable name recorded in files, e.g. {@code "q4_0"}. */
  public String id() {
    return id;
  }

  /** The {@code ITERA_QFMT_*} value of this format. */
  public int nativeCode() {
    return code;
  }

  /** {@code cols} must be a positive multiple of this. */
  public int blockSize() {
    return blockSize;
  }

  /** Whether products quantise the activations to int8 blocks (every format but F32/F16/BF16). */
  public boolean isInteger() {
    return code >= Q8_0.code;
  }

  /**
   * Bytes of one stored row of {@code cols} weights.
   *
   * @throws IllegalArgumentException if {@code cols} is not a positive multiple of {@link #blockSize()}
   */
  public long rowBytes(long cols) {
    checkCols(cols);
    switch (this) {
      case F32:
        return Math.multiplyExact(4L, cols);
      case F16:
      case BF16:
        return Math.multiplyExact(2L, cols);
      case Q8_0:
        return cols / 32 * 34;
      case Q4_0:
        return cols / 32 * 18;
      case INT8:
        return 4 + cols;
      case INT4_G32:
      case INT4_G64:
      case INT4_G128:
        return cols / blockSize * (3 + blockSize / 2);
      case NF4:
        return cols / 64 * 36;
      case NF4_DQ:
        return 8 + cols / 64 + cols / 2;
      default:
        throw new AssertionError(this);
    }
  }

  /** Bytes of a whole {@code rows x cols} matrix. */
  public long matrixBytes(long rows, long cols) {
    if (rows <= 0) {
      throw new IllegalArgumentException(id + ": rows must be positive, got " + rows);
    }
    return Math.multiplyExact(rows, rowBytes(cols));
  }

  /** Storage bits per weight for rows of {@code cols} weights (scales and zero points included). */
  public double bitsPerWeight(long cols) {
    return 8.0 * rowBytes(cols) / cols;
  }

  /**
   * Checks that {@code cols} suits this format.
   *
   * @throws IllegalArgumentException naming the format, the block size and the nearest valid sizes
   */
  public void checkCols(long cols) {
    if (cols <= 0 || cols % blockSize != 0) {
      long lower = cols / blockSize * blockSize;
      throw new IllegalArgumentException(
          "format "
              + id
              + " stores rows in blocks of "
              + blockSize
              + " weights, so the number of columns (inputs, K) must be a positive multiple of "
              + blockSize
              + "; got "
              + cols
              + (cols > 0
                  ? " (pad K to " + (lower + blockSize) + (lower > 0 ? " or trim it to " + lower : "") + ", or use F16/BF16)"
                  : ""));
    }
  }

  /**
   * The format with the given {@link #id()} (case-insensitive).
   *
   * @throws IllegalArgumentException listing the known ids if none matches
   */
  public static WeightFormat fromId(String id) {
    String want = id == null ? "" : id.trim().toLowerCase(Locale.ROOT);
    for (WeightFormat f : values()) {
      if (f.id.equals(want)) {
        return f;
      }
    }
    StringBuilder known = new StringBuilder();
    for (WeightFormat f : values()) {
      known.append(known.length() == 0 ? "" : ", ").append(f.id);
    }
    throw new IllegalArgumentException("unknown weight format '" + id + "'; known formats: " + known);
  }
}
