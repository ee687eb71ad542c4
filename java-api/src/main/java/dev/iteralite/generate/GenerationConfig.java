package dev.iteralite.generate;

import java.util.List;

/**
 * Settings of one generation: sampling (temperature 0 = greedy; top-k 0 = off; top-p 1 = off),
 * seed, the number of new tokens, stop sequences and whether BOS ends the text (llama2.c's rule).
 *
 * @param maxNewTokens tokens to generate after the prompt (also bounded by the model's sequence length)
 * @param temperature 0 for greedy (argmax), otherwise logits are divided by it before the softmax
 * @param topK keep only the k most probable tokens (0 = all)
 * @param topP nucleus sampling: keep the smallest most-probable set whose probability exceeds p (1 = all)
 * @param seed seed of the sampler's random stream
 * @param stopSequences the text ends before the first occurrence of any of these
 * @param stopAtBos stop when the model emits BOS (token 1), as llama2.c does (only with a llama2.c tokenizer)
 */
public record GenerationConfig(
    int maxNewTokens, float temperature, int topK, float topP, long seed, List<String> stopSequences, boolean stopAtBos) {

  /** Validates the settings. */
  public GenerationConfig {
    if (maxNewTokens < 1) {
      throw new IllegalArgumentException("generation: maxNewTokens must be >= 1, got " + maxNewTokens);
    }
    if (!(temperature >= 0f) || Float.isInfinite(temperature)) {
      throw new IllegalArgumentException("generation: temperature must be finite and >= 0, got " + temperature);
    }
    if (topK < 0) {
      throw new IllegalArgumentException("generation: topK must be >= 0 (0 = off), got " + topK);
    }
    if (!(topP > 0f && topP <= 1f)) {
      throw new IllegalArgumentException("generation: topP must be in (0, 1] (1 = off), got " + topP);
    }
    if (stopSequences == null) {
      throw new IllegalArgumentException("generation: stopSequences must not be null (use an empty list)");
    }
    for (String s : stopSequences) {
      if (s == null || s.isEmpty()) {
        throw new IllegalArgumentException("generation: stop sequences must be non-empty strings");
      }
    }
    stopSequences = List.copyOf(stopSequences);
  }

  /** Greedy decoding of up to {@code maxNewTokens} tokens. */
  public static GenerationConfig greedy(int maxNewTokens) {
    return builder().maxNewTokens(maxNewTokens).build();
  }

  /** A builder starting from greedy decoding of 256 tokens, seed 0, no stop sequences, stop at BOS. */
  public static Builder builder() {
    return new Builder();
  }

  /** Builder of {@link GenerationConfig}. */
  public static final class Builder {
    private int maxNewTokens = 256;
    private float temperature = 0f;
    private int topK = 0;
    private float topP = 1f;
    private long seed = 0;
    private List<String> stop = List.of();
    private boolean stopAtBos = true;

    private Builder() {}

    /** Tokens to generate after the prompt. */
    public Builder maxNewTokens(int n) {
      this.maxNewTokens = n;
      return this;
    }

    /** Sampling temperature (0 = greedy). */
    public Builder temperature(float t) {
      this.temperature = t;
      return this;
    }

    /** Top-k filter (0 = off). */
    public Builder topK(int k) {
      this.topK = k;
      return this;
    }

    /** Top-p (nucleus) filter (1 = off). */
    public Builder topP(float p) {
      this.topP = p;
      return this;
    }

    /** Seed of the random stream. */
    public Builder seed(long s) {
      this.seed = s;
      return this;
    }

    /** Stop sequences. */
    public Builder stopSequences(List<String> s) {
      this.stop = s;
      return this;
    }

    /** Whether BOS ends generation. */
    public Builder stopAtBos(boolean b) {
      this.stopAtBos = b;
      return this;
    }

    /** The validated config. */
    public GenerationConfig build() {
      return new GenerationConfig(maxNewTokens, temperature, topK, topP, seed, stop, stopAtBos);
    }
  }
}
