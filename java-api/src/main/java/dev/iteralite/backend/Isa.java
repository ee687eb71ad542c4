package dev.iteralite.backend;

/**
 * Instruction-set levels of the native CPU kernels, ordered: each level implies the ones below it.
 *
 * <p>Mirrors {@code ITERA_ISA_*} in {@code itera_kernels.h}. {@link CpuBackend#setIsa(Isa)} selects
 * the level the fast kernels use (clamped to what the CPU and build support), which lets tests run
 * every SIMD path on one machine.
 */
public enum Isa {
  /** Portable C++ loops, any x86-64 ({@code ITERA_ISA_SCALAR}). */
  SCALAR(0),
  /** AVX2 + FMA + F16C ({@code ITERA_ISA_AVX2}). */
  AVX2(1),
  /** AVX-512 F/BW/DQ/VL ({@code ITERA_ISA_AVX512}). */
  AVX512(2);

  private final int level;

  Isa(int level) {
    this.level = level;
  }

  /** The {@code ITERA_ISA_*} value of this level. */
  public int level() {
    return level;
  }

  /**
   * The level with the given {@code ITERA_ISA_*} value.
   *
   * @throws IllegalArgumentException if {@code level} is not a known ISA level
   */
  public static Isa fromLevel(int level) {
    for (Isa isa : values()) {
      if (isa.level == level) {
        return isa;
      }
    }
    throw new IllegalArgumentException(
        "unknown ITERA_ISA level " + level + "; known levels are 0 (SCALAR), 1 (AVX2), 2 (AVX512)");
  }

  /** Whether this level is at least {@code other} (this level implies {@code other}). */
  public boolean atLeast(Isa other) {
    return level >= other.level;
  }
}
