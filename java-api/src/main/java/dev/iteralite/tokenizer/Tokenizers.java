package dev.iteralite.tokenizer;

import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Arrays;
import java.util.zip.CRC32;

/**
 * Saves and loads every tokenizer of this package in one file format (see the package
 * documentation for its layout), and loads llama2.c's {@code tokenizer.bin}.
 */
public final class Tokenizers {
  /** The eight bytes every tokenizer file starts with. */
  static final byte[] MAGIC = "ITERATOK".getBytes(StandardCharsets.US_ASCII);
  /** The format version written by {@link #save}. */
  public static final int VERSION = 1;

  private Tokenizers() {}

  /**
   * Writes {@code tokenizer} to {@code file} (through a temporary file in the same folder that is
   * then renamed, so a reader never sees a half-written file).
   *
   * @throws IllegalArgumentException if the tokenizer is not one of this package's
   * @throws IOException if writing fails
   */
  public static void save(Tokenizer tokenizer, Path file) throws IOException {
    if (tokenizer == null || file == null) {
      throw new IllegalArgumentException("tokenizer and file must not be null");
    }
    byte[] bytes = toBytes(tokenizer);
    Path abs = file.toAbsolutePath();
    Path dir = abs.getParent();
    Path tmp = Files.createTempFile(dir, abs.getFileName().toString(), ".tmp");
    try {
      Files.write(tmp, bytes);
      try {
        Files.move(tmp, abs, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
      } catch (java.nio.file.AtomicMoveNotSupportedException e) {
        Files.move(tmp, abs, StandardCopyOption.REPLACE_EXISTING);
      }
    } finally {
      Files.deleteIfExists(tmp);
    }
  }

  /**
   * The file contents {@link #save} writes for {@code tokenizer}.
   *
   * @throws IllegalArgumentException if the tokenizer is not one of this package's
   */
  public static byte[] toBytes(Tokenizer tokenizer) {
    if (tokenizer == null) {
      throw new IllegalArgumentException("tokenizer must not be null");
    }
    try {
      ByteArrayOutputStream payloadBuf = new ByteArrayOutputStream();
      DataOutputStream payload = new DataOutputStream(payloadBuf);
      String type;
      if (tokenizer instanceof ByteTokenizer) {
        type = "byte";
      } else if (tokenizer instanceof BpeTokenizer) {
        type = "bpe";
        ((BpeTokenizer) tokenizer).writePayload(payload);
      } else if (tokenizer instanceof WordTokenizer) {
        type = "word";
        ((WordTokenizer) tokenizer).writePayload(payload);
      } else if (tokenizer instanceof CharTokenizer) {
        type = "char";
        ((CharTokenizer) tokenizer).writePayload(payload);
      } else if (tokenizer instanceof Llama2cTokenizer) {
        type = "llama2c";
        ((Llama2cTokenizer) tokenizer).writePayload(payload);
      } else if (tokenizer instanceof RemappedTokenizer r) { // vocabulary trimming (compress package)
        type = "remapped";
        r.writePayload(payload);
      } else {
        throw new IllegalArgumentException(
            "cannot save tokenizer " + tokenizer.getClass().getName() + ": not one of dev.iteralite.tokenizer's");
      }
      payload.flush();
      byte[] p = payloadBuf.toByteArray();
      ByteArrayOutputStream buf = new ByteArrayOutputStream(p.length + 32);
      DataOutputStream out = new DataOutputStream(buf);
      out.write(MAGIC);
      out.writeInt(VERSION);
      byte[] t = type.getBytes(StandardCharsets.US_ASCII);
      out.writeInt(t.length);
      out.write(t);
      out.writeInt(p.length);
      out.write(p);
      CRC32 crc = new CRC32();
      crc.update(buf.toByteArray());
      out.writeInt((int) crc.getValue());
      out.flush();
      return buf.toByteArray();
    } catch (IOException e) {
      throw new IllegalStateException("writing to memory failed", e); // cannot happen
    }
  }

  /**
   * Reads a tokenizer written by {@link #save}, whatever its type.
   *
   * @throws IOException if the file cannot be read, or is truncated, corrupt (checksum), of an
   *     unknown version or type, or inconsistent
   */
  public static Tokenizer load(Path file) throws IOException {
    if (file == null) {
      throw new IllegalArgumentException("file must not be null");
    }
    return fromBytes(Files.readAllBytes(file), file.toString());
  }

  /**
   * Reads a tokenizer from the bytes of a tokenizer file; {@code source} names it in errors.
   *
   * @throws IOException if the bytes are truncated, corrupt, of an unknown version or type, or
   *     inconsistent
   */
  public static Tokenizer fromBytes(byte[] data, String source) throws IOException {
    if (data == null) {
      throw new IllegalArgumentException("data must not be null");
    }
    String what = "tokenizer file " + source;
    if (data.length < MAGIC.length || !Arrays.equals(Arrays.copyOf(data, MAGIC.length), MAGIC)) {
      throw new IOException(what + ": not a tokenizer file (does not start with \"ITERATOK\")");
    }
    if (data.length < MAGIC.length + 4 + 4 + 4 + 4) {
      throw new IOException(what + ": truncated (" + data.length + " bytes)");
    }
    PayloadReader in = new PayloadReader(data, MAGIC.length, data.length - 4, what);
    int version = in.readInt("version");
    if (version != VERSION) {
      throw new IOException(what + ": format version " + version + " is not supported (this reader knows " + VERSION + ")");
    }
    int typeLen = in.readCount("type length", 32);
    String type = new String(in.readBytes(typeLen, "type"), StandardCharsets.US_ASCII);
    int payloadLen = in.readCount("payload length", in.remaining());
    if (payloadLen != in.remaining()) {
      throw new IOException(what + ": truncated or padded: payload length " + payloadLen + " but "
          + in.remaining() + " bytes before the checksum");
    }
    CRC32 crc = new CRC32();
    crc.update(data, 0, data.length - 4);
    int stored = new PayloadReader(data, data.length - 4, data.length, what).readInt("checksum");
    if (stored != (int) crc.getValue()) {
      throw new IOException(what + ": checksum mismatch (the file is corrupt or truncated)");
    }
    PayloadReader p = new PayloadReader(data, in.position(), data.length - 4, what + " (" + type + ")");
    switch (type) {
      case "byte":
        p.expectEnd();
        return ByteTokenizer.instance();
      case "bpe":
        return BpeTokenizer.readPayload(p);
      case "word":
        return WordTokenizer.readPayload(p);
      case "char":
        return CharTokenizer.readPayload(p);
      case "llama2c":
        return Llama2cTokenizer.readPayload(p);
      case "remapped":
        return RemappedTokenizer.readPayload(p);
      default:
        throw new IOException(what + ": unknown tokenizer type \"" + type + "\"");
    }
  }
}
