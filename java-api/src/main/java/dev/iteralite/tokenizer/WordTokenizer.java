package dev.iteralite.tokenizer;

import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Word-level tokenizer with a frequency vocabulary, as in the classic WikiText language-modelling
 * setup: words are the runs of bytes between spaces, every line end is an {@code <eos>} token and
 * a word outside the vocabulary is {@code <unk>}.
 *
 * <p>Id 0 is {@code <unk>}, id 1 is {@code <eos>}; the other ids are the training words ordered by
 * descending frequency, ties by unsigned byte order (deterministic). A literal {@code <unk>} or
 * {@code <eos>} word in the text maps to the special id. Words are split on space, tab and CR; LF
 * ends a line and gives {@code <eos>}. Words are compared as bytes, so any input (invalid UTF-8
 * included) encodes.
 *
 * <p><b>Not lossless:</b> unknown words become {@code <unk>} and whitespace is normalised.
 * {@link #decode(int[])} writes the words of a line separated by single spaces and {@code <eos>}
 * as {@code "\n"}. For WikiText-2 (whose lines begin and end with a space) the decoded text is the
 * original with those outer spaces removed; re-encoding it gives the same ids.
 */
public final class WordTokenizer implements Tokenizer {
  /** Id of the unknown-word token. */
  public static final int UNK = 0;
  /** Id of the end-of-line token. */
  public static final int EOS = 1;
  /** Text of the unknown-word token. */
  public static final String UNK_TEXT = "<unk>";
  /** Text of the end-of-line token. */
  public static final String EOS_TEXT = "<eos>";

  private final byte[][] words;
  private final HashMap<Bytes, Integer> ids;

  private WordTokenizer(byte[][] words) {
    if (words.length < 2
        || !Arrays.equals(words[UNK], UNK_TEXT.getBytes(StandardCharsets.US_ASCII))
        || !Arrays.equals(words[EOS], EOS_TEXT.getBytes(StandardCharsets.US_ASCII))) {
      throw new IllegalArgumentException("word: the vocabulary must start with <unk>, <eos>");
    }
    this.words = words;
    this.ids = new HashMap<>(words.length * 2);
    for (int i = 0; i < words.length; i++) {
      byte[] w = words[i];
      if (w.length == 0) {
        throw new IllegalArgumentException("word: word " + i + " is empty");
      }
      for (byte b : w) {
        if (isSeparator(b) || b == '\n') {
          throw new IllegalArgumentException("word: word " + i + " contains whitespace");
        }
      }
      if (ids.put(new Bytes(w), i) != null) {
        throw new IllegalArgumentException("word: word " + i + " repeats an earlier word");
      }
    }
  }

  /**
   * A tokenizer over an explicit word list (ids 2, 3, … in list order, after {@code <unk>} and
   * {@code <eos>}).
   *
   * @throws IllegalArgumentException if a word is empty, contains whitespace, repeats, or is one
   *     of the special tokens
   */
  public static WordTokenizer of(List<String> vocabulary) {
    if (vocabulary == null) {
      throw new IllegalArgumentException("word: vocabulary must not be null");
    }
    byte[][] w = new byte[vocabulary.size() + 2][];
    w[UNK] = UNK_TEXT.getBytes(StandardCharsets.US_ASCII);
    w[EOS] = EOS_TEXT.getBytes(StandardCharsets.US_ASCII);
    for (int i = 0; i < vocabulary.size(); i++) {
      String s = vocabulary.get(i);
      if (s == null) {
        throw new IllegalArgumentException("word: vocabulary entry " + i + " is null");
      }
      w[i + 2] = s.getBytes(StandardCharsets.UTF_8);
    }
    return new WordTokenizer(w);
  }

  /** Builds the vocabulary of all words of a UTF-8 file ({@code minCount = 1}, no size limit). */
  public static WordTokenizer train(Path corpus) throws IOException {
    if (corpus == null) {
      throw new IllegalArgumentException("word: corpus path must not be null");
    }
    return train(Files.readAllBytes(corpus), 1, Integer.MAX_VALUE);
  }

  /**
   * Builds the vocabulary from a corpus.
   *
   * @param minCount keep only words seen at least this often ({@code >= 1})
   * @param maxVocab largest vocabulary, {@code <unk>} and {@code <eos>} included ({@code >= 2});
   *     the most frequent words are kept
   * @throws IllegalArgumentException on a null corpus or out-of-range options
   */
  public static WordTokenizer train(byte[] corpus, int minCount, int maxVocab) {
    if (corpus == null) {
      throw new IllegalArgumentException("word: corpus must not be null");
    }
    if (minCount < 1) {
      throw new IllegalArgumentException("word: minCount must be >= 1, got " + minCount);
    }
    if (maxVocab < 2) {
      throw new IllegalArgumentException("word: maxVocab must be >= 2 (<unk>, <eos>), got " + maxVocab);
    }
    Map<Bytes, long[]> counts = new HashMap<>();
    forEachWord(corpus, (from, to) -> {
      if (from >= 0) {
        counts.computeIfAbsent(Bytes.copyOf(corpus, from, to), k -> new long[1])[0]++;
      }
    });
    counts.remove(new Bytes(UNK_TEXT.getBytes(StandardCharsets.US_ASCII)));
    counts.remove(new Bytes(EOS_TEXT.getBytes(StandardCharsets.US_ASCII)));
    List<Map.Entry<Bytes, long[]>> entries = new ArrayList<>();
    for (Map.Entry<Bytes, long[]> e : counts.entrySet()) {
      if (e.getValue()[0] >= minCount) {
        entries.add(e);
      }
    }
    entries.sort((x, y) -> {
      int c = Long.compare(y.getValue()[0], x.getValue()[0]);
      return c != 0 ? c : x.getKey().compareTo(y.getKey());
    });
    int n = (int) Math.min(entries.size(), (long) maxVocab - 2);
    byte[][] w = new byte[n + 2][];
    w[UNK] = UNK_TEXT.getBytes(StandardCharsets.US_ASCII);
    w[EOS] = EOS_TEXT.getBytes(StandardCharsets.US_ASCII);
    for (int i = 0; i < n; i++) {
      w[i + 2] = entries.get(i).getKey().data;
    }
    return new WordTokenizer(w);
  }

  private static boolean isSeparator(byte b) {
    return b == ' ' || b == '\t' || b == '\r';
  }

  /** Calls {@code sink(from, to)} per word and {@code sink(-1, -1)} per line end. */
  private static void forEachWord(byte[] b, PreTokenizer.Sink sink) {
    int i = 0;
    int n = b.length;
    while (i < n) {
      byte c = b[i];
      if (c == '\n') {
        sink.accept(-1, -1);
        i++;
      } else if (isSeparator(c)) {
        i++;
      } else {
        int start = i;
        while (i < n && !isSeparator(b[i]) && b[i] != '\n') {
          i++;
        }
        sink.accept(start, i);
      }
    }
  }

  /** The id of a word, or {@link #UNK} if it is not in the vocabulary. */
  public int idOf(String word) {
    if (word == null) {
      throw new IllegalArgumentException("word: word must not be null");
    }
    Integer id = ids.get(new Bytes(word.getBytes(StandardCharsets.UTF_8)));
    return id == null ? UNK : id;
  }

  /**
   * The text of one token.
   *
   * @throws IllegalArgumentException if {@code id} is outside {@code [0, vocabSize())}
   */
  public String word(int id) {
    if (id < 0 || id >= words.length) {
      throw new IllegalArgumentException("word: id " + id + " is outside [0, " + words.length + ")");
    }
    return new String(words[id], StandardCharsets.UTF_8);
  }

  @Override
  public int vocabSize() {
    return words.length;
  }

  @Override
  public int[] encode(byte[] bytes) {
    if (bytes == null) {
      throw new IllegalArgumentException("word: bytes must not be null");
    }
    IntList out = new IntList(Math.max(16, bytes.length / 5));
    forEachWord(bytes, (from, to) -> {
      if (from < 0) {
        out.add(EOS);
      } else {
        Integer id = ids.get(Bytes.copyOf(bytes, from, to));
        out.add(id == null ? UNK : id);
      }
    });
    return out.toArray();
  }

  @Override
  public byte[] decode(int[] ids) {
    if (ids == null) {
      throw new IllegalArgumentException("word: ids must not be null");
    }
    java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream(ids.length * 6);
    boolean lineStart = true;
    for (int i = 0; i < ids.length; i++) {
      int id = ids[i];
      if (id < 0 || id >= words.length) {
        throw new IllegalArgumentException(
            "word: id " + id + " at position " + i + " is outside [0, " + words.length + ")");
      }
      if (id == EOS) {
        out.write('\n');
        lineStart = true;
      } else {
        if (!lineStart) {
          out.write(' ');
        }
        out.writeBytes(words[id]);
        lineStart = false;
      }
    }
    return out.toByteArray();
  }

  @Override
  public String name() {
    return "word-" + vocabSize();
  }

  void writePayload(DataOutputStream out) throws IOException {
    out.writeInt(words.length);
    for (byte[] w : words) {
      out.writeInt(w.length);
      out.write(w);
    }
  }

  static WordTokenizer readPayload(PayloadReader in) throws IOException {
    int n = in.readCount("word count", in.remaining() / 5);
    byte[][] w = new byte[n][];
    for (int i = 0; i < n; i++) {
      int len = in.readCount("length of word " + i, in.remaining());
      w[i] = in.readBytes(len, "word " + i);
    }
    in.expectEnd();
    try {
      return new WordTokenizer(w);
    } catch (IllegalArgumentException e) {
      throw new IOException("corrupt word tokenizer: " + e.getMessage(), e);
    }
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof WordTokenizer && Arrays.deepEquals(words, ((WordTokenizer) o).words);
  }

  @Override
  public int hashCode() {
    return Arrays.deepHashCode(words);
  }

  @Override
  public String toString() {
    return "WordTokenizer[" + name() + "]";
  }
}
