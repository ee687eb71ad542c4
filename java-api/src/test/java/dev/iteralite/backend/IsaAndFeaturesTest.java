package dev.iteralite.backend;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

/** {@link Isa} levels and the flag names decoded by {@link CpuFeatures}. */
class IsaAndFeaturesTest {
  @Test
  void isaLevelsMatchTheHeader() {
    assertEquals(0, Isa.SCALAR.level());
    assertEquals(1, Isa.AVX2.level());
    assertEquals(2, Isa.AVX512.level());
    for (Isa isa : Isa.values()) {
      assertEquals(isa, Isa.fromLevel(isa.level()));
    }
    assertThrows(IllegalArgumentException.class, () -> Isa.fromLevel(3));
    assertTrue(Isa.AVX512.atLeast(Isa.AVX2));
    assertFalse(Isa.SCALAR.atLeast(Isa.AVX2));
  }

  @Test
  void flagBitsDecodeToNames() {
    // ITERA_CPU_AVX2 | FMA | AVX512F | AVX512_VNNI | AVX512_BF16
    int bits = (1 << 0) | (1 << 1) | (1 << 3) | (1 << 7) | (1 << 8);
    CpuFeatures f = new CpuFeatures(bits, Isa.AVX2, " Haswell MAX_THREADS=64 ");
    assertEquals(List.of("AVX2", "FMA", "AVX512F", "AVX512_VNNI", "AVX512_BF16"), List.copyOf(f.flags()));
    assertTrue(f.has("avx512_vnni"));
    assertFalse(f.has("F16C"));
    assertThrows(IllegalArgumentException.class, () -> f.has("SSE9"));
    assertEquals(10, CpuFeatures.knownFlags().size());
    assertTrue(f.describe().contains("max ISA AVX2") && f.describe().contains("OpenBLAS config [Haswell MAX_THREADS=64]"), f.describe());
    assertEquals(List.of(), List.copyOf(new CpuFeatures(0, Isa.SCALAR, "").flags()));
  }
}
