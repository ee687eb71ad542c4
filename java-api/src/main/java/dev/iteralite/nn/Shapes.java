package dev.iteralite.nn;

import dev.iteralite.tensor.Tensor;

/** Precondition checks shared by the layers (the backends re-check what reaches kernels). */
final class Shapes {
  private Shapes() {}

  static void requireRank2(String layer, String what, Tensor t, long cols) {
    if (t == null) {
      throw new IllegalArgumentException(layer + ": " + what + " is null");
    }
    if (t.rank() != 2 || (cols >= 0 && t.dim(1) != cols)) {
      throw new IllegalArgumentException(
          layer + ": " + what + " must be [rows, " + (cols >= 0 ? cols : "C") + "], got " + t.describe());
    }
  }

  static void requireSaved(String layer, Object saved) {
    if (saved == null) {
      throw new IllegalStateException(layer + ": backward called before forward");
    }
  }
}
