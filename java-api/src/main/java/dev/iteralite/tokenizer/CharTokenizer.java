package dev.iteralite.tokenizer;

import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.TreeSet;

/**
 * One token per Unicode code point, over the code points seen in a training corpus, plus an
 * unknown token.
 *
 * <p>Id 0 is the unknown token; ids 1, 2, … are the vocabulary's code points in ascending order.
 * Input bytes are decoded as UTF-8 (strictly: overlong forms, surrogates and values above U+10FFFF
 * are invalid). A code point outside the vocabulary is one unknown token, and so is each byte that
 * does not start a valid UTF-8 sequence. The unknown token decodes to U+FFFD.
 *
 * <p><b>Losslessness:</b> {@code decode(encode(b))} equals {@code b} exactly when {@code b} is
 * valid UTF-8 and all its characters are in the vocabulary (for example any text made of
 * characters of the training corpus); otherwise each unknown character or invalid byte comes back
 * as U+FFFD. Use {@link ByteTokenizer} or {@link BpeTokenizer} where every byte sequence must
 * survive.
 */
public final class CharTokenizer implements Tokenizer {
  /** Id of the unknown token. */
  public static final int UNK = 0;

  private static final byte[] REPLACEMENT = {(byte) 0xEF, (byte) 0xBF, (byte) 0xBD};

  private final int[] codePoints;
  private final byte[][] utf8;

  private CharTokenizer(int[] sortedCodePoints) {
    for (int i = 0; i < sortedCodePoints.length; i++) {
      int cp = sortedCodePoints[i];
      if (cp < 0 || cp > Character.MAX_CODE_POINT || (cp >= 0xD800 && cp <= 0xDFFF)) {
        throw new IllegalArgumentException(
            "char: entry " + i + " (" + cp + ") is not a Unicode scalar value");
      }
      if (i > 0 && sortedCodePoints[i - 1] >= cp) {
        throw new IllegalArgumentException("char: code points must be strictly ascending (entry " + i + ")");
      }
    }
    this.codePoints = sortedCodePoints;
    this.utf8 = new byte[codePoints.length + 1][];
    utf8[UNK] = REPLACEMENT;
    for (int i = 0; i < codePoints.length; i++) {
      utf8[i + 1] = new String(Character.toChars(codePoints[i])).getBytes(java.nio.charset.StandardCharsets.UTF_8);
    }
  }

  /**
   * A tokenizer over the given code points (duplicates are ignored; order does not matter).
   *
   * @throws IllegalArgumentException if a value is not a Unicode scalar value
   */
  public static CharTokenizer of(int[] codePoints) {
    if (codePoints == null) {
      throw new IllegalArgumentException("char: code points must not be null");
    }
    int[] sorted = Arrays.stream(codePoints).sorted().distinct().toArray();
    return new CharTokenizer(sorted);
  }

  /** The code points of the valid UTF-8 in {@code corpus} (invalid bytes are skipped). */
  public static CharTokenizer train(byte[] corpus) {
    if (corpus == null) {
      throw new IllegalArgumentException("char: corpus must not be null");
    }
    TreeSet<Integer> seen = new TreeSet<>();
    boolean[] ascii = new boolean[128];
    int i = 0;
    while (i < corpus.length) {
      long r = decodeUtf8(corpus, i);
      int len = (int) (r >>> 32);
      int cp = (int) r;
      if (cp >= 0) {
        if (cp < 128) {
          ascii[cp] = true;
        } else {
          seen.add(cp);
        }
      }
      i += len;
    }
    for (int c = 0; c < 128; c++) {
      if (ascii[c]) {
        seen.add(c);
      }
    }
    return new CharTokenizer(seen.stream().mapToInt(Integer::intValue).toArray());
  }

  /** {@link #train(byte[])} on the bytes of a file. */
  public static CharTokenizer train(Path corpus) throws IOException {
    if (corpus == null) {
      throw new IllegalArgumentException("char: corpus path must not be null");
    }
    return train(Files.readAllBytes(corpus));
  }

