package dev.iteralite.tokenizer;

import java.util.Arrays;

/** An immutable byte-string key for hash maps (content equality, unsigned lexicographic order). */
final class Bytes implements Comparable<Bytes> {
  final byte[] data;
  private final int hash;

  Bytes(byte[] data) {
    this.data = data;
    this.hash = Arrays.hashCode(data);
  }

  static Bytes copyOf(byte[] src, int from, int to) {
    return new Bytes(Arrays.copyOfRange(src, from, to));
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof Bytes && ((Bytes) o).hash == hash && Arrays.equals(((Bytes) o).data, data);
  }

  @Override
  public int hashCode() {
    return hash;
  }

  @Override
  public int compareTo(Bytes o) {
    return Arrays.compareUnsigned(data, o.data);
  }
}
