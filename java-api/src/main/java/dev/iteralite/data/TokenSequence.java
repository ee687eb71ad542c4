package dev.iteralite.data;

import java.util.Objects;

/**
 * A read-only sequence of token ids in {@code [0, vocabSize())}, addressed by {@code long} index: what the
 * batch samplers read from. Implemented by memory-mapped {@link TokenFile}s, by int arrays ({@link #of}) and by
 * {@link #slice slices} of either.
 */
public interface TokenSequence {
  /** Number of tokens. */
  long size();

  /** Exclusive upper bound of the ids (the tokenizer's vocabulary size). */
  int vocabSize();

  /**
   * The id at {@code index}.
   *
   * @throws IndexOutOfBoundsException if {@code index} is outside {@code [0, size())}
   */
  int get(long index);

  /**
   * Copies {@code length} ids starting at {@code start} into {@code dst[offset, offset + length)}.
   *
   * @throws IndexOutOfBoundsException if either range is out of bounds
   */
  default void read(long start, int[] dst, int offset, int length) {
    Objects.checkFromIndexSize(offset, length, dst.length);
    checkRange(start, length, size());
    for (int i = 0; i < length; i++) {
      dst[offset + i] = get(start + i);
    }
  }

  /**
   * A view of the ids in {@code [from, to)} (no copy).
   *
   * @throws IndexOutOfBoundsException if the range is not inside {@code [0, size()]}
   */
  default TokenSequence slice(long from, long to) {
    return new SliceSequence(this, from, to);
  }

  /**
   * An in-memory sequence over {@code ids} (not copied: do not modify the array afterwards).
   *
   * @throws IllegalArgumentException if {@code vocabSize < 1} or an id is outside {@code [0, vocabSize)}
   */
  static TokenSequence of(int[] ids, int vocabSize) {
    return new ArraySequence(ids, vocabSize);
  }

  /** Checks that {@code [start, start + length)} lies inside {@code [0, size)}. */
  static void checkRange(long start, long length, long size) {
    if (start < 0 || length < 0 || start > size - length) {
      throw new IndexOutOfBoundsException(
          "token range [" + start + ", " + start + " + " + length + ") is outside the sequence [0, " + size + ")");
    }
  }
}
