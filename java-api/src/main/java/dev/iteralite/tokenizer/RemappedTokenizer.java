package dev.iteralite.tokenizer;

import java.io.DataOutputStream;
import java.io.IOException;
import java.util.Arrays;

/**
 * A tokenizer over a subset of another tokenizer's ids, renumbered densely: what a vocabulary-trimmed
 * model reads and writes. New id {@code i} stands for base id {@code keptBaseIds[i]}; encoding runs
 * the base tokenizer and maps its ids, decoding maps back and runs the base decoder. Text whose
 * encoding needs a dropped id cannot be encoded: {@link #encode(byte[])} throws, naming the id and
 * where it occurs. Saved and loaded by {@link Tokenizers} (type {@code remapped}, the base tokenizer
 * nested inside), so trimmed models checkpoint like any other.
 */
public final class RemappedTokenizer implements Tokenizer {
  private final Tokenizer base;
  private final int[] toBase;
  private final int[] fromBase;

  /**
   * @param keptBaseIds the base ids kept, strictly increasing, each in {@code [0, base.vocabSize())}
   * @throws IllegalArgumentException if the list is empty, unsorted, repeats or leaves the base range
   */
  public RemappedTokenizer(Tokenizer base, int[] keptBaseIds) {
    if (base == null || keptBaseIds == null) {
      throw new IllegalArgumentException("RemappedTokenizer: base tokenizer and kept ids must be non-null");
    }
    if (keptBaseIds.length < 1) {
      throw new IllegalArgumentException("RemappedTokenizer: keep at least one id");
    }
    int[] from = new int[base.vocabSize()];
    Arrays.fill(from, -1);
    for (int i = 0; i < keptBaseIds.length; i++) {
      int id = keptBaseIds[i];
      if (id < 0 || id >= base.vocabSize()) {
        throw new IllegalArgumentException("RemappedTokenizer: kept id " + id + " is outside the base tokenizer's [0, "
            + base.vocabSize() + ")");
      }
      if (i > 0 && id <= keptBaseIds[i - 1]) {
        throw new IllegalArgumentException("RemappedTokenizer: kept ids must be strictly increasing; " + id
            + " follows " + keptBaseIds[i - 1]);
      }
      from[id] = i;
    }
    this.base = base;
    this.toBase = keptBaseIds.clone();
    this.fromBase = from;
  }

  /** The wrapped tokenizer. */
  public Tokenizer base() {
    return base;
  }

  /** The base ids kept, indexed by new id (a copy). */
  public int[] keptBaseIds() {
    return toBase.clone();
  }

  /** The base id that new id {@code id} stands for. */
  public int toBaseId(int id) {
    if (id < 0 || id >= toBase.length) {
      throw new IllegalArgumentException("RemappedTokenizer: id " + id + " is outside [0, " + toBase.length + ")");
    }
    return toBase[id];
  }

  /** The new id of base id {@code baseId}, or -1 if it was dropped (or is outside the base range). */
  public int fromBaseId(int baseId) {
    return baseId < 0 || baseId >= fromBase.length ? -1 : fromBase[baseId];
  }

  @Override
  public int vocabSize() {
    return toBase.length;
  }

  /**
   * @throws IllegalArgumentException if the base encoding contains a dropped id; the message names
   *     the id, its token index and the byte offset where its bytes start
   */
  @Override
  public int[] encode(byte[] bytes) {
    int[] ids = base.encode(bytes);
    int[] out = new int[ids.length];
    for (int i = 0; i < ids.length; i++) {
      int m = fromBaseId(ids[i]);
      if (m < 0) {
        long offset = 0;
        for (int j = 0; j < i; j++) {
          offset += base.decode(new int[] {ids[j]}).length;
        }
        throw new IllegalArgumentException("RemappedTokenizer (" + name() + "): the text needs base token " + ids[i]
            + " (token " + i + ", bytes from offset about " + offset + "), which was trimmed from the vocabulary;"
            + " trim against a corpus that contains this text, or use the untrimmed model");
      }
      out[i] = m;
    }
    return out;
  }

  @Override
  public byte[] decode(int[] ids) {
    if (ids == null) {
      throw new IllegalArgumentException("RemappedTokenizer: ids must not be null");
    }
    int[] b = new int[ids.length];
    for (int i = 0; i < ids.length; i++) {
      if (ids[i] < 0 || ids[i] >= toBase.length) {
        throw new IllegalArgumentException("RemappedTokenizer: id " + ids[i] + " at index " + i + " is outside [0, "
            + toBase.length + ")");
      }
      b[i] = toBase[ids[i]];
    }
    return base.decode(b);
  }

  @Override
  public String name() {
    return base.name() + "-trim" + toBase.length;
  }

  void writePayload(DataOutputStream out) throws IOException {
    byte[] nested = Tokenizers.toBytes(base);
    out.writeInt(nested.length);
    out.write(nested);
    out.writeInt(toBase.length);
    for (int id : toBase) {
      out.writeInt(id);
    }
  }

  static RemappedTokenizer readPayload(PayloadReader in) throws IOException {
    int len = in.readCount("base tokenizer length", in.remaining());
    Tokenizer base = Tokenizers.fromBytes(in.readBytes(len, "base tokenizer"), "nested in a remapped tokenizer");
    int n = in.readCount("kept id count", in.remaining() / 4);
    int[] ids = new int[n];
    for (int i = 0; i < n; i++) {
      ids[i] = in.readInt("kept id " + i);
    }
    in.expectEnd();
    try {
      return new RemappedTokenizer(base, ids);
    } catch (IllegalArgumentException e) {
      throw new IOException("remapped tokenizer: inconsistent payload: " + e.getMessage(), e);
    }
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof RemappedTokenizer r && r.base.equals(base) && Arrays.equals(r.toBase, toBase);
  }

  @Override
  public int hashCode() {
    return base.hashCode() * 31 + Arrays.hashCode(toBase);
  }

  @Override
  public String toString() {
    return "RemappedTokenizer(" + name() + ")";
  }
}
