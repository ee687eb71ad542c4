package dev.iteralite.tokenizer;

import java.util.Arrays;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Byte-level byte-pair encoding: ids 0–255 are the bytes, id {@code 256 + r} is the concatenation
 * of the two ids of merge {@code r}.
 *
 * <p>Encoding first cuts the input into pre-tokens (GPT-2 style word/number/punctuation/space
 * runs, see {@link BpeTrainer}), then inside each pre-token repeatedly applies the merge of lowest
 * rank (leftmost first) until none applies; results are cached per pre-token. Every byte is in the
 * base vocabulary, so {@code decode(encode(b))} equals {@code b} for every byte sequence, invalid
 * UTF-8 included. Instances are immutable and thread-safe (the cache is concurrent). Learn merges
 * with {@link BpeTrainer}; save and load with {@link Tokenizers}.
 */
public final class BpeTokenizer implements Tokenizer {
  private static final int CACHE_LIMIT = 1 << 18;

  private final int[] left;
  private final int[] right;
  private final byte[][] tokenBytes;
  private final LongIntMap pairToId;
  private final int[] rankOf;
  private final ConcurrentHashMap<Bytes, int[]> cache = new ConcurrentHashMap<>();

  /**
   * A tokenizer from its merge list: merge {@code r} joins ids {@code left[r]} and {@code right[r]}
   * into id {@code 256 + r}; both must be ids that exist before it ({@code < 256 + r}) and no pair
   * may repeat.
   *
   * @throws IllegalArgumentException if the lists differ in length, an id is out of range or a
   *     pair repeats
   */
  public BpeTokenizer(int[] left, int[] right) {
    if (left == null || right == null) {
      throw new IllegalArgumentException("bpe: merge lists must not be null");
    }
    if (left.length != right.length) {
      throw new IllegalArgumentException(
          "bpe: " + left.length + " left ids but " + right.length + " right ids");
    }
    int m = left.length;
    this.left = left.clone();
    this.right = right.clone();
    this.tokenBytes = new byte[256 + m][];
    this.rankOf = new int[256 + m];
    this.pairToId = new LongIntMap(Math.max(16, m));
    for (int b = 0; b < 256; b++) {
      tokenBytes[b] = new byte[] {(byte) b};
    }
    for (int r = 0; r < m; r++) {
      int a = this.left[r];
      int b = this.right[r];
      int id = 256 + r;
      if (a < 0 || a >= id || b < 0 || b >= id) {
        throw new IllegalArgumentException(
            "bpe: merge " + r + " (" + a + ", " + b + ") refers to an id outside [0, " + id + ")");
      }
      long key = LongIntMap.pair(a, b);
      if (pairToId.get(key) >= 0) {
        throw new IllegalArgumentException("bpe: merge " + r + " (" + a + ", " + b + ") repeats an earlier merge");
      }
      pairToId.put(key, id);
      rankOf[id] = r;
      byte[] x = tokenBytes[a];
      byte[] y = tokenBytes[b];
      byte[] z = Arrays.copyOf(x, x.length + y.length);
      System.arraycopy(y, 0, z, x.length, y.length);
      tokenBytes[id] = z;
    }
  }

  /** Number of merges (the vocabulary is 256 plus this). */
  public int mergeCount() {
    return left.length;
  }

  /** The left ids of the merges, in rank order (a copy). */
  public int[] mergeLefts() {
    return left.clone();
  }

  /** The right ids of the merges, in rank order (a copy). */
  public int[] mergeRights() {
    return right.clone();
  }

  /**
   * The bytes of one token (a copy).
   *
   * @throws IllegalArgumentException if {@code id} is outside {@code [0, vocabSize())}
   */
  public byte[] tokenBytes(int id) {
    if (id < 0 || id >= tokenBytes.length) {
      throw new IllegalArgumentException("bpe: id " + id + " is outside [0, " + tokenBytes.length + ")");
    }
    return tokenBytes[id].clone();
  }

  @Override
  public int vocabSize() {
    return tokenBytes.length;
  }

  @Override
  public int[] encode(byte[] bytes) {
    if (bytes == null) {
      throw new IllegalArgumentException("bpe: bytes must not be null");
    }
    IntList out = new IntList(Math.max(16, bytes.length / 3));
    PreTokenizer.split(bytes, 0, bytes.length, (from, to) -> {
      if (to - from == 1) {
        out.add(bytes[from] & 0xFF);
        return;
      }
      Bytes key = Bytes.copyOf(bytes, from, to);
      int[] ids = cache.get(key);
      if (ids == null) {
        ids = encodeWord(key.data);
        if (cache.size() < CACHE_LIMIT) {
          cache.put(key, ids);
        }
      }
      out.addAll(ids);
    });
    return out.toArray();
  }

  private int[] encodeWord(byte[] word) {
    int[] ids = new int[word.length];
    for (int i = 0; i < word.length; i++) {
      ids[i] = word[i] & 0xFF;
    }
    int n = PairMerger.merge(ids, ids.length, pairToId, rankOf);
    return Arrays.copyOf(ids, n);
  }

  @Override
  public byte[] decode(int[] ids) {
    if (ids == null) {
      throw new IllegalArgumentException("bpe: ids must not be null");
    }
    int len = 0;
    for (int i = 0; i < ids.length; i++) {
      int id = ids[i];
      if (id < 0 || id >= tokenBytes.length) {
        throw new IllegalArgumentException(
            "bpe: id " + id + " at position " + i + " is outside [0, " + tokenBytes.length + ")");
      }
      len += tokenBytes[id].length;
    }
    byte[] out = new byte[len];
    int p = 0;
    for (int id : ids) {
      byte[] t = tokenBytes[id];
      System.arraycopy(t, 0, out, p, t.length);
      p += t.length;
    }
    return out;
  }

  @Override
  public String name() {
    return "bpe-" + vocabSize();
  }

  void writePayload(java.io.DataOutputStream out) throws java.io.IOException {
    out.writeInt(left.length);
    for (int r = 0; r < left.length; r++) {
      out.writeInt(left[r]);
      out.writeInt(right[r]);
    }
  }

  static BpeTokenizer readPayload(PayloadReader in) throws java.io.IOException {
    int m = in.readCount("merge count", in.remaining() / 8);
    int[] l = new int[m];
    int[] r = new int[m];
    for (int i = 0; i < m; i++) {
      l[i] = in.readInt("merge " + i);
      r[i] = in.readInt("merge " + i);
    }
    in.expectEnd();
    try {
      return new BpeTokenizer(l, r);
    } catch (IllegalArgumentException e) {
      throw new java.io.IOException("corrupt bpe tokenizer: " + e.getMessage(), e);
    }
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof BpeTokenizer
        && Arrays.equals(left, ((BpeTokenizer) o).left)
        && Arrays.equals(right, ((BpeTokenizer) o).right);
  }

  @Override
  public int hashCode() {
    return 31 * Arrays.hashCode(left) + Arrays.hashCode(right);
  }

  @Override
  public String toString() {
    return "BpeTokenizer[" + name() + "]";
  }
}
