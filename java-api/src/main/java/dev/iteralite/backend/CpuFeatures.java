package dev.iteralite.backend;

import java.util.Collections;
import java.util.LinkedHashSet;
import java.util.Objects;
import java.util.Set;

/**
 * What the native CPU backend found on this machine: the CPU feature flags relevant to the kernels,
 * the highest instruction-set level usable, and OpenBLAS's description of its chosen core.
 *
 * @param bits the raw {@code itera_cpu_features()} bit set ({@code ITERA_CPU_*})
 * @param maxIsa the highest {@link Isa} this CPU and this build support
 * @param blasConfig OpenBLAS's configuration string ({@code itera_blas_config()}), e.g. the core
 *     it selected
 */
public record CpuFeatures(int bits, Isa maxIsa, String blasConfig) {
  /** Flag names in bit order: name {@code FLAG_NAMES[i]} is bit {@code 1 << i}. */
  private static final String[] FLAG_NAMES = {
    "AVX2", "FMA", "F16C", "AVX512F", "AVX512BW", "AVX512DQ", "AVX512VL", "AVX512_VNNI", "AVX512_BF16",
    "AVX_VNNI"
  };

  /** Checks that no argument is null. */
  public CpuFeatures {
    Objects.requireNonNull(maxIsa, "maxIsa");
    Objects.requireNonNull(blasConfig, "blasConfig");
  }

  /**
   * The names of the flags set, in bit order: {@code AVX2, FMA, F16C, AVX512F, AVX512BW, AVX512DQ,
   * AVX512VL, AVX512_VNNI, AVX512_BF16, AVX_VNNI}.
   */
  public Set<String> flags() {
    Set<String> out = new LinkedHashSet<>();
    for (int i = 0; i < FLAG_NAMES.length; i++) {
      if ((bits & (1 << i)) != 0) {
        out.add(FLAG_NAMES[i]);
      }
    }
    return Collections.unmodifiableSet(out);
  }

  /** Whether the named flag (one of {@link #knownFlags()}, case-insensitive) is set. */
  public boolean has(String flag) {
    for (int i = 0; i < FLAG_NAMES.length; i++) {
      if (FLAG_NAMES[i].equalsIgnoreCase(flag)) {
        return (bits & (1 << i)) != 0;
      }
    }
    throw new IllegalArgumentException("unknown CPU flag '" + flag + "'; known flags: " + knownFlags());
  }

  /** Every flag name this record can report, in bit order. */
  public static Set<String> knownFlags() {
    return Collections.unmodifiableSet(new LinkedHashSet<>(java.util.Arrays.asList(FLAG_NAMES)));
  }

  /** One line such as {@code max ISA AVX512, flags [AVX2, FMA, ...], OpenBLAS config [...]}. */
  public String describe() {
    return "max ISA " + maxIsa + ", flags " + flags() + ", OpenBLAS config [" + blasConfig.trim() + "]";
  }
}
