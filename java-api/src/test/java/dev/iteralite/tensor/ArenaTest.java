package dev.iteralite.tensor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** Arenas own their tensors and free them together, on reset and on close. */
class ArenaTest {
  @Test
  void closeFreesEverything() {
    long bytes = NativeMemory.unreleasedBytes();
    long blocks = NativeMemory.unreleasedAllocations();
    Tensor a;
    Tensor adopted;
    Tensor view;
    try (Arena arena = Arena.open()) {
      a = arena.allocate(DType.F32, 16, 16);
      arena.allocate(DType.I32, 7);
      adopted = arena.adopt(Tensor.allocate(DType.F64, 3));
      view = a.slice(0, 1, 2);
      assertEquals(3, arena.tensorCount());
      assertEquals(blocks + 3, NativeMemory.unreleasedAllocations());
      assertFalse(a.isClosed());
    }
    assertTrue(a.isClosed());
    assertTrue(adopted.isClosed());
    assertTrue(view.isClosed());
    assertEquals(bytes, NativeMemory.unreleasedBytes());
    assertEquals(blocks, NativeMemory.unreleasedAllocations());
  }

  @Test
  void resetFreesAndKeepsTheArenaOpen() {
    long blocks = NativeMemory.unreleasedAllocations();
    try (Arena arena = Arena.open()) {
      Tensor first = arena.allocate(DType.F32, 4);
      arena.reset();
      assertTrue(first.isClosed());
      assertEquals(0, arena.tensorCount());
      assertEquals(blocks, NativeMemory.unreleasedAllocations());
      Tensor second = arena.allocate(DType.F32, 4);
      assertFalse(second.isClosed());
      assertEquals(blocks + 1, NativeMemory.unreleasedAllocations());
    }
    assertEquals(blocks, NativeMemory.unreleasedAllocations());
  }

  @Test
  void closedArenaRefusesWorkAndClosesIdempotently() {
    Arena arena = Arena.open();
    arena.close();
    arena.close();
    IllegalStateException e = assertThrows(IllegalStateException.class, () -> arena.allocate(DType.F32, 1));
    assertTrue(e.getMessage().contains("closed"), e.getMessage());
    assertThrows(IllegalStateException.class, arena::reset);
    try (Tensor t = Tensor.allocate(DType.F32, 1)) {
      assertThrows(IllegalStateException.class, () -> arena.adopt(t));
      assertFalse(t.isClosed(), "a refused adoption leaves the tensor with its caller");
    }
  }

  @Test
  void tensorsClosedEarlyAreNotFreedTwice() {
    long blocks = NativeMemory.unreleasedAllocations();
    try (Arena arena = Arena.open()) {
      Tensor t = arena.allocate(DType.F32, 8);
      t.close();
      assertEquals(blocks, NativeMemory.unreleasedAllocations());
      Tensor u = arena.allocate(DType.F32, 8);
      assertSame(DType.F32, u.dtype());
    }
    assertEquals(blocks, NativeMemory.unreleasedAllocations());
  }
}
