package dev.iteralite.data;

/**
 * Produces an endless, deterministic sequence of {@link Batch}es from a {@link TokenSequence}. The sequence is a pure
 * function of the sampler's configuration (tokens, shape, seed), and its {@link #position()} is all the state needed
 * to resume: a new sampler with the same configuration, {@link #restore restored} to a saved position, continues
 * exactly as the original would have.
 */
public interface BatchSampler {
  /** Rows per batch. */
  int batchSize();

  /** Tokens per row. */
  int seqLen();

  /** Number of batches produced so far (the index of the next batch). */
  long position();

  /**
   * Sets the index of the next batch (e.g. a value saved from {@link #position()}).
   *
   * @throws IllegalArgumentException if {@code position < 0}
   */
  void restore(long position);

  /**
   * Writes the next batch into {@code inputs} and {@code targets} (each {@code batchSize() * seqLen()} long,
   * row-major) and advances the position. Allocates no arrays.
   *
   * @throws IllegalArgumentException if an array has the wrong length
   */
  void nextInto(int[] inputs, int[] targets);

  /** The next batch in new arrays; advances the position. */
  default Batch next() {
    int n = batchSize() * seqLen();
    int[] inputs = new int[n];
    int[] targets = new int[n];
    nextInto(inputs, targets);
    return new Batch(batchSize(), seqLen(), inputs, targets);
  }
}
