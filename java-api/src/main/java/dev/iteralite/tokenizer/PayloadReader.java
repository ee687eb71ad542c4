package dev.iteralite.tokenizer;

import java.io.IOException;

/** Bounds-checked big-endian reads over a byte array; truncation is an {@link IOException}. */
final class PayloadReader {
  private final byte[] buf;
  private final String what;
  private int pos;
  private final int end;

  PayloadReader(byte[] buf, int from, int to, String what) {
    this.buf = buf;
    this.pos = from;
    this.end = to;
    this.what = what;
  }

  private void need(int n, String field) throws IOException {
    if (n < 0 || end - pos < n) {
      throw new IOException(what + ": truncated while reading " + field + " at byte " + pos
          + " (needs " + n + " bytes, " + (end - pos) + " left)");
    }
  }

  int readInt(String field) throws IOException {
    need(4, field);
    int v = ((buf[pos] & 0xFF) << 24) | ((buf[pos + 1] & 0xFF) << 16) | ((buf[pos + 2] & 0xFF) << 8)
        | (buf[pos + 3] & 0xFF);
    pos += 4;
    return v;
  }

  int readIntLE(String field) throws IOException {
    need(4, field);
    int v = (buf[pos] & 0xFF) | ((buf[pos + 1] & 0xFF) << 8) | ((buf[pos + 2] & 0xFF) << 16)
        | ((buf[pos + 3] & 0xFF) << 24);
    pos += 4;
    return v;
  }

  /** A count in {@code [0, max]}, checked so that callers never allocate absurd arrays. */
  int readCount(String field, long max) throws IOException {
    int n = readInt(field);
    if (n < 0 || n > max) {
      throw new IOException(what + ": " + field + " = " + n + " is outside [0, " + max + "]");
    }
    return n;
  }

  byte[] readBytes(int n, String field) throws IOException {
    need(n, field);
    byte[] out = new byte[n];
    System.arraycopy(buf, pos, out, 0, n);
    pos += n;
    return out;
  }

  int remaining() {
    return end - pos;
  }

  int position() {
    return pos;
  }

  void expectEnd() throws IOException {
    if (pos != end) {
      throw new IOException(what + ": " + (end - pos) + " unexpected bytes after the data at byte " + pos);
    }
  }
}
