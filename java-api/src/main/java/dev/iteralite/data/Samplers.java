package dev.iteralite.data;

import java.util.Objects;

/** Argument checks shared by the samplers. */
final class Samplers {
  private Samplers() {}

  static void checkShape(TokenSequence tokens, int batchSize, int seqLen) {
    Objects.requireNonNull(tokens, "tokens");
    if (batchSize < 1) {
      throw new IllegalArgumentException("batchSize must be at least 1, got " + batchSize);
    }
    if (seqLen < 1) {
      throw new IllegalArgumentException("seqLen must be at least 1, got " + seqLen);
    }
    if ((long) batchSize * seqLen > Integer.MAX_VALUE - 8) {
      throw new IllegalArgumentException("batchSize * seqLen = " + (long) batchSize * seqLen
          + " is too large for one int array; use smaller batches");
    }
  }

  static void checkArrays(int[] inputs, int[] targets, int batchSize, int seqLen) {
    Objects.requireNonNull(inputs, "inputs");
    Objects.requireNonNull(targets, "targets");
    int n = batchSize * seqLen;
    if (inputs.length != n || targets.length != n) {
      throw new IllegalArgumentException("inputs and targets must each hold batchSize * seqLen = " + n
          + " ids, got " + inputs.length + " and " + targets.length);
    }
  }

  static void checkPosition(long position) {
    if (position < 0) {
      throw new IllegalArgumentException("position must be >= 0, got " + position
          + "; pass a value saved from position()");
    }
  }
}
