package dev.iteralite.data;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Objects;

/**
 * A named list of text documents plus the number of source bytes they came from (the denominator of bits per
 * byte): what the readers ({@link #plainText}, {@link WikiText#corpus()}, {@link TinyStories#read}) produce and
 * {@link TokenFiles#tokenizeDocuments} tokenizes.
 *
 * @param name a short name for logs, e.g. the file name
 * @param documents the documents, in file order (an unmodifiable copy is kept)
 * @param sourceBytes the size in bytes of the source the documents were read from
 */
public record TextCorpus(String name, List<String> documents, long sourceBytes) {
  /** Checks the arguments and keeps an unmodifiable copy of {@code documents}. */
  public TextCorpus {
    Objects.requireNonNull(name, "name");
    documents = List.copyOf(Objects.requireNonNull(documents, "documents"));
    if (sourceBytes < 0) {
      throw new IllegalArgumentException("sourceBytes must be >= 0, got " + sourceBytes);
    }
  }

  /**
   * A plain UTF-8 text file as one document holding the whole file verbatim (line endings included).
   *
   * @throws IOException if the file cannot be read or is not valid UTF-8 (for arbitrary bytes use
   *     {@link TokenFiles#tokenizeFile}, which never decodes)
   */
  public static TextCorpus plainText(Path file) throws IOException {
    String text = TextFiles.readUtf8(file);
    return new TextCorpus(String.valueOf(file.getFileName()), List.of(text), Files.size(file));
  }

  /** Number of documents. */
  public int size() {
    return documents.size();
  }

  /** The documents joined with {@code separator} (e.g. {@code "\n\n"}), nothing after the last one. */
  public String joined(String separator) {
    return String.join(Objects.requireNonNull(separator, "separator"), documents);
  }

  /** Total UTF-8 size of the documents themselves (without separators). */
  public long documentBytes() {
    long n = 0;
    for (String d : documents) {
      n += d.getBytes(StandardCharsets.UTF_8).length;
    }
    return n;
  }
}
