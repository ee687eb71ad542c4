package dev.iteralite.data;

import java.util.Objects;

/** A {@link TokenSequence} over an int array. */
final class ArraySequence implements TokenSequence {
  private final int[] ids;
  private final int vocabSize;

  ArraySequence(int[] ids, int vocabSize) {
    Objects.requireNonNull(ids, "ids");
    if (vocabSize < 1) {
      throw new IllegalArgumentException("vocabSize must be at least 1, got " + vocabSize);
    }
    for (int i = 0; i < ids.length; i++) {
      if (ids[i] < 0 || ids[i] >= vocabSize) {
        throw new IllegalArgumentException("token id " + ids[i] + " at position " + i + " is outside [0, " + vocabSize
            + "); pass the tokenizer's vocabSize()");
      }
    }
    this.ids = ids;
    this.vocabSize = vocabSize;
  }

  @Override
  public long size() {
    return ids.length;
  }

  @Override
  public int vocabSize() {
    return vocabSize;
  }

  @Override
  public int get(long index) {
    Objects.checkIndex(index, ids.length);
    return ids[(int) index];
  }

  @Override
  public void read(long start, int[] dst, int offset, int length) {
    TokenSequence.checkRange(start, length, ids.length);
    System.arraycopy(ids, (int) start, dst, offset, length);
  }
}
