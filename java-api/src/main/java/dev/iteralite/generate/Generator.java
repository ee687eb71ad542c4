package dev.iteralite.generate;

import dev.iteralite.model.KvCache;
import dev.iteralite.model.Transformer;
import dev.iteralite.tokenizer.Llama2cTokenizer;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * Text generation with a {@link Transformer} and a llama2.c tokenizer, following llama2.c's {@code
 * generate}: the prompt is encoded with BOS, its tokens are forced through the model, then tokens
 * are sampled until BOS (if {@link GenerationConfig#stopAtBos()}), a stop sequence, {@code
 * maxNewTokens} or the model's sequence length.
 */
public final class Generator {
  private final Transformer model;
  private final Llama2cTokenizer tokenizer;

  /** A generator over {@code model} and {@code tokenizer} (same vocabulary size). */
  public Generator(Transformer model, Llama2cTokenizer tokenizer) {
    if (model == null || tokenizer == null) {
      throw new IllegalArgumentException("generator: model and tokenizer must not be null");
    }
    if (model.config().vocabSize() != tokenizer.vocabSize()) {
      throw new IllegalArgumentException("generator: model vocabulary " + model.config().vocabSize()
          + " differs from the tokenizer's " + tokenizer.vocabSize());
    }
    this.model = model;
    this.tokenizer = tokenizer;
  }

  /** Generates without streaming. */
  public GenerationResult generate(String prompt, GenerationConfig config) {
    return generate(prompt, config, (t, p) -> {});
  }

  /**
   * Generates a continuation of {@code prompt} (may be empty), streaming text to {@code listener}.
   *
   * @throws IllegalArgumentException if the prompt does not fit the sequence length
   */
  public GenerationResult generate(String prompt, GenerationConfig config, GenerationListener listener) {
    if (prompt == null || config == null || listener == null) {
      throw new IllegalArgumentException("generator: prompt, config and listener must not be null");
    }
    int[] promptTokens = tokenizer.encode(prompt.getBytes(StandardCharsets.UTF_8), true, false);
    try (KvCache cache = model.newCache()) {
      return run(promptTokens, config, listener, cache);
    }
  }

  /**
   * Generates from already-encoded prompt tokens (BOS included if wanted) into a caller-owned cache
   * (its previous contents are overwritten).
   */
  public GenerationResult generate(int[] promptTokens, GenerationConfig config, GenerationListener listener, KvCache cache) {
    if (promptTokens == null || promptTokens.length == 0 || config == null || listener == null || cache == null) {
      throw new IllegalArgumentException("generator: need at least one prompt token, a config, a listener and a cache");
    }
    return run(promptTokens.clone(), config, listener, cache);
  }

  private GenerationResult run(int[] prompt, GenerationConfig config, GenerationListener listener, KvCache cache) {
    int seqLen = model.config().seqLen();
    if (prompt.length > seqLen) {
      throw new IllegalArgumentException("generator: prompt of " + prompt.length + " tokens exceeds the sequence length " + seqLen);
    }
    Sampler sampler = new Sampler(model.config().vocabSize(), config);
    int[] out = new int[Math.min(config.maxNewTokens(), seqLen - prompt.length + 1)];
    int generated = 0;
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    int emittedChars = 0;
    String text = "";
    GenerationResult.StopReason reason = null;
    int token = prompt[0];
    int pos = 0;
    while (true) {
      if (pos >= seqLen) {
        reason = GenerationResult.StopReason.SEQUENCE_LENGTH;
        break;
      }
      float[] logits = model.forward(token, pos, cache);
      int next;
      if (pos < prompt.length - 1) {
        next = prompt[pos + 1];
        token = next;
        pos++;
        continue;
      }
      next = sampler.sample(logits);
      pos++;
      if (config.stopAtBos() && next == Llama2cTokenizer.BOS) {
        reason = GenerationResult.StopReason.BOS;
        break;
      }
      out[generated++] = next;
      bytes.writeBytes(tokenizer.decodePiece(token, next));
      token = next;
      byte[] all = bytes.toByteArray();
      int complete = all.length - incompleteUtf8Tail(all);
      text = new String(all, 0, complete, StandardCharsets.UTF_8);
      int stopAt = firstStop(text, config, emittedChars);
      if (stopAt >= 0) {
        text = text.substring(0, stopAt);
        listener.onToken(next, text.substring(Math.min(emittedChars, stopAt)));
        emittedChars = text.length();
        reason = GenerationResult.StopReason.STOP_SEQUENCE;
        break;
      }
      int safe = text.length() - heldBack(text, config);
      String piece = safe > emittedChars ? text.substring(emittedChars, safe) : "";
      emittedChars = Math.max(emittedChars, safe);
      listener.onToken(next, piece);
      if (generated == config.maxNewTokens()) {
        reason = GenerationResult.StopReason.MAX_TOKENS;
        break;
      }
    }
    if (reason != GenerationResult.StopReason.STOP_SEQUENCE) {
      byte[] all = bytes.toByteArray();
      text = new String(all, StandardCharsets.UTF_8);
      if (text.length() > emittedChars) {
        listener.onToken(-1, text.substring(emittedChars));
      }
    }
    return new GenerationResult(text, prompt, Arrays.copyOf(out, generated), reason);
  }

  /** Earliest start of a stop sequence that may involve text after {@code from}, or -1. */
  private static int firstStop(String text, GenerationConfig config, int from) {
    int best = -1;
    for (String s : config.stopSequences()) {
      int i = text.indexOf(s, Math.max(0, from - s.length() + 1));
      if (i >= 0 && (best < 0 || i < best)) {
        best = i;
      }
    }
    return best;
  }

  /** Length of the longest suffix of {@code text} that is a proper prefix of a stop sequence. */
  private static int heldBack(String text, GenerationConfig config) {
    int hold = 0;
    for (String s : config.stopSequences()) {
      for (int len = Math.min(s.length() - 1, text.length()); len > hold; len--) {
        if (text.regionMatches(text.length() - len, s, 0, len)) {
          hold = len;
          break;
        }
      }
    }
    return hold;
  }

  /** Number of trailing bytes that start an unfinished UTF-8 sequence. */
  static int incompleteUtf8Tail(byte[] b) {
    int n = b.length;
    for (int back = 1; back <= Math.min(3, n); back++) {
      int c = b[n - back] & 0xFF;
      if ((c & 0xC0) == 0x80) {
        continue; // continuation byte
      }
      int need = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
      return need > back ? back : 0;
    }
    return 0;
  }
}
