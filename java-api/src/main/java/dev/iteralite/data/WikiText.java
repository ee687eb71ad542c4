package dev.iteralite.data;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.function.Consumer;
import java.util.stream.Stream;

/**
 * One split of the tokenized WikiText-2 (or -103) files ({@code wiki.*.tokens}, or {@code train/valid/test.txt} of
 * pytorch/examples' word_language_model), read the classic way.
 *
 * <p>The rules are those of pytorch/examples {@code word_language_model/data.py} ({@code for line in f: words =
 * line.split() + ['<eos>']}):
 *
 * <ul>
 *   <li>The file is split into lines on {@code '\n'}; a final newline does not start an extra empty line, a last line
 *       without newline still counts, and one trailing {@code '\r'} per line is dropped (CRLF copies).
 *   <li>Every line, <em>including empty ones</em> (the files hold {@code " "} lines between paragraphs) and headings
 *       such as {@code " = = Gameplay = = "}, contributes its whitespace-separated words followed by one {@link #EOS}.
 *       Headings are ordinary lines: their {@code =} signs are words.
 *   <li>Words are maximal runs of non-whitespace characters, whitespace being what Python's {@code str.split()} splits
 *       on ({@link Character#isWhitespace}, {@link Character#isSpaceChar} (which adds no-break spaces) and U+0085);
 *       {@code <unk>} and {@code @-@} are ordinary words.
 * </ul>
 *
 * Under these rules the official test split has 245,569 words and the validation split 217,646 (each
 * including one {@code <eos>} per line), the sizes published for WikiText-2. The {@linkplain #text() raw text} is the
 * file exactly as read, for byte-level tokenizers and bits per byte.
 */
public final class WikiText {
  /** The end-of-line word appended to every line. */
  public static final String EOS = "<eos>";

  private final String name;
  private final String text;
  private final long sourceBytes;
  private final List<String> lines;

  private WikiText(String name, String text, long sourceBytes) {
    this.name = name;
    this.text = text;
    this.sourceBytes = sourceBytes;
    this.lines = List.copyOf(TextFiles.lines(text));
  }

  /**
   * Reads a split from a UTF-8 file.
   *
   * @throws IOException if the file cannot be read or is not valid UTF-8
   */
  public static WikiText read(Path file) throws IOException {
    String text = TextFiles.readUtf8(file);
    return new WikiText(String.valueOf(file.getFileName()), text, text.getBytes(StandardCharsets.UTF_8).length);
  }

  /** A split from text already in memory ({@code name} is for logs). */
  public static WikiText parse(String name, String text) {
    Objects.requireNonNull(name, "name");
    Objects.requireNonNull(text, "text");
    return new WikiText(name, text, text.getBytes(StandardCharsets.UTF_8).length);
  }

  /** The name given at construction (the file name for {@link #read}). */
  public String name() {
    return name;
  }

  /** The raw text, exactly as in the file. */
  public String text() {
    return text;
  }

  /** Size of the raw text in UTF-8 bytes (the denominator of bits per byte). */
  public long sourceBytes() {
    return sourceBytes;
  }

  /** The lines, without their line terminators (see the class comment). */
  public List<String> lines() {
    return lines;
  }

  /** The words of one line followed by {@link #EOS}. */
  public static List<String> lineWords(String line) {
    List<String> words = new ArrayList<>();
    splitWords(line, words::add);
    words.add(EOS);
    return words;
  }

  /** Calls {@code sink} with every word of the split in order, one {@link #EOS} after each line. */
  public void forEachWord(Consumer<String> sink) {
    Objects.requireNonNull(sink, "sink");
    for (String line : lines) {
      splitWords(line, sink);
      sink.accept(EOS);
    }
  }

  /** The word stream (lazy): every line's words, then {@link #EOS}. */
  public Stream<String> words() {
    return lines.stream().flatMap(line -> lineWords(line).stream());
  }

  /** Number of words including one {@link #EOS} per line (the denominator of word-level perplexity). */
  public long wordCount() {
    long[] n = {0};
    for (String line : lines) {
      splitWords(line, w -> n[0]++);
      n[0]++;
    }
    return n[0];
  }

  /** The split as a corpus of one document, the raw text. */
  public TextCorpus corpus() {
    return new TextCorpus(name, List.of(text), sourceBytes);
  }

  private static void splitWords(String line, Consumer<String> sink) {
    int n = line.length();
    int i = 0;
    while (i < n) {
      while (i < n && isSpace(line.charAt(i))) {
        i++;
      }
      int start = i;
      while (i < n && !isSpace(line.charAt(i))) {
        i++;
      }
      if (i > start) {
        sink.accept(line.substring(start, i));
      }
    }
  }

  /** Python's {@code str.isspace()} for one UTF-16 unit (all such characters are in the BMP). */
  static boolean isSpace(char c) {
    return Character.isWhitespace(c) || Character.isSpaceChar(c) || c == '\u0085';
  }
}
