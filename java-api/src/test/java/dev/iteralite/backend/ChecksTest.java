package dev.iteralite.backend;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.iteralite.tensor.DType;
import dev.iteralite.tensor.Tensor;
import org.junit.jupiter.api.Test;

/** Layout analysis and overlap detection of the shared validator. */
class ChecksTest {
  @Test
  void rowsCollapseLeadingDimensions() {
    try (Tensor t = Tensor.allocate(DType.F32, 2, 3, 8)) {
      Checks.Rows r = Checks.cpu("op").rows("x", t);
      assertEquals(new Checks.Rows(6, 8, 8), r);
      Checks.Rows strided = Checks.cpu("op").rows("x", t.slice(2, 1, 5));
      assertEquals(new Checks.Rows(6, 4, 8), strided);
      // [2, 2, 8] out of [2, 3, 8]: the batch stride 24 is not 2 * 8, rows cannot merge
      IllegalArgumentException e =
          assertThrows(IllegalArgumentException.class, () -> Checks.cpu("op").rows("x", t.slice(1, 0, 2)));
      assertTrue(e.getMessage().contains("cannot be merged"), e.getMessage());
      // the reference backend needs no particular layout
      assertEquals(new Checks.Rows(4, 8, 8), Checks.reference("op").rows("x", t.slice(1, 0, 2)));
      // one row: any row stride is fine, ld falls back to C
      assertEquals(new Checks.Rows(1, 8, 8), Checks.cpu("op").rows("x", t.select(0, 1).slice(0, 2, 3)));
    }
  }

  @Test
  void overlapDetection() {
    try (Tensor m = Tensor.allocate(DType.F32, 4, 8); Tensor other = Tensor.allocate(DType.F32, 4, 8)) {
      Checks k = Checks.cpu("op");
      k.disjoint("a", m.slice(1, 0, 3), "b", m.slice(1, 3, 8)); // column blocks
      k.disjoint("a", m.slice(0, 0, 2), "b", m.slice(0, 2, 4)); // row blocks
      k.disjoint("a", m, "b", other);
      k.disjoint("a", m.slice(0, 0, 0), "b", m); // empty
      assertThrows(IllegalArgumentException.class, () -> k.disjoint("a", m.slice(1, 0, 4), "b", m.slice(1, 3, 8)));
      assertThrows(IllegalArgumentException.class, () -> k.disjoint("a", m, "b", m.select(0, 3)));
      k.disjointOrSame("out", m, "in", m.reshape(4, 8));
      IllegalArgumentException e = assertThrows(
          IllegalArgumentException.class, () -> k.disjointOrSame("out", m.reshape(32), "in", m.reshape(32).slice(0, 1, 32)));
      assertTrue(e.getMessage().startsWith("op: argument 'out'"), e.getMessage());
    }
  }

  @Test
  void statusCodesBecomeExceptions() {
    Checks k = Checks.cpu("embeddingForward");
    k.status(0);
    assertTrue(assertThrows(IllegalArgumentException.class, () -> k.status(-1)).getMessage()
        .contains("ITERA_ERR_INDEX_OUT_OF_RANGE"));
    assertTrue(assertThrows(IllegalArgumentException.class, () -> k.status(-2)).getMessage()
        .contains("ITERA_ERR_BAD_ARGUMENT"));
    assertTrue(assertThrows(IllegalStateException.class, () -> k.status(7)).getMessage().contains("7"));
  }

  @Test
  void gemmLimitsFitOpenBlasInt() {
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> Checks.cpu("gemm").fitsInt("K", 1L << 31));
    assertTrue(e.getMessage().contains("32-bit"), e.getMessage());
    Checks.cpu("gemm").fitsInt("K", Integer.MAX_VALUE);
  }
}
