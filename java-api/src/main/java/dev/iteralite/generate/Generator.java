package dev.iteralite.generate;

import dev.iteralite.model.CausalLm;
import dev.iteralite.model.DecodeSession;
import dev.iteralite.model.KvCache;
import dev.iteralite.model.Transformer;
import dev.iteralite.tokenizer.Llama2cTokenizer;
import dev.iteralite.tokenizer.Tokenizer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Collections;
import java.util.Map;
import java.util.WeakHashMap;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Supplier;

/**
 * Text generation with any {@link CausalLm} (or llama2.c's {@link Transformer}) and any {@link
 * Tokenizer}: the prompt is encoded and prefilled into a fresh {@link DecodeSession}, then tokens are
 * sampled until a stop sequence, {@code maxNewTokens}, the model's sequence length, cancellation by
 * the listener or, with a llama2.c tokenizer and {@link GenerationConfig#stopAtBos()}, BOS.
 *
 * <p>With a {@link Llama2cTokenizer} this is llama2.c's {@code generate}: the prompt gets a BOS
 * prefix and pieces are decoded with {@link Llama2cTokenizer#decodePiece} (a piece after BOS loses
 * its leading space). Other tokenizers encode the prompt as it is (it must give at least one token)
 * and the text of a token is what it adds to the decoding of the token before it.
 *
 * <p>Thread-safe: each generation has its own decoding state, and calls into one model (from any
 * number of generators and threads) are serialised through a per-model lock, because layers keep
 * per-call buffers. The lock is not fair: a generation that just finished a step usually takes the
 * next one too, which saves a thread hand-off per token (measured faster on 2 busy cores).
 */
public final class Generator {
  /** One lock per model instance (weak keys: an unreachable model drops its lock). */
  private static final Map<Object, ReentrantLock> LOCKS = Collections.synchronizedMap(new WeakHashMap<>());

  private final Object model;
  private final String architecture;
  private final Tokenizer tokenizer;
  private final Llama2cTokenizer llama;
  private final int sampleVocab;
  private final int maxSequenceLength;
  private final Supplier<DecodeSession> sessions;
  private final ReentrantLock lock;

  /**
   * A generator over {@code model} and {@code tokenizer}; the model's vocabulary must hold the
   * tokenizer's (sampling is restricted to the tokenizer's ids).
   */
  public Generator(CausalLm model, Tokenizer tokenizer) {
    this(model, model == null ? null : model.architecture(), tokenizer, model == null ? 0 : model.vocabSize(),
        model == null ? 0 : model.maxSequenceLength(), model == null ? null : model::newSession);
  }

  /** A llama2.c generator over {@code model} and {@code tokenizer} (same vocabulary size). */
  public Generator(Transformer model, Llama2cTokenizer tokenizer) {
    this(model, "transformer", tokenizer, model == null ? 0 : model.config().vocabSize(),
        model == null ? 0 : model.config().seqLen(),
        model == null ? null : () -> new TransformerSession(model, model.newCache(), true));
    if (model.config().vocabSize() != tokenizer.vocabSize()) {
      throw new IllegalArgumentException("generator: model vocabulary " + model.config().vocabSize()
          + " differs from the tokenizer's " + tokenizer.vocabSize());
    }
  }

  private Generator(Object model, String architecture, Tokenizer tokenizer, int modelVocab, int maxSequenceLength,
      Supplier<DecodeSession> sessions) {
    if (model == null || tokenizer == null) {
      throw new IllegalArgumentException("generator: model and tokenizer must not be null");
    }
    if (modelVocab < tokenizer.vocabSize()) {
      throw new IllegalArgumentException("generator: model vocabulary " + modelVocab
          + " is smaller than the tokenizer's " + tokenizer.vocabSize() + "; pair the model with the tokenizer it was trained with");
    }
    this.model = model;
    this.architecture = architecture;
    this.tokenizer = tokenizer;
    this.llama = tokenizer instanceof Llama2cTokenizer l ? l : null;
    this.sampleVocab = tokenizer.vocabSize();
    this.maxSequenceLength = maxSequenceLength;
    this.sessions = sessions;
    this.lock = LOCKS.computeIfAbsent(model, m -> new ReentrantLock());
  }

  /** The model's architecture name ({@code itera-lite}, {@code transformer}, ...). */
  public String architecture() {
    return architecture;
  }

  /** The tokenizer. */
  public Tokenizer tokenizer() {
    return tokenizer;
  }

  /** Longest context (prompt plus generated tokens) one generation may reach. */
  public int maxSequenceLength() {
    return maxSequenceLength;
  }

