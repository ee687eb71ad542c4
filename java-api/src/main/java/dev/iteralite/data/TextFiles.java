package dev.iteralite.data;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/** Strict UTF-8 file reading and line splitting shared by the readers. */
final class TextFiles {
  private TextFiles() {}

  /** The file's bytes decoded as UTF-8; malformed input is an error naming the file. */
  static String readUtf8(Path file) throws IOException {
    Objects.requireNonNull(file, "file");
    byte[] bytes = Files.readAllBytes(file);
    return decodeUtf8(bytes, file.toString());
  }

  static String decodeUtf8(byte[] bytes, String what) throws IOException {
    try {
      return StandardCharsets.UTF_8.newDecoder()
          .onMalformedInput(CodingErrorAction.REPORT)
          .onUnmappableCharacter(CodingErrorAction.REPORT)
          .decode(ByteBuffer.wrap(bytes))
          .toString();
    } catch (CharacterCodingException e) {
      throw new IOException(what + " is not valid UTF-8 (" + e.getMessage() + "); tokenize it as raw bytes with "
          + "TokenFiles.tokenizeFile instead", e);
    }
  }

  /**
   * Splits {@code text} into lines the way Python's {@code for line in f} does: on {@code '\n'}, with no extra
   * empty line after a final newline, and one trailing {@code '\r'} removed from each line (CRLF files).
   */
  static List<String> lines(String text) {
    List<String> lines = new ArrayList<>();
    int start = 0;
    int n = text.length();
    while (start < n) {
      int nl = text.indexOf('\n', start);
      int end = nl < 0 ? n : nl;
      int contentEnd = end > start && text.charAt(end - 1) == '\r' ? end - 1 : end;
      lines.add(text.substring(start, contentEnd));
      start = nl < 0 ? n : nl + 1;
    }
    return lines;
  }

  /** True when the line is empty or holds only whitespace. */
  static boolean isBlank(String line) {
    return line.isBlank();
  }
}
