package dev.iteralite.tokenizer;

import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.TreeSet;

/**
 * The SentencePiece-derived tokenizer of llama2.c, read from its {@code tokenizer.bin} format and
 * encoding/decoding as llama2.c's {@code run.c} does.
 *
 * <p>File format (little-endian): {@code int32 max_token_length}, then for every token
 * {@code float32 score, int32 length, length bytes}, up to the end of the file. Id 0 is
 * {@code <unk>}, 1 is BOS ({@code "\n<s>\n"}), 2 is EOS ({@code "\n</s>\n"}) and ids 3–258 are the
 * byte-fallback tokens {@code <0x00>}…{@code <0xFF>} (checked on load).
 *
 * <p>Encoding ({@link #encode(byte[], boolean, boolean)}): optional BOS; for non-empty input the
 * "dummy prefix" token {@code " "} (if the vocabulary has one); then each UTF-8 code point (a lead byte plus up to three
 * continuation bytes, grouped as llama2.c does) becomes its vocabulary token, or one byte-fallback
 * token ({@code byte + 3}) per byte when it has none; then, as long as some adjacent pair
 * concatenates to a vocabulary token, the pair whose token has the highest score is merged (the
 * leftmost on equal scores); optional EOS. The result is identical to llama2.c's O(n²) loop but
 * computed in O(n log n). Deviations, none of which matter for real text: a NUL byte is encoded
 * (byte fallback) instead of ending the string, and only ordinary pieces take part in lookups and
 * merges (never {@code <unk>}, BOS, EOS or a {@code <0xXX>} piece, whose text would otherwise have
 * to appear literally); this keeps encoding lossless for every byte sequence.
 *
 * <p>Decoding ({@link #decodePiece(int, int)}) is llama2.c's {@code decode}: a piece that follows
 * BOS loses its leading space, and {@code <0xXX>} pieces are the raw byte. {@link #decode(int[])}
 * concatenates pieces, skipping BOS and EOS and treating the start of the sequence like a BOS (so
 * the dummy prefix is removed): {@code decode(encode(b))} equals {@code b} for every byte
 * sequence, invalid UTF-8 included.
 */
public final class Llama2cTokenizer implements Tokenizer {
  /** Id of the unknown token. */
  public static final int UNK = 0;
  /** Id of the beginning-of-sequence token. */
  public static final int BOS = 1;
  /** Id of the end-of-sequence token. */
  public static final int EOS = 2;
  /** Id of the byte-fallback token for byte 0x00 (byte {@code b} is {@code 3 + b}). */
  public static final int BYTE_OFFSET = 3;

  private final int maxTokenLength;
  private final float[] scores;
  private final byte[][] pieces;
  private final HashMap<Bytes, Integer> normalIds = new HashMap<>();
  private final LongIntMap pairToId;
  private final int[] rankOf;
  private final int dummyPrefix;

  /**
   * A tokenizer from its parts, as found in a {@code tokenizer.bin}.
   *
   * @throws IllegalArgumentException if fewer than 259 tokens are given, the arrays differ in
   *     length, or ids 3–258 are not {@code <0x00>}…{@code <0xFF>}
   */
  public Llama2cTokenizer(int maxTokenLength, float[] scores, byte[][] pieces) {
    if (scores == null || pieces == null) {
      throw new IllegalArgumentException("llama2c: scores and pieces must not be null");
    }
    if (scores.length != pieces.length) {
      throw new IllegalArgumentException(
          "llama2c: " + scores.length + " scores but " + pieces.length + " pieces");
    }
    int n = pieces.length;
    if (n < 259) {
      throw new IllegalArgumentException("llama2c: needs at least 259 tokens (specials and 256 byte tokens), got " + n);
    }
    if (maxTokenLength < 0) {
      throw new IllegalArgumentException("llama2c: max_token_length must be >= 0, got " + maxTokenLength);
    }
    this.maxTokenLength = maxTokenLength;
    this.scores = scores.clone();
    this.pieces = new byte[n][];
    for (int i = 0; i < n; i++) {
      if (pieces[i] == null) {
        throw new IllegalArgumentException("llama2c: piece " + i + " is null");
      }
      this.pieces[i] = pieces[i].clone();
    }
    for (int b = 0; b < 256; b++) {
      String want = String.format("<0x%02X>", b);
      if (!Arrays.equals(this.pieces[BYTE_OFFSET + b], want.getBytes(StandardCharsets.US_ASCII))) {
        throw new IllegalArgumentException("llama2c: token " + (BYTE_OFFSET + b) + " must be " + want
            + " but is \"" + new String(this.pieces[BYTE_OFFSET + b], StandardCharsets.UTF_8) + "\"");
      }
    }
    // Ordinary pieces: lookups find the lowest id with the text.
    for (int i = BYTE_OFFSET + 256; i < n; i++) {
      if (this.pieces[i].length > 0) {
        normalIds.putIfAbsent(new Bytes(this.pieces[i]), i);
      }
    }
    // Rank = position of the score among the distinct scores, best first (-0.0 equals 0.0).
    TreeSet<Float> distinct = new TreeSet<>();
    for (int i = 0; i < n; i++) {
      if (!Float.isNaN(this.scores[i])) {
        distinct.add(this.scores[i] + 0.0f);
      }
    }
    Float[] order = distinct.descendingSet().toArray(new Float[0]);
    rankOf = new int[n];
    pairToId = new LongIntMap(n * 4);
    for (int i = BYTE_OFFSET + 256; i < n; i++) {
      byte[] p = this.pieces[i];
      if (p.length < 2 || Float.isNaN(this.scores[i]) || normalIds.get(new Bytes(p)) != i) {
        continue;
      }
      rankOf[i] = Arrays.binarySearch(order, this.scores[i] + 0.0f, (x, y) -> Float.compare(y, x));
      for (int k = 1; k < p.length; k++) {
        Integer a = normalIds.get(new Bytes(Arrays.copyOfRange(p, 0, k)));
        Integer b = normalIds.get(new Bytes(Arrays.copyOfRange(p, k, p.length)));
        if (a != null && b != null) {
          pairToId.put(LongIntMap.pair(a, b), i);
        }
      }
    }
    Integer space = normalIds.get(new Bytes(new byte[] {' '}));
    this.dummyPrefix = space == null ? -1 : space;
  }