  /**
   * The prompt's token ids as generation feeds them (BOS first with a llama2.c tokenizer).
   *
   * @throws IllegalArgumentException if the prompt is null, or empty with a tokenizer that has no BOS
   */
  public int[] encodePrompt(String prompt) {
    if (prompt == null) {
      throw new IllegalArgumentException("generator: prompt must not be null");
    }
    byte[] bytes = prompt.getBytes(StandardCharsets.UTF_8);
    int[] ids = llama != null ? llama.encode(bytes, true, false) : tokenizer.encode(bytes);
    if (ids.length == 0) {
      throw new IllegalArgumentException("generator: the prompt is empty and the tokenizer '" + tokenizer.name()
          + "' has no BOS token to start from; give at least one character");
    }
    return ids;
  }

  /** Generates without streaming. */
  public GenerationResult generate(String prompt, GenerationConfig config) {
    return generate(prompt, config, (t, p) -> {});
  }

  /**
   * Generates a continuation of {@code prompt}, streaming text to {@code listener}.
   *
   * @throws IllegalArgumentException if the prompt encodes to no tokens or does not fit the sequence length
   */
  public GenerationResult generate(String prompt, GenerationConfig config, GenerationListener listener) {
    if (prompt == null || config == null || listener == null) {
      throw new IllegalArgumentException("generator: prompt, config and listener must not be null");
    }
    return generate(encodePrompt(prompt), config, listener);
  }

  /**
   * Generates from already-encoded prompt tokens (BOS included if wanted) in a fresh decoding
   * session, freed before this returns or throws.
   */
  public GenerationResult generate(int[] promptTokens, GenerationConfig config, GenerationListener listener) {
    requireArguments(promptTokens, config, listener);
    int[] prompt = checkedPrompt(promptTokens);
    try (DecodeSession session = sessions.get()) {
      return run(prompt, config, listener, session);
    }
  }

  /**
   * Generates from already-encoded prompt tokens into a caller-owned session (its previous context
   * is discarded; it stays open).
   */
  public GenerationResult generate(int[] promptTokens, GenerationConfig config, GenerationListener listener, DecodeSession session) {
    requireArguments(promptTokens, config, listener);
    if (session == null) {
      throw new IllegalArgumentException("generator: session must not be null");
    }
    return run(checkedPrompt(promptTokens), config, listener, session);
  }

  /**
   * Generates from already-encoded prompt tokens (BOS included if wanted) into a caller-owned cache
   * of a llama2.c {@link Transformer} generator (its previous contents are overwritten).
   */
  public GenerationResult generate(int[] promptTokens, GenerationConfig config, GenerationListener listener, KvCache cache) {
    requireArguments(promptTokens, config, listener);
    if (cache == null) {
      throw new IllegalArgumentException("generator: cache must not be null");
    }
    if (!(model instanceof Transformer t)) {
      throw new IllegalArgumentException("generator: a KvCache only serves a llama2.c Transformer generator; use a DecodeSession");
    }
    return run(checkedPrompt(promptTokens), config, listener, new TransformerSession(t, cache, false));
  }

  private static void requireArguments(int[] promptTokens, GenerationConfig config, GenerationListener listener) {
    if (promptTokens == null || promptTokens.length == 0 || config == null || listener == null) {
      throw new IllegalArgumentException("generator: need at least one prompt token, a config and a listener");
    }
  }

  private int[] checkedPrompt(int[] promptTokens) {
    if (promptTokens.length > maxSequenceLength) {
      throw new IllegalArgumentException("generator: prompt of " + promptTokens.length
          + " tokens exceeds the sequence length " + maxSequenceLength);
    }
    return promptTokens.clone();
  }

  private GenerationResult run(int[] prompt, GenerationConfig config, GenerationListener listener, DecodeSession session) {
    Sampler sampler = new Sampler(sampleVocab, config);
    Text text = new Text(config);
    int[] out = new int[(int) Math.min(Math.min(config.maxNewTokens(), 256), (long) maxSequenceLength - prompt.length + 1)];
    int generated = 0;
    GenerationResult.StopReason reason;
    if (listener.isCancelled()) {
      return new GenerationResult("", prompt, new int[0], GenerationResult.StopReason.CANCELLED);
    }
    float[] logits;
    lock.lock();
    try {
      logits = session.prefill(prompt);
    } finally {
      lock.unlock();
    }
    long position = prompt.length;
    int prev = prompt[prompt.length - 1];
    byte[] prevAlone = llama != null ? null : tokenizer.decode(new int[] {prev});
    int[] one = new int[1];
    int[] pair = new int[2];
    while (true) {
      int next = sampler.sample(logits);
      if (llama != null && config.stopAtBos() && next == Llama2cTokenizer.BOS) {
        reason = GenerationResult.StopReason.BOS;
        break;
      }
      if (generated == out.length) {
        out = Arrays.copyOf(out, (int) Math.min((long) out.length * 2, Integer.MAX_VALUE - 8));
      }
      out[generated++] = next;
      byte[] piece;
      if (llama != null) {
        piece = llama.decodePiece(prev, next);
      } else {
        one[0] = next;
        byte[] alone = tokenizer.decode(one);
        pair[0] = prev;
        pair[1] = next;
        byte[] both = tokenizer.decode(pair);
        piece = startsWith(both, prevAlone) ? Arrays.copyOfRange(both, prevAlone.length, both.length) : alone;
        prevAlone = alone;
      }
      prev = next;
      if (text.append(piece, next, listener)) {
        reason = GenerationResult.StopReason.STOP_SEQUENCE;
        break;
      }
      if (generated == config.maxNewTokens()) {
        reason = GenerationResult.StopReason.MAX_TOKENS;
        break;
      }
      if (position >= maxSequenceLength) {
        reason = GenerationResult.StopReason.SEQUENCE_LENGTH;
        break;
      }
      if (listener.isCancelled()) {
        reason = GenerationResult.StopReason.CANCELLED;
        break;
      }
      lock.lock();
      try {
        logits = session.step(next);
      } finally {
        lock.unlock();
      }
      position++;
    }
    if (reason != GenerationResult.StopReason.STOP_SEQUENCE) {
      text.finish(listener);
    }
    return new GenerationResult(text.toString(), prompt, Arrays.copyOf(out, generated), reason);
  }

