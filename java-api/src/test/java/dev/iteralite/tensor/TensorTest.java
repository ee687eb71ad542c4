package dev.iteralite.tensor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** Tensor creation, metadata, views (slice, select, reshape, view) and close semantics. */
class TensorTest {
  @Test
  void allocateIsZeroedContiguousAndCounted() {
    long blocks = NativeMemory.unreleasedAllocations();
    try (Tensor t = Tensor.allocate(DType.F32, 3, 4)) {
      assertEquals(blocks + 1, NativeMemory.unreleasedAllocations());
      assertArrayEquals(new long[] {3, 4}, t.shape());
      assertArrayEquals(new long[] {4, 1}, t.strides());
      assertEquals(12, t.size());
      assertEquals(2, t.rank());
      assertEquals(4, t.dim(-1));
      assertTrue(t.isContiguous());
      assertTrue(t.isOwner());
      assertEquals(0, t.address() % 64, "64-byte aligned");
      for (double v : t.toDoubleArray()) {
        assertEquals(0.0, v);
      }
    }
    assertEquals(blocks, NativeMemory.unreleasedAllocations());
  }

  @Test
  void aTensorNeverClosedIsFreedByTheCollectorAndCountedAsALeak() throws InterruptedException {
    long unreleased = NativeMemory.unreleasedBytes();
    long reclaimed = NativeMemory.reclaimedBytes();
    forgetTensorOf(1_000_003);
    assertEquals(unreleased + 4_000_012, NativeMemory.unreleasedBytes(), "a forgotten tensor is unreleased");
    // the live count is not asserted: it also moves with whatever else the collector frees
    for (int i = 0; i < 500 && NativeMemory.reclaimedBytes() < reclaimed + 4_000_012; i++) {
      System.gc();
      Thread.sleep(10);
    }
    assertTrue(NativeMemory.reclaimedBytes() >= reclaimed + 4_000_012, "the safety net freed and counted it");
    assertTrue(NativeMemory.unreleasedBytes() >= unreleased + 4_000_012, "but it still counts as a leak");
  }

  private static void forgetTensorOf(int floats) {
    Tensor.allocate(DType.F32, floats).fill(1);
  }

  @Test
  void elementAccessRoundTrips() {
    try (Tensor f = Tensor.of(new float[] {1, 2, 3, 4, 5, 6}, 2, 3);
        Tensor d = Tensor.ofDoubles(new double[] {0.1, 0.2}, 2);
        Tensor i = Tensor.ofInts(new int[] {7, -8, 9}, 3)) {
      assertEquals(6.0, f.getDouble(1, 2));
      f.setFloat(9.5f, 0, 1);
      assertEquals(9.5f, f.getFloat(0, 1));
      assertEquals(0.1, d.getDouble(0), 0.0, "F64 keeps full precision");
      assertArrayEquals(new int[] {7, -8, 9}, i.toIntArray());
      i.setInt(11, 2);
      assertEquals(11, i.getInt(2));
      assertThrows(IllegalArgumentException.class, () -> f.getInt(0, 0), "getInt needs I32");
      assertThrows(IndexOutOfBoundsException.class, () -> f.getDouble(2, 0));
      assertThrows(IllegalArgumentException.class, () -> f.getDouble(1));
      assertThrows(IllegalArgumentException.class, () -> f.copyFrom(new float[5]));
    }
  }

