package dev.iteralite.data;

import dev.iteralite.tokenizer.Tokenizer;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Objects;

/** Tokenizes text into {@link TokenFile}s: a whole file as raw bytes, or a {@link TextCorpus} document by document. */
public final class TokenFiles {
  private TokenFiles() {}

  /**
   * Encodes the bytes of {@code textFile} exactly as stored (no decoding, so any bytes are accepted) in one piece and
   * writes the ids atomically to {@code out}, recording the file size as the source byte count.
   *
   * @return the token file, opened
   * @throws IllegalArgumentException if the file is larger than 2 GiB (use {@link #tokenizeDocuments})
   * @throws IOException if reading or writing fails
   */
  public static TokenFile tokenizeFile(Path textFile, Tokenizer tokenizer, Path out) throws IOException {
    Objects.requireNonNull(textFile, "textFile");
    Objects.requireNonNull(tokenizer, "tokenizer");
    long size = Files.size(textFile);
    if (size > Integer.MAX_VALUE - 8) {
      throw new IllegalArgumentException(textFile + " has " + size + " bytes; tokenizeFile encodes a file in one piece "
          + "of at most 2 GiB. Split it into documents and use tokenizeDocuments");
    }
    byte[] bytes = Files.readAllBytes(textFile);
    int[] ids = tokenizer.encode(bytes);
    TokenFile.write(out, ids, tokenizer.vocabSize(), tokenizer.name(), bytes.length);
    return TokenFile.open(out);
  }

  /**
   * Encodes each document followed by {@code separator} (e.g. {@code "\n\n"}, or {@code ""} for none) as one piece,
   * so tokens never span two documents, and writes all ids atomically to {@code out}. The source byte count recorded
   * is the UTF-8 size of everything encoded (documents plus separators).
   *
   * @return the token file, opened
   * @throws IOException if writing fails
   */
  public static TokenFile tokenizeDocuments(TextCorpus corpus, String separator, Tokenizer tokenizer, Path out)
      throws IOException {
    Objects.requireNonNull(corpus, "corpus");
    Objects.requireNonNull(separator, "separator");
    Objects.requireNonNull(tokenizer, "tokenizer");
    long bytes = 0;
    try (TokenFile.Writer w = TokenFile.create(out, tokenizer.vocabSize(), tokenizer.name())) {
      for (String doc : corpus.documents()) {
        byte[] b = (doc + separator).getBytes(StandardCharsets.UTF_8);
        bytes += b.length;
        w.append(tokenizer.encode(b));
      }
      w.sourceBytes(bytes);
      w.commit();
    }
    return TokenFile.open(out);
  }
}
