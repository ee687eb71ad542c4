package dev.iteralite.data;

import java.util.SplittableRandom;

/**
 * Batches of windows at uniformly random positions: row {@code r} of a batch is {@code inputs = tokens[s, s +
 * seqLen)} and {@code targets = tokens[s + 1, s + seqLen + 1)} for a start {@code s} drawn uniformly from {@code [0,
 * size - seqLen)}, so every window and its shifted target lie inside the sequence.
 *
 * <p>Determinism and resume: batch {@code b} draws its {@code batchSize} starts, in row order, with {@code
 * SplittableRandom.nextLong(size - seqLen)} from a generator {@code new SplittableRandom(batchSeed(seed, b))}, where
 * {@link #batchSeed} mixes the seed and the batch index with the SplitMix64 finaliser. Batch {@code b} is therefore a
 * pure function of {@code (tokens, batchSize, seqLen, seed, b)}: the same seed gives the same batches, {@link
 * #restore} to a saved {@link #position()} is O(1) and exact, and {@link #batch(long)} gives random access.
 */
public final class RandomWindowSampler implements BatchSampler {
  private final TokenSequence tokens;
  private final int batchSize;
  private final int seqLen;
  private final long seed;
  private final long bound;
  private long position;

  /**
   * A sampler over {@code tokens}.
   *
   * @throws IllegalArgumentException if the shape is invalid or {@code tokens} holds fewer than {@code seqLen + 1}
   *     tokens
   */
  public RandomWindowSampler(TokenSequence tokens, int batchSize, int seqLen, long seed) {
    Samplers.checkShape(tokens, batchSize, seqLen);
    if (tokens.size() < seqLen + 1L) {
      throw new IllegalArgumentException("a window of seqLen " + seqLen + " needs at least " + (seqLen + 1L)
          + " tokens (inputs plus the shifted target), the sequence has " + tokens.size()
          + "; use a shorter seqLen or more data");
    }
    this.tokens = tokens;
    this.batchSize = batchSize;
    this.seqLen = seqLen;
    this.seed = seed;
    this.bound = tokens.size() - seqLen;
  }

  /** The seed for batch {@code index}: SplitMix64's finaliser applied to the mixed seed plus a golden-ratio step. */
  public static long batchSeed(long seed, long index) {
    return mix64(mix64(seed) + (index + 1) * 0x9E3779B97F4A7C15L);
  }

  private static long mix64(long z) {
    z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
    z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
    return z ^ (z >>> 31);
  }

  @Override
  public int batchSize() {
    return batchSize;
  }

  @Override
  public int seqLen() {
    return seqLen;
  }

  /** The seed given at construction. */
  public long seed() {
    return seed;
  }

  @Override
  public long position() {
    return position;
  }

  @Override
  public void restore(long position) {
    Samplers.checkPosition(position);
    this.position = position;
  }

  /** The start positions of batch {@code index}, in row order. */
  public long[] starts(long index) {
    Samplers.checkPosition(index);
    SplittableRandom rng = new SplittableRandom(batchSeed(seed, index));
    long[] starts = new long[batchSize];
    for (int r = 0; r < batchSize; r++) {
      starts[r] = rng.nextLong(bound);
    }
    return starts;
  }

  /** Batch {@code index} without changing the position. */
  public Batch batch(long index) {
    int n = batchSize * seqLen;
    int[] inputs = new int[n];
    int[] targets = new int[n];
    fill(index, inputs, targets);
    return new Batch(batchSize, seqLen, inputs, targets);
  }

  @Override
  public void nextInto(int[] inputs, int[] targets) {
    Samplers.checkArrays(inputs, targets, batchSize, seqLen);
    fill(position, inputs, targets);
    position++;
  }

  private void fill(long index, int[] inputs, int[] targets) {
    Samplers.checkPosition(index);
    SplittableRandom rng = new SplittableRandom(batchSeed(seed, index));
    for (int r = 0; r < batchSize; r++) {
      long start = rng.nextLong(bound); // the same draws, in the same order, as starts(index)
      tokens.read(start, inputs, r * seqLen, seqLen);
      tokens.read(start + 1, targets, r * seqLen, seqLen);
    }
  }
}
