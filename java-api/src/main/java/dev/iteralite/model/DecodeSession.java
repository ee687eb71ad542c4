package dev.iteralite.model;

/**
 * One sequence being decoded token by token: Itera-Lite's recurrent state (constant memory per
 * token) or the Transformer's KV cache. Not thread-safe; close it to free its native memory.
 */
public interface DecodeSession extends AutoCloseable {
  /**
   * Clears the context, feeds {@code prompt} (at least one token) and returns the next-token logits
   * after its last token. The array may be reused by the next call.
   *
   * @throws IllegalArgumentException if a token is out of range or the prompt exceeds the model's
   *     sequence length
   */
  float[] prefill(int[] prompt);

  /**
   * Appends {@code token} to the context and returns the next-token logits. The array may be reused
   * by the next call.
   *
   * @throws IllegalArgumentException if the token is out of range
   * @throws IllegalStateException if the context is already at the model's sequence length
   */
  float[] step(int token);

  /** Tokens in the context. */
  int position();

  /** Vocabulary size (length of the logits). */
  int vocabSize();

  @Override
  void close();
}
