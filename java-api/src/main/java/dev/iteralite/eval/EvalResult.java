package dev.iteralite.eval;

import java.util.Locale;

/**
 * The result of an evaluation.
 *
 * @param totalNll summed negative log-likelihood over every counted target, in nats
 * @param tokens number of counted targets
 * @param sourceBytes UTF-8 byte count of the evaluated text, or -1 if unknown
 * @param words word count of the evaluated text (WikiText: including one {@code <eos>} per line), or
 *     -1 if unknown
 */
public record EvalResult(double totalNll, long tokens, long sourceBytes, long words) {
  private static final double LN2 = Math.log(2.0);

  /**
   * @throws IllegalArgumentException if {@code tokens < 1}, {@code totalNll} is negative or not
   *     finite, or {@code sourceBytes}/{@code words} is 0 or below -1
   */
  public EvalResult {
    if (tokens < 1) {
      throw new IllegalArgumentException("eval: token count must be >= 1, got " + tokens);
    }
    if (!(totalNll >= 0) || Double.isInfinite(totalNll)) {
      throw new IllegalArgumentException("eval: total NLL must be finite and >= 0, got " + totalNll);
    }
    if (sourceBytes == 0 || sourceBytes < -1) {
      throw new IllegalArgumentException("eval: source bytes must be >= 1 or -1 (unknown), got " + sourceBytes);
    }
    if (words == 0 || words < -1) {
      throw new IllegalArgumentException("eval: word count must be >= 1 or -1 (unknown), got " + words);
    }
  }

  /** Mean loss in nats per token. */
  public double loss() {
    return totalNll / tokens;
  }

  /** Token-level perplexity {@code exp(loss)}. */
  public double perplexity() {
    return Math.exp(loss());
  }

  /** Bits per token {@code loss / ln 2}. */
  public double bitsPerToken() {
    return loss() / LN2;
  }

  /** Whether {@link #bitsPerByte()} is defined. */
  public boolean hasBytes() {
    return sourceBytes > 0;
  }

  /** Whether {@link #wordPerplexity()} is defined. */
  public boolean hasWords() {
    return words > 0;
  }

  /** Bits per byte {@code totalNll / (ln 2 * sourceBytes)}, NaN if the byte count is unknown. */
  public double bitsPerByte() {
    return hasBytes() ? totalNll / (LN2 * sourceBytes) : Double.NaN;
  }

  /** Word-level perplexity {@code exp(totalNll / words)}, NaN if the word count is unknown. */
  public double wordPerplexity() {
    return hasWords() ? Math.exp(totalNll / words) : Double.NaN;
  }

  @Override
  public String toString() {
    StringBuilder s = new StringBuilder();
    s.append(String.format(Locale.ROOT, "loss %.4f nats/token, ppl %.3f, %.4f bits/token over %d tokens",
        loss(), perplexity(), bitsPerToken(), tokens));
    if (hasBytes()) {
      s.append(String.format(Locale.ROOT, ", %.4f bits/byte (%d bytes)", bitsPerByte(), sourceBytes));
    }
    if (hasWords()) {
      s.append(String.format(Locale.ROOT, ", word ppl %.3f (%d words)", wordPerplexity(), words));
    }
    s.append(String.format(Locale.ROOT, ", total NLL %.3f nats", totalNll));
    return s.toString();
  }
}