  /**
   * Reads a llama2.c {@code tokenizer.bin}.
   *
   * @throws IOException if the file cannot be read, is truncated or is not in that format
   */
  public static Llama2cTokenizer fromLlama2c(Path file) throws IOException {
    if (file == null) {
      throw new IllegalArgumentException("llama2c: path must not be null");
    }
    byte[] data = Files.readAllBytes(file);
    String what = "llama2.c tokenizer " + file;
    PayloadReader in = new PayloadReader(data, 0, data.length, what);
    int maxLen = in.readIntLE("max_token_length");
    if (maxLen < 0) {
      throw new IOException(what + ": max_token_length " + maxLen + " is negative");
    }
    java.util.ArrayList<byte[]> ps = new java.util.ArrayList<>();
    FloatList sc = new FloatList();
    while (in.remaining() > 0) {
      int i = ps.size();
      sc.add(Float.intBitsToFloat(in.readIntLE("score of token " + i)));
      int len = in.readIntLE("length of token " + i);
      if (len < 0 || len > in.remaining()) {
        throw new IOException(what + ": token " + i + " has length " + len + " but " + in.remaining()
            + " bytes are left (truncated or not a tokenizer.bin)");
      }
      ps.add(in.readBytes(len, "token " + i));
    }
    try {
      return new Llama2cTokenizer(maxLen, sc.toArray(), ps.toArray(new byte[0][]));
    } catch (IllegalArgumentException e) {
      throw new IOException(what + ": " + e.getMessage(), e);
    }
  }

  /** A growable {@code float} array. */
  private static final class FloatList {
    float[] data = new float[512];
    int size;

    void add(float v) {
      if (size == data.length) {
        data = Arrays.copyOf(data, size * 2);
      }
      data[size++] = v;
    }

    float[] toArray() {
      return Arrays.copyOf(data, size);
    }
  }

  /** The {@code max_token_length} field of the file. */
  public int maxTokenLength() {
    return maxTokenLength;
  }

  /**
   * The score of a token.
   *
   * @throws IllegalArgumentException if {@code id} is outside {@code [0, vocabSize())}
   */
  public float score(int id) {
    checkId(id, -1);
    return scores[id];
  }

  /**
   * The text of a token as stored (e.g. {@code "<0x0A>"} for a byte token), a copy.
   *
   * @throws IllegalArgumentException if {@code id} is outside {@code [0, vocabSize())}
   */
  public byte[] piece(int id) {
    checkId(id, -1);
    return pieces[id].clone();
  }

  /** The id of an ordinary (non-special, non-byte) piece, or -1. */
  public int pieceId(String text) {
    if (text == null) {
      throw new IllegalArgumentException("llama2c: text must not be null");
    }
    Integer id = normalIds.get(new Bytes(text.getBytes(StandardCharsets.UTF_8)));
    return id == null ? -1 : id;
  }

  private void checkId(int id, int position) {
    if (id < 0 || id >= pieces.length) {
      throw new IllegalArgumentException("llama2c: id " + id + (position >= 0 ? " at position " + position : "")
          + " is outside [0, " + pieces.length + ")");
    }
  }

  @Override
  public int vocabSize() {
    return pieces.length;
  }