  @Test
  void sliceSelectAndStridedViews() {
    try (Tensor t = Tensor.allocate(DType.F32, 4, 5)) {
      for (int i = 0; i < 20; i++) {
        t.setDoubleAt(i, i);
      }
      Tensor cols = t.slice(1, 1, 4);
      assertArrayEquals(new long[] {4, 3}, cols.shape());
      assertArrayEquals(new long[] {5, 1}, cols.strides());
      assertFalse(cols.isContiguous());
      assertFalse(cols.isOwner());
      assertEquals(1, cols.offset());
      assertEquals(t.address() + 4, cols.address());
      assertArrayEquals(new double[] {1, 2, 3, 6, 7, 8, 11, 12, 13, 16, 17, 18}, cols.toDoubleArray());
      cols.setDouble(-1, 3, 2);
      assertEquals(-1, t.getDouble(3, 3));

      Tensor row = t.select(0, 2);
      assertArrayEquals(new long[] {5}, row.shape());
      assertTrue(row.isContiguous());
      assertEquals(12, row.getDouble(2));
      Tensor col = t.select(1, 4);
      assertArrayEquals(new long[] {5}, col.strides());
      assertArrayEquals(new double[] {4, 9, 14, 19}, col.toDoubleArray());

      Tensor rows = t.slice(0, 1, 3);
      assertTrue(rows.isContiguous());
      Tensor empty = t.slice(0, 2, 2);
      assertEquals(0, empty.size());

      assertThrows(IndexOutOfBoundsException.class, () -> t.slice(1, 0, 6));
      assertThrows(IndexOutOfBoundsException.class, () -> t.slice(0, -1, 2));
      assertThrows(IndexOutOfBoundsException.class, () -> t.slice(2, 0, 1));
      assertThrows(IndexOutOfBoundsException.class, () -> t.select(0, 4));
      assertThrows(IndexOutOfBoundsException.class, () -> t.select(-3, 0));

      Tensor transposed = t.view(0, new long[] {5, 4}, new long[] {1, 5});
      assertEquals(t.getDouble(2, 3), transposed.getDouble(3, 2));
      assertThrows(IndexOutOfBoundsException.class, () -> t.view(1, new long[] {4, 5}, new long[] {5, 1}),
          "a view may not reach past the storage");
      assertThrows(IndexOutOfBoundsException.class, () -> t.view(-1, new long[] {2}, new long[] {1}));
    }
  }

  @Test
  void reshapeKeepsElementsAndNeedsContiguity() {
    try (Tensor t = Tensor.of(new float[] {1, 2, 3, 4, 5, 6}, 2, 3)) {
      Tensor r = t.reshape(3, 2);
      assertArrayEquals(new long[] {3, 2}, r.shape());
      assertEquals(4.0, r.getDouble(1, 1));
      Tensor flat = t.reshape(6);
      assertArrayEquals(t.toDoubleArray(), flat.toDoubleArray());
      assertThrows(IllegalArgumentException.class, () -> t.reshape(4, 2));
      assertThrows(IllegalArgumentException.class, () -> t.reshape(-2, -3));
      assertThrows(IllegalStateException.class, () -> t.slice(1, 0, 2).reshape(4));
    }
  }

  @Test
  void closeSemantics() {
    long bytes = NativeMemory.unreleasedBytes();
    Tensor t = Tensor.allocate(DType.F64, 10);
    Tensor v = t.slice(0, 2, 5);
    Tensor vv = v.select(0, 1);
    v.close(); // closing a view frees nothing and leaves the owner usable
    assertTrue(v.isClosed());
    assertFalse(t.isClosed());
    assertEquals(0.0, t.getDouble(9));
    assertEquals(0.0, vv.getDouble(), "a view of a closed view still sees open memory");
    IllegalStateException e = assertThrows(IllegalStateException.class, v::address);
    assertTrue(e.getMessage().contains("closed"), e.getMessage());

    t.close();
    t.close(); // idempotent
    assertEquals(bytes, NativeMemory.unreleasedBytes());
    assertTrue(t.isClosed());
    assertTrue(vv.isClosed(), "views of a closed owner are closed");
    assertThrows(IllegalStateException.class, t::address);
    assertThrows(IllegalStateException.class, vv::address);
    assertThrows(IllegalStateException.class, () -> vv.getDouble());
    assertThrows(IllegalStateException.class, () -> t.slice(0, 0, 1));
    assertThrows(IllegalStateException.class, t::checkOpen);
    assertTrue(t.toString().contains("closed"));
  }

  @Test
  void badShapesAndTypes() {
    assertThrows(IllegalArgumentException.class, () -> Tensor.allocate(DType.F32, 2, -1));
    assertThrows(ArithmeticException.class, () -> Tensor.allocate(DType.F32, Long.MAX_VALUE, 4));
    assertThrows(IllegalArgumentException.class, () -> Tensor.allocate(DType.I4, 3), "I4 needs an even count");
    try (Tensor q = Tensor.allocate(DType.I4, 8)) {
      assertEquals(4, q.storageBytes());
      assertThrows(UnsupportedOperationException.class, () -> q.getDouble(0));
      assertThrows(IllegalStateException.class, () -> q.slice(0, 1, 3).address(), "odd I4 offsets are not byte aligned");
    }
    try (Tensor h = Tensor.allocate(DType.BF16, 3)) {
      assertEquals(6, h.storageBytes());
      assertThrows(UnsupportedOperationException.class, () -> h.setDouble(1, 0));
    }
    try (Tensor s = Tensor.allocate(DType.F32)) {
      assertEquals(1, s.size(), "a rank-0 tensor holds one element");
      s.setDouble(3);
      assertEquals(3.0, s.getDouble());
    }
  }
}