  private static boolean startsWith(byte[] a, byte[] prefix) {
    return a.length >= prefix.length && Arrays.equals(a, 0, prefix.length, prefix, 0, prefix.length);
  }

  /**
   * The generated text, built incrementally: bytes of an unfinished UTF-8 character wait in {@code
   * pending}; text that could still become the start of a stop sequence is held back from the
   * listener. Work per token is bounded by the piece and the stop sequences, not the text length.
   */
  private static final class Text {
    private final GenerationConfig config;
    private final int longestStop;
    private final StringBuilder text = new StringBuilder();
    private byte[] pending = new byte[16];
    private int pendingLength;
    private int emitted;

    Text(GenerationConfig config) {
      this.config = config;
      int longest = 0;
      for (String s : config.stopSequences()) {
        longest = Math.max(longest, s.length());
      }
      this.longestStop = longest;
    }

    /** Adds a token's bytes and streams what is safe; true when a stop sequence ended the text. */
    boolean append(byte[] piece, int token, GenerationListener listener) {
      if (pendingLength + piece.length > pending.length) {
        pending = Arrays.copyOf(pending, Math.max(pending.length * 2, pendingLength + piece.length));
      }
      System.arraycopy(piece, 0, pending, pendingLength, piece.length);
      pendingLength += piece.length;
      int complete = pendingLength - incompleteUtf8Tail(pending, pendingLength);
      int before = text.length();
      if (complete > 0) {
        text.append(new String(pending, 0, complete, StandardCharsets.UTF_8));
        System.arraycopy(pending, complete, pending, 0, pendingLength - complete);
        pendingLength -= complete;
      }
      int stopAt = firstStop(before);
      if (stopAt >= 0) {
        text.setLength(stopAt);
        listener.onToken(token, emitted < stopAt ? text.substring(emitted, stopAt) : "");
        emitted = Math.max(emitted, stopAt);
        return true;
      }
      int safe = text.length() - heldBack();
      String out = safe > emitted ? text.substring(emitted, safe) : "";
      emitted = Math.max(emitted, safe);
      listener.onToken(token, out);
      return false;
    }

    /** Flushes undecodable trailing bytes (as U+FFFD) and held-back text to the listener. */
    void finish(GenerationListener listener) {
      if (pendingLength > 0) {
        text.append(new String(pending, 0, pendingLength, StandardCharsets.UTF_8));
        pendingLength = 0;
      }
      if (text.length() > emitted) {
        listener.onToken(-1, text.substring(emitted));
        emitted = text.length();
      }
    }

    /** Earliest start of a stop sequence that ends after {@code before} (the text so far), or -1. */
    private int firstStop(int before) {
      if (longestStop == 0 || text.length() == before) {
        return -1;
      }
      int best = -1;
      for (String s : config.stopSequences()) {
        int i = text.indexOf(s, Math.max(0, before - s.length() + 1));
        if (i >= 0 && (best < 0 || i < best)) {
          best = i;
        }
      }
      return best;
    }

    /** Length of the longest suffix of the text that is a proper prefix of a stop sequence. */
    private int heldBack() {
      int hold = 0;
      int n = text.length();
      for (String s : config.stopSequences()) {
        for (int len = Math.min(s.length() - 1, n); len > hold; len--) {
          if (regionEquals(n - len, s, len)) {
            hold = len;
            break;
          }
        }
      }
      return hold;
    }

    private boolean regionEquals(int from, String s, int len) {
      for (int i = 0; i < len; i++) {
        if (text.charAt(from + i) != s.charAt(i)) {
          return false;
        }
      }
      return true;
    }

    @Override
    public String toString() {
      return text.toString();
    }
  }

  /** Number of trailing bytes that start an unfinished UTF-8 sequence. */
  static int incompleteUtf8Tail(byte[] b) {
    return incompleteUtf8Tail(b, b.length);
  }

  private static int incompleteUtf8Tail(byte[] b, int n) {
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
