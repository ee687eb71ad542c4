package dev.iteralite.generate;

import java.util.Arrays;

/**
 * Picks the next token from logits: argmax at temperature 0, otherwise a draw from the softmax of
 * {@code logits / temperature} restricted to the top-k tokens and then to the top-p nucleus (of the
 * renormalised top-k distribution). Deterministic given the seed; all buffers are preallocated.
 * Not thread-safe.
 */
public final class Sampler {
  private final int vocabSize;
  private final float temperature;
  private final int topK;
  private final float topP;
  private final float[] probs;
  private final long[] order;
  private long state;

  /**
   * A sampler for a vocabulary of {@code vocabSize} tokens with the sampling settings of {@code
   * config}.
   */
  public Sampler(int vocabSize, GenerationConfig config) {
    if (vocabSize <= 0) {
      throw new IllegalArgumentException("sampler: vocabSize must be positive, got " + vocabSize);
    }
    if (config == null) {
      throw new IllegalArgumentException("sampler: config must not be null");
    }
    this.vocabSize = vocabSize;
    this.temperature = config.temperature();
    this.topK = config.topK();
    this.topP = config.topP();
    this.probs = new float[vocabSize];
    this.order = new long[vocabSize];
    // Avoid the all-zero xorshift state.
    this.state = config.seed() ^ 0x9E3779B97F4A7C15L;
    if (state == 0) {
      state = 1;
    }
  }

  /** Uniform float in [0, 1) from an xorshift64* stream. */
  private float nextFloat() {
    state ^= state >>> 12;
    state ^= state << 25;
    state ^= state >>> 27;
    long r = state * 0x2545F4914F6CDD1DL;
    return (r >>> 40) / 16777216.0f;
  }

  /** Index of the largest logit (the lowest index among ties). */
  public static int argmax(float[] logits, int n) {
    int best = 0;
    float max = logits[0];
    for (int i = 1; i < n; i++) {
      if (logits[i] > max) {
        max = logits[i];
        best = i;
      }
    }
    return best;
  }

  /**
   * The next token for {@code logits} (length at least the vocabulary size; not modified).
   *
   * @throws IllegalArgumentException if {@code logits} is too short
   */
  public int sample(float[] logits) {
    if (logits == null || logits.length < vocabSize) {
      throw new IllegalArgumentException("sampler: logits must hold " + vocabSize + " values");
    }
    if (temperature == 0f) {
      return argmax(logits, vocabSize);
    }
    float max = Float.NEGATIVE_INFINITY;
    for (int i = 0; i < vocabSize; i++) {
      max = Math.max(max, logits[i]);
    }
    double sum = 0;
    for (int i = 0; i < vocabSize; i++) {
      float p = (float) Math.exp((logits[i] - max) / temperature);
      probs[i] = p;
      sum += p;
    }
    float inv = (float) (1.0 / sum);
    for (int i = 0; i < vocabSize; i++) {
      probs[i] *= inv;
    }
    boolean filtered = (topK > 0 && topK < vocabSize) || topP < 1f;
    if (!filtered) {
      float r = nextFloat();
      float cdf = 0;
      for (int i = 0; i < vocabSize; i++) {
        cdf += probs[i];
        if (r < cdf) {
          return i;
        }
      }
      return vocabSize - 1;
    }
    // Sort by probability, descending, ties to the lower index: the key packs the (non-negative)
    // float's bits above the complemented index, sorted ascending and read from the end.
    for (int i = 0; i < vocabSize; i++) {
      order[i] = ((long) Float.floatToIntBits(probs[i]) << 32) | (0xFFFFFFFFL - i);
    }
    Arrays.sort(order, 0, vocabSize);
    int keep = topK > 0 ? Math.min(topK, vocabSize) : vocabSize;
    double keptMass = 0;
    for (int j = 0; j < keep; j++) {
      keptMass += probs[idx(vocabSize - 1 - j)];
    }
    int n = keep;
    if (topP < 1f) {
      double cum = 0;
      double limit = topP * keptMass;
      for (int j = 0; j < keep; j++) {
        cum += probs[idx(vocabSize - 1 - j)];
        if (cum > limit) {
          n = j + 1;
          break;
        }
      }
    }
    double mass = 0;
    for (int j = 0; j < n; j++) {
      mass += probs[idx(vocabSize - 1 - j)];
    }
    double r = nextFloat() * mass;
    double cdf = 0;
    for (int j = 0; j < n; j++) {
      int id = idx(vocabSize - 1 - j);
      cdf += probs[id];
      if (r < cdf) {
        return id;
      }
    }
    return idx(vocabSize - n);
  }

  private int idx(int sortedPosition) {
    return (int) (0xFFFFFFFFL - (order[sortedPosition] & 0xFFFFFFFFL));
  }
}
