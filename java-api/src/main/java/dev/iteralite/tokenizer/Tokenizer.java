package dev.iteralite.tokenizer;

import java.nio.charset.StandardCharsets;

/**
 * Maps bytes to token ids and back: the contract every tokenizer of Itera-Lite keeps.
 *
 * <p>Encoding works on bytes, not characters, so any input (invalid UTF-8 included) has an
 * encoding; for the byte-level tokenizers {@code decode(encode(b))} returns {@code b} exactly. Ids
 * are in {@code [0, vocabSize())}. Implementations are immutable and thread-safe.
 */
public interface Tokenizer {
  /** Number of distinct ids (special tokens included). */
  int vocabSize();

  /** Token ids for {@code bytes}, without special tokens such as BOS/EOS. */
  int[] encode(byte[] bytes);

  /** Token ids for the UTF-8 encoding of {@code text}. */
  default int[] encode(String text) {
    return encode(text.getBytes(StandardCharsets.UTF_8));
  }

  /**
   * The bytes that {@code ids} stand for.
   *
   * @throws IllegalArgumentException if an id is outside {@code [0, vocabSize())}
   */
  byte[] decode(int[] ids);

  /** The UTF-8 decoding of {@link #decode(int[])} (invalid sequences become U+FFFD). */
  default String decodeToString(int[] ids) {
    return new String(decode(ids), StandardCharsets.UTF_8);
  }

  /** A short name for logs and checkpoints, e.g. {@code byte} or {@code bpe-4352}. */
  String name();
}
