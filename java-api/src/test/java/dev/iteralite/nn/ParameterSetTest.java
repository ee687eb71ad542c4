package dev.iteralite.nn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.iteralite.tensor.DType;
import dev.iteralite.tensor.NativeMemory;
import dev.iteralite.tensor.Tensor;
import org.junit.jupiter.api.Test;

class ParameterSetTest {
  @Test
  void parametersAreAlignedViewsOfOneArenaWithMatchingGradientLayout() {
    ParameterSet.Builder b = ParameterSet.builder();
    Parameter a = b.add("a", Init.constant(1), true, 3, 5);
    Parameter c = b.add("c", Init.constant(2), false, 7);
    try (ParameterSet ps = b.build(DType.F32, 0)) {
      assertEquals(0, a.offset());
      assertEquals(16, c.offset());
      assertEquals(32, ps.flatSize());
      assertEquals(22, ps.parameterCount());
      assertEquals(1.0, ps.values().getDoubleAt(14));
      assertEquals(0.0, ps.values().getDoubleAt(15), "padding stays zero");
      assertEquals(2.0, ps.values().getDoubleAt(16));
      assertEquals(a.value().address() - ps.values().address(), a.grad().address() - ps.grads().address());
      assertFalse(c.weightDecay());
      try (Tensor m = ps.allocateLike()) {
        Tensor mc = ps.viewOf(m, c);
        assertArrayEquals(new long[] {7}, mc.shape());
        assertEquals(16 * 4, mc.address() - m.address());
      }
      assertEquals(c, ps.get("c"));
      assertThrows(IllegalArgumentException.class, () -> ps.get("missing"));
    }
  }

  @Test
  void initialisationIsDeterministicPerSeed() {
    double[] first;
    double[] second;
    ParameterSet.Builder b1 = ParameterSet.builder();
    b1.add("w", Init.normal(1), true, 4, 4);
    try (ParameterSet ps = b1.build(DType.F32, 7)) {
      first = ps.values().toDoubleArray();
    }
    ParameterSet.Builder b2 = ParameterSet.builder();
    b2.add("w", Init.normal(1), true, 4, 4);
    try (ParameterSet ps = b2.build(DType.F32, 7)) {
      second = ps.values().toDoubleArray();
    }
    assertArrayEquals(first, second);
    assertTrue(java.util.Arrays.stream(first).anyMatch(v -> v != 0));
  }

  @Test
  void rejectsBadDeclarations() {
    ParameterSet.Builder b = ParameterSet.builder();
    b.add("w", Init.zeros(), true, 2);
    assertThrows(IllegalArgumentException.class, () -> b.add("w", Init.zeros(), true, 2));
    assertThrows(IllegalArgumentException.class, () -> b.add("z", Init.zeros(), true, 0));
    assertThrows(IllegalArgumentException.class, () -> b.add("n", Init.zeros(), true, -3));
    assertThrows(IllegalArgumentException.class, () -> b.build(DType.I8, 0));
    long before = NativeMemory.unreleasedBytes();
    b.build(DType.F32, 0).close();
    assertEquals(before, NativeMemory.unreleasedBytes());
    assertThrows(IllegalStateException.class, () -> b.build(DType.F32, 0));
    assertThrows(IllegalStateException.class, () -> b.add("late", Init.zeros(), true, 1));
  }
}
