package dev.iteralite.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.iteralite.backend.Activation;
import dev.iteralite.backend.Backends;
import dev.iteralite.backend.CpuBackend;
import dev.iteralite.tensor.Arena;
import dev.iteralite.tensor.DType;
import dev.iteralite.tensor.NativeMemory;
import dev.iteralite.tensor.Tensor;
import org.junit.jupiter.api.Test;

/**
 * Tensors, views and arenas release exactly what they allocate: after 10,000 create / compute /
 * close cycles the native unreleased-byte and -block counters are back at their starting values.
 */
class LeakTest {
  static final CpuBackend CPU = Backends.cpu();
  static final int CYCLES = 10_000;

  /**
   * Unreleased bytes and blocks: unlike the live counters they do not move when the garbage
   * collector frees a tensor some other test forgot, so no waiting for the collector is needed.
   */
  private static long[] counters() {
    return new long[] {NativeMemory.unreleasedBytes(), NativeMemory.unreleasedAllocations()};
  }

  @Test
  void tensorsAndKernelCalls() {
    long[] start = counters();
    for (int i = 0; i < CYCLES; i++) {
      int c = 1 + (i % 67);
      try (Tensor x = Tensor.allocate(DType.F32, 3, c);
          Tensor w = Tensor.allocate(DType.F32, c);
          Tensor y = Tensor.allocate(DType.F32, 3, c);
          Tensor rstd = Tensor.allocate(DType.F32, 3)) {
        w.fill(1);
        x.setDouble(i, 0, 0);
        Tensor view = x.slice(0, 1, 3); // views never own memory
        CPU.activationForward(Activation.GELU, x, y);
        CPU.rmsNormForward(x, w, 1e-5f, y, rstd);
        CPU.softmaxForward(view, y.slice(0, 0, 2));
        view.close();
      }
    }
    assertEquals(start[0], NativeMemory.unreleasedBytes(), "unreleased bytes after " + CYCLES + " cycles");
    assertEquals(start[1], NativeMemory.unreleasedAllocations(), "unreleased blocks after " + CYCLES + " cycles");
  }

  @Test
  void arenasAndWorkspaces() {
    long[] start = counters();
    try (Arena reused = Arena.open()) {
      for (int i = 0; i < CYCLES; i++) {
        try (Arena step = Arena.open()) {
          Tensor h = step.allocate(DType.F32, 2, 8);
          Tensor w = step.allocate(DType.F32, 11, 8);
          Tensor losses = step.allocate(DType.F32, 2);
          Tensor targets = step.adopt(Tensor.ofInts(new int[] {i % 11, -1}, 2));
          // allocates and frees its own workspace inside
          CPU.fusedLinearCrossEntropy(h, w, targets, -1, 0.5f, losses, null, null);
          reused.allocate(DType.F32, 1 + i % 5);
          if (i % 100 == 50) {
            reused.reset();
          }
        }
      }
      assertTrue(NativeMemory.unreleasedAllocations() > start[1], "the reused arena still owns its last tensors");
    }
    assertEquals(start[0], NativeMemory.unreleasedBytes(), "unreleased bytes after " + CYCLES + " arena cycles");
    assertEquals(start[1], NativeMemory.unreleasedAllocations(), "unreleased blocks after " + CYCLES + " arena cycles");
  }

  @Test
  void failedCallsLeakNothing() {
    long[] start = counters();
    for (int i = 0; i < 1000; i++) {
      try (Arena step = Arena.open()) {
        Tensor h = step.allocate(DType.F32, 2, 8);
        Tensor w = step.allocate(DType.F32, 11, 8);
        Tensor losses = step.allocate(DType.F32, 2);
        Tensor targets = step.adopt(Tensor.ofInts(new int[] {11 + i, 0}, 2));
        assertThrows(
            IllegalArgumentException.class,
            () -> CPU.fusedLinearCrossEntropy(h, w, targets, -1, 1f, losses, null, null));
      }
    }
    assertEquals(start[0], NativeMemory.unreleasedBytes());
    assertEquals(start[1], NativeMemory.unreleasedAllocations());
  }

  @Test
  void closeIsIdempotentAndCounted() {
    long before = NativeMemory.unreleasedAllocations();
    long beforeBytes = NativeMemory.unreleasedBytes();
    Tensor t = Tensor.allocate(DType.F32, 1000);
    assertEquals(before + 1, NativeMemory.unreleasedAllocations());
    assertTrue(NativeMemory.unreleasedBytes() >= beforeBytes + 4000);
    t.close();
    t.close();
    assertEquals(before, NativeMemory.unreleasedAllocations());
    assertEquals(beforeBytes, NativeMemory.unreleasedBytes());
  }
}