  /** llama2.c's encoding without BOS and EOS (the dummy prefix is added to non-empty input). */
  @Override
  public int[] encode(byte[] bytes) {
    return encode(bytes, false, false);
  }

  /** llama2.c's {@code encode(tokenizer, text, bos, eos, …)}; see the class comment. */
  public int[] encode(byte[] bytes, boolean bos, boolean eos) {
    if (bytes == null) {
      throw new IllegalArgumentException("llama2c: bytes must not be null");
    }
    int n = bytes.length;
    int[] ids = new int[n + 1];
    int count = 0;
    if (n > 0 && dummyPrefix >= 0) {
      ids[count++] = dummyPrefix;
    }
    int i = 0;
    while (i < n) {
      int start = i++;
      while (i < n && (bytes[i] & 0xC0) == 0x80 && i - start < 4) {
        i++;
      }
      Integer id = normalIds.get(Bytes.copyOf(bytes, start, i));
      if (id != null) {
        ids[count++] = id;
      } else {
        for (int k = start; k < i; k++) {
          ids[count++] = (bytes[k] & 0xFF) + BYTE_OFFSET;
        }
      }
    }
    count = PairMerger.merge(ids, count, pairToId, rankOf);
    int[] out = new int[count + (bos ? 1 : 0) + (eos ? 1 : 0)];
    int p = 0;
    if (bos) {
      out[p++] = BOS;
    }
    System.arraycopy(ids, 0, out, p, count);
    if (eos) {
      out[out.length - 1] = EOS;
    }
    return out;
  }

  /**
   * llama2.c's {@code decode(tokenizer, prev_token, token)}: the bytes printed for {@code token}
   * after {@code prevToken} (a leading space is dropped after BOS; {@code <0xXX>} is the raw byte).
   *
   * @throws IllegalArgumentException if {@code token} is outside {@code [0, vocabSize())}
   */
  public byte[] decodePiece(int prevToken, int token) {
    checkId(token, -1);
    byte[] p = pieces[token];
    int from = prevToken == BOS && p.length > 0 && p[0] == ' ' ? 1 : 0;
    if (token >= BYTE_OFFSET && token < BYTE_OFFSET + 256) {
      return new byte[] {(byte) (token - BYTE_OFFSET)};
    }
    return Arrays.copyOfRange(p, from, p.length);
  }

  @Override
  public byte[] decode(int[] ids) {
    if (ids == null) {
      throw new IllegalArgumentException("llama2c: ids must not be null");
    }
    java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream(ids.length * 4);
    // The start of a sequence is treated like a BOS: this drops the dummy prefix.
    int prev = dummyPrefix >= 0 ? BOS : -1;
    for (int i = 0; i < ids.length; i++) {
      int id = ids[i];
      checkId(id, i);
      if (id != BOS && id != EOS) {
        out.writeBytes(decodePiece(prev, id));
      }
      prev = id;
    }
    return out.toByteArray();
  }

  @Override
  public String name() {
    return "llama2c-" + vocabSize();
  }

  void writePayload(DataOutputStream out) throws IOException {
    out.writeInt(maxTokenLength);
    out.writeInt(pieces.length);
    for (int i = 0; i < pieces.length; i++) {
      out.writeInt(Float.floatToRawIntBits(scores[i]));
      out.writeInt(pieces[i].length);
      out.write(pieces[i]);
    }
  }

  static Llama2cTokenizer readPayload(PayloadReader in) throws IOException {
    int maxLen = in.readInt("max_token_length");
    int n = in.readCount("token count", in.remaining() / 8);
    float[] sc = new float[n];
    byte[][] ps = new byte[n][];
    for (int i = 0; i < n; i++) {
      sc[i] = Float.intBitsToFloat(in.readInt("score of token " + i));
      int len = in.readCount("length of token " + i, in.remaining());
      ps[i] = in.readBytes(len, "token " + i);
    }
    in.expectEnd();
    try {
      return new Llama2cTokenizer(maxLen, sc, ps);
    } catch (IllegalArgumentException e) {
      throw new IOException("corrupt llama2c tokenizer: " + e.getMessage(), e);
    }
  }

  @Override
  public boolean equals(Object o) {
    if (!(o instanceof Llama2cTokenizer)) {
      return false;
    }
    Llama2cTokenizer t = (Llama2cTokenizer) o;
    return maxTokenLength == t.maxTokenLength && Arrays.equals(scores, t.scores)
        && Arrays.deepEquals(pieces, t.pieces);
  }

  @Override
  public int hashCode() {
    return 31 * Arrays.hashCode(scores) + Arrays.deepHashCode(pieces);
  }

  @Override
  public String toString() {
    return "Llama2cTokenizer[" + name() + "]";
  }
}
