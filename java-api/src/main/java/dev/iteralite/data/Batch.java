package dev.iteralite.data;

import dev.iteralite.tensor.Tensor;
import java.util.Objects;

/**
 * One training batch: {@code inputs} and {@code targets} of shape {@code [batchSize, seqLen]} in row-major int
 * arrays, where {@code targets[r][t]} is the token that follows {@code inputs[r][t]} in the source.
 *
 * @param batchSize rows
 * @param seqLen columns
 * @param inputs {@code batchSize * seqLen} input ids, row-major
 * @param targets {@code batchSize * seqLen} target ids, row-major
 */
public record Batch(int batchSize, int seqLen, int[] inputs, int[] targets) {
  /** Checks the array lengths against the shape. */
  public Batch {
    Objects.requireNonNull(inputs, "inputs");
    Objects.requireNonNull(targets, "targets");
    if (batchSize < 1 || seqLen < 1) {
      throw new IllegalArgumentException("batchSize and seqLen must be at least 1, got " + batchSize + " and " + seqLen);
    }
    long n = (long) batchSize * seqLen;
    if (inputs.length != n || targets.length != n) {
      throw new IllegalArgumentException("inputs and targets need batchSize * seqLen = " + n + " ids, got "
          + inputs.length + " and " + targets.length);
    }
  }

  /** A new I32 tensor {@code [batchSize, seqLen]} holding the inputs; the caller owns and closes it. */
  public Tensor inputsTensor() {
    return Tensor.ofInts(inputs, batchSize, seqLen);
  }

  /** A new I32 tensor {@code [batchSize, seqLen]} holding the targets; the caller owns and closes it. */
  public Tensor targetsTensor() {
    return Tensor.ofInts(targets, batchSize, seqLen);
  }
}