  /**
   * Decodes one UTF-8 sequence at {@code i}: returns {@code (length << 32) | codePoint}, with
   * code point -1 (and length 1) for a byte that does not start a valid sequence.
   */
  static long decodeUtf8(byte[] b, int i) {
    int b0 = b[i] & 0xFF;
    int n = b.length;
    if (b0 < 0x80) {
      return (1L << 32) | b0;
    }
    int len;
    int cp;
    int lo = 0x80;
    int hi = 0xBF;
    if (b0 >= 0xC2 && b0 <= 0xDF) {
      len = 2;
      cp = b0 & 0x1F;
    } else if (b0 >= 0xE0 && b0 <= 0xEF) {
      len = 3;
      cp = b0 & 0x0F;
      if (b0 == 0xE0) {
        lo = 0xA0;
      } else if (b0 == 0xED) {
        hi = 0x9F;
      }
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
      len = 4;
      cp = b0 & 0x07;
      if (b0 == 0xF0) {
        lo = 0x90;
      } else if (b0 == 0xF4) {
        hi = 0x8F;
      }
    } else {
      return (1L << 32) | 0xFFFFFFFFL;
    }
    if (i + len > n) {
      return (1L << 32) | 0xFFFFFFFFL;
    }
    for (int k = 1; k < len; k++) {
      int c = b[i + k] & 0xFF;
      int l = k == 1 ? lo : 0x80;
      int h = k == 1 ? hi : 0xBF;
      if (c < l || c > h) {
        return (1L << 32) | 0xFFFFFFFFL;
      }
      cp = (cp << 6) | (c & 0x3F);
    }
    return ((long) len << 32) | cp;
  }

  /** The id of a code point, or {@link #UNK}. */
  public int idOf(int codePoint) {
    int k = Arrays.binarySearch(codePoints, codePoint);
    return k >= 0 ? k + 1 : UNK;
  }

  /**
   * The code point of an id ({@code U+FFFD} for {@link #UNK}).
   *
   * @throws IllegalArgumentException if {@code id} is outside {@code [0, vocabSize())}
   */
  public int codePoint(int id) {
    if (id < 0 || id >= utf8.length) {
      throw new IllegalArgumentException("char: id " + id + " is outside [0, " + utf8.length + ")");
    }
    return id == UNK ? 0xFFFD : codePoints[id - 1];
  }

  @Override
  public int vocabSize() {
    return utf8.length;
  }

  @Override
  public int[] encode(byte[] bytes) {
    if (bytes == null) {
      throw new IllegalArgumentException("char: bytes must not be null");
    }
    IntList out = new IntList(bytes.length);
    int i = 0;
    while (i < bytes.length) {
      long r = decodeUtf8(bytes, i);
      int cp = (int) r;
      out.add(cp < 0 ? UNK : idOf(cp));
      i += (int) (r >>> 32);
    }
    return out.toArray();
  }

  @Override
  public byte[] decode(int[] ids) {
    if (ids == null) {
      throw new IllegalArgumentException("char: ids must not be null");
    }
    int len = 0;
    for (int i = 0; i < ids.length; i++) {
      int id = ids[i];
      if (id < 0 || id >= utf8.length) {
        throw new IllegalArgumentException(
            "char: id " + id + " at position " + i + " is outside [0, " + utf8.length + ")");
      }
      len += utf8[id].length;
    }
    byte[] out = new byte[len];
    int p = 0;
    for (int id : ids) {
      byte[] t = utf8[id];
      System.arraycopy(t, 0, out, p, t.length);
      p += t.length;
    }
    return out;
  }

  @Override
  public String name() {
    return "char-" + vocabSize();
  }

  void writePayload(DataOutputStream out) throws IOException {
    out.writeInt(codePoints.length);
    for (int cp : codePoints) {
      out.writeInt(cp);
    }
  }

  static CharTokenizer readPayload(PayloadReader in) throws IOException {
    int n = in.readCount("code point count", in.remaining() / 4);
    int[] cps = new int[n];
    for (int i = 0; i < n; i++) {
      cps[i] = in.readInt("code point " + i);
    }
    in.expectEnd();
    try {
      return new CharTokenizer(cps);
    } catch (IllegalArgumentException e) {
      throw new IOException("corrupt char tokenizer: " + e.getMessage(), e);
    }
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof CharTokenizer && Arrays.equals(codePoints, ((CharTokenizer) o).codePoints);
  }

  @Override
  public int hashCode() {
    return Arrays.hashCode(codePoints);
  }

  @Override
  public String toString() {
    return "CharTokenizer[" + name() + "]";
  }
}
