package dev.iteralite.eval;

import dev.iteralite.data.TokenFile;
import dev.iteralite.data.TokenSequence;
import java.util.Objects;

/**
 * Evaluates a {@link LanguageModel} over a whole token sequence with fixed, non-overlapping,
 * contiguous windows. A sequence of {@code N} ids has {@code N - 1} targets (positions {@code 1..N-1});
 * window {@code w} feeds inputs {@code [w*L, w*L + L)} and predicts targets {@code [w*L + 1, w*L + L + 1)},
 * so every target is counted exactly once. Full windows go to the model {@code batchSize} at a time;
 * the shorter last window (the ragged tail), if any, goes alone. Each window starts from an empty
 * context. The result is deterministic.
 */
public final class Evaluator {
  private final int windowLength;
  private final int batchSize;

  /**
   * @param windowLength tokens per window (the context length), >= 1
   * @param batchSize windows per model call, >= 1
   */
  public Evaluator(int windowLength, int batchSize) {
    if (windowLength < 1) {
      throw new IllegalArgumentException("eval: window length must be >= 1, got " + windowLength);
    }
    if (batchSize < 1) {
      throw new IllegalArgumentException("eval: batch size must be >= 1, got " + batchSize);
    }
    this.windowLength = windowLength;
    this.batchSize = batchSize;
  }

  public int windowLength() {
    return windowLength;
  }

  public int batchSize() {
    return batchSize;
  }

  /** Evaluates with unknown byte and word counts (bits per byte and word perplexity are NaN). */
  public EvalResult evaluate(LanguageModel model, TokenSequence tokens) {
    return evaluate(model, tokens, -1, -1);
  }

  /**
   * Evaluates a token file, taking the byte count from its header ({@link TokenFile#sourceBytes()}).
   *
   * @param words word count for word-level perplexity (WikiText-2: including {@code <eos>}), or -1
   */
  public EvalResult evaluate(LanguageModel model, TokenFile file, long words) {
    return evaluate(model, file, file.sourceBytes(), words);
  }

  /**
   * Evaluates {@code tokens}.
   *
   * @param sourceBytes UTF-8 byte count of the text the tokens encode, or -1 if unknown
   * @param words word count of that text (WikiText-2: including {@code <eos>}), or -1 if unknown
   * @throws IllegalArgumentException if the sequence has fewer than 2 tokens, its vocabulary is
   *     larger than the model's, the model returns a negative or non-finite NLL, or a count is 0 or
   *     below -1
   */
  public EvalResult evaluate(LanguageModel model, TokenSequence tokens, long sourceBytes, long words) {
    Objects.requireNonNull(model, "model");
    Objects.requireNonNull(tokens, "tokens");
    if (sourceBytes == 0 || sourceBytes < -1) {
      throw new IllegalArgumentException("eval: source bytes must be >= 1 or -1 (unknown), got " + sourceBytes);
    }
    if (words == 0 || words < -1) {
      throw new IllegalArgumentException("eval: word count must be >= 1 or -1 (unknown), got " + words);
    }
    long n = tokens.size();
    if (n < 2) {
      throw new IllegalArgumentException("eval: need at least 2 tokens (one target), got " + n);
    }
    if (tokens.vocabSize() > model.vocabSize()) {
      throw new IllegalArgumentException("eval: sequence vocabulary " + tokens.vocabSize()
          + " exceeds the model's " + model.vocabSize());
    }
    long targets = n - 1;
    long fullWindows = targets / windowLength;
    int tail = (int) (targets % windowLength);
    double total = 0;
    long counted = 0;
    int[] buf = new int[windowLength + 1];
    for (long w = 0; w < fullWindows; w += batchSize) {
      int b = (int) Math.min(batchSize, fullWindows - w);
      int[] in = new int[b * windowLength];
      int[] tg = new int[b * windowLength];
      for (int i = 0; i < b; i++) {
        tokens.read((w + i) * windowLength, buf, 0, windowLength + 1);
        System.arraycopy(buf, 0, in, i * windowLength, windowLength);
        System.arraycopy(buf, 1, tg, i * windowLength, windowLength);
      }
      total += call(model, in, tg, b);
      counted += tg.length;
    }
    if (tail > 0) {
      tokens.read(fullWindows * windowLength, buf, 0, tail + 1);
      int[] in = java.util.Arrays.copyOfRange(buf, 0, tail);
      int[] tg = java.util.Arrays.copyOfRange(buf, 1, tail + 1);
      total += call(model, in, tg, 1);
      counted += tail;
    }
    assert counted == targets;
    return new EvalResult(total, counted, sourceBytes, words);
  }

  private static double call(LanguageModel model, int[] in, int[] tg, int batch) {
    double s = model.sumNll(in, tg, batch);
    if (!(s >= 0) || Double.isInfinite(s)) {
      throw new IllegalArgumentException("eval: model returned NLL " + s + " for " + tg.length + " targets");
    }
    return s;
  }

  @Override
  public String toString() {
    return "Evaluator(window " + windowLength + ", batch " + batchSize + ")";
  }
}
