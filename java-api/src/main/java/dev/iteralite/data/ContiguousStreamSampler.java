package dev.iteralite.data;

/**
 * The classic truncated-BPTT layout (pytorch/examples word_language_model's {@code batchify} and {@code get_batch}):
 * the sequence is cut into {@code batchSize} parallel lanes of {@code laneLength = size / batchSize} tokens (the
 * remainder at the end is dropped), lane {@code j} being {@code tokens[j * laneLength, (j + 1) * laneLength)}; batch
 * {@code w} of an epoch holds, in row {@code j}, {@code inputs = lane_j[w * seqLen, (w + 1) * seqLen)} and {@code
 * targets} the same window shifted by one. Consecutive batches continue each lane, so a recurrent state can be
 * carried from one batch to the next.
 *
 * <p>An epoch has {@code windowsPerEpoch = (laneLength - 1) / seqLen} batches (the final window shorter than {@code
 * seqLen} is dropped so that every batch has the same shape); after it the next epoch starts again at the lane
 * starts. There is no randomness: batch {@code p} is window {@code p % windowsPerEpoch} of epoch {@code p /
 * windowsPerEpoch}, and {@link #restore} to a saved {@link #position()} resumes exactly. For evaluation, take {@link
 * #windowsPerEpoch()} batches from position 0.
 */
public final class ContiguousStreamSampler implements BatchSampler {
  private final TokenSequence tokens;
  private final int batchSize;
  private final int seqLen;
  private final long laneLength;
  private final long windows;
  private long position;

  /**
   * A sampler over {@code tokens}.
   *
   * @throws IllegalArgumentException if the shape is invalid or a lane is too short for one window ({@code size /
   *     batchSize < seqLen + 1})
   */
  public ContiguousStreamSampler(TokenSequence tokens, int batchSize, int seqLen) {
    Samplers.checkShape(tokens, batchSize, seqLen);
    this.laneLength = tokens.size() / batchSize;
    if (laneLength < seqLen + 1L) {
      throw new IllegalArgumentException("each of the " + batchSize + " lanes holds " + laneLength
          + " tokens but one window of seqLen " + seqLen + " needs " + (seqLen + 1L)
          + "; use fewer lanes, a shorter seqLen or more data");
    }
    this.tokens = tokens;
    this.batchSize = batchSize;
    this.seqLen = seqLen;
    this.windows = (laneLength - 1) / seqLen;
  }

  @Override
  public int batchSize() {
    return batchSize;
  }

  @Override
  public int seqLen() {
    return seqLen;
  }

  /** Tokens per lane. */
  public long laneLength() {
    return laneLength;
  }

  /** Batches per pass over the lanes. */
  public long windowsPerEpoch() {
    return windows;
  }

  /** The epoch of the next batch ({@code position() / windowsPerEpoch()}). */
  public long epoch() {
    return position / windows;
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

  /** Where row {@code lane} of batch {@code index} starts in the token sequence. */
  public long start(long index, int lane) {
    Samplers.checkPosition(index);
    if (lane < 0 || lane >= batchSize) {
      throw new IndexOutOfBoundsException("lane " + lane + " is outside [0, " + batchSize + ")");
    }
    return lane * laneLength + (index % windows) * seqLen;
  }

  @Override
  public void nextInto(int[] inputs, int[] targets) {
    Samplers.checkArrays(inputs, targets, batchSize, seqLen);
    for (int j = 0; j < batchSize; j++) {
      long s = start(position, j);
      tokens.read(s, inputs, j * seqLen, seqLen);
      tokens.read(s + 1, targets, j * seqLen, seqLen);
    }
    position++;
  }
}
