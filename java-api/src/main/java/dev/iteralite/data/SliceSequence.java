package dev.iteralite.data;

import java.util.Objects;

/** A contiguous view of another {@link TokenSequence}. */
final class SliceSequence implements TokenSequence {
  private final TokenSequence base;
  private final long from;
  private final long size;

  SliceSequence(TokenSequence base, long from, long to) {
    this.base = Objects.requireNonNull(base, "base");
    if (from < 0 || to < from || to > base.size()) {
      throw new IndexOutOfBoundsException(
          "slice [" + from + ", " + to + ") is not inside the sequence [0, " + base.size() + ")");
    }
    this.from = from;
    this.size = to - from;
  }

  @Override
  public long size() {
    return size;
  }

  @Override
  public int vocabSize() {
    return base.vocabSize();
  }

  @Override
  public int get(long index) {
    Objects.checkIndex(index, size);
    return base.get(from + index);
  }

  @Override
  public void read(long start, int[] dst, int offset, int length) {
    TokenSequence.checkRange(start, length, size);
    base.read(from + start, dst, offset, length);
  }

  @Override
  public TokenSequence slice(long start, long end) {
    if (start < 0 || end < start || end > size) {
      throw new IndexOutOfBoundsException("slice [" + start + ", " + end + ") is not inside the sequence [0, " + size + ")");
    }
    return new SliceSequence(base, from + start, from + end);
  }
}
