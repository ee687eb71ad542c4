package dev.iteralite.data;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Arrays;
import java.util.Objects;
import java.util.zip.CRC32;

/**
 * A binary file of token ids, memory-mapped read-only for training.
 *
 * <h2>Format (version 1, all integers little-endian)</h2>
 *
 * <pre>
 * offset size  field
 *      0    8  magic "ITLTOKNS" (ASCII)
 *      8    4  int32  format version (1)
 *     12    4  int32  bytes per id: 2 = uint16 (used when vocabSize &lt;= 65536), 4 = int32 (otherwise)
 *     16    8  int64  token count
 *     24    4  int32  vocabulary size (every id is in [0, vocabSize))
 *     28    4  int32  header length H in bytes = offset of the first id (a multiple of 64)
 *     32    8  int64  source byte count (size of the text the ids encode; for bits per byte), -1 if unknown
 *     40    4  int32  CRC32 of the id bytes [H, end of file)
 *     44    4  int32  CRC32 of the header bytes [0, H) computed with this field set to 0
 *     48    4  int32  tokenizer name length L in UTF-8 bytes (at most 1024)
 *     52    L  tokenizer name (UTF-8), then zero padding up to H
 *      H       token count ids of the given width
 * </pre>
 *
 * <p>{@link #open} validates the header (magic, version, width, header CRC), the file size against the token count,
 * and a sample of the ids against the vocabulary (the first and last 4,096 ids and about 60,000 spread evenly);
 * {@link #verify()} checks every id and the data CRC. Files over 2 GiB are mapped as several regions of at most 1 GiB.
 * Files are written by {@link #create} (a {@link Writer}) atomically: to a temporary file in the same directory,
 * which is forced to disk and then renamed over the target, so a crash never leaves a partial file under the target
 * name.
 *
 * <p>A token file is thread-safe for reading. The mapping stays valid until the object is garbage collected (Java 17
 * cannot unmap explicitly); {@link #close()} marks it closed so later reads fail.
 */
public final class TokenFile implements TokenSequence, AutoCloseable {
  /** The format version written and read by this class. */
  public static final int VERSION = 1;
  /** Largest vocabulary stored as uint16. */
  public static final int MAX_UINT16_VOCAB = 65536;

  static final byte[] MAGIC = "ITLTOKNS".getBytes(StandardCharsets.US_ASCII);
  static final int FIXED_HEADER = 52;
  static final int MAX_NAME_BYTES = 1024;
  static final long DEFAULT_REGION_BYTES = 1L << 30;
  private static final int SAMPLE_EDGE = 4096;
  private static final int SAMPLE_SPREAD = 60_000;

  private final Path path;
  private final int bytesPerId;
  private final long count;
  private final int vocabSize;
  private final long sourceBytes;
  private final String tokenizerName;
  private final int headerLength;
  private final int dataCrc;
  private final long regionBytes;
  private final MappedByteBuffer[] regions;
  private volatile boolean closed;

  private TokenFile(Path path, Header h, long regionBytes, MappedByteBuffer[] regions) {
    this.path = path;
    this.bytesPerId = h.bytesPerId;
    this.count = h.count;
    this.vocabSize = h.vocabSize;
    this.sourceBytes = h.sourceBytes;
    this.tokenizerName = h.name;
    this.headerLength = h.headerLength;
    this.dataCrc = h.dataCrc;
    this.regionBytes = regionBytes;
    this.regions = regions;
  }

  /** Bytes per id for a vocabulary: 2 when {@code vocabSize <= 65536}, else 4. */
  public static int bytesPerId(int vocabSize) {
    return vocabSize <= MAX_UINT16_VOCAB ? 2 : 4;
  }

  /**
   * Opens and memory-maps a token file, validating it as described in the class comment.
   *
   * @throws IOException if the file cannot be read, or is truncated, corrupt or of another format (the message says
   *     which, and that the file must be rewritten)
   */
  public static TokenFile open(Path path) throws IOException {
    return open(path, DEFAULT_REGION_BYTES);
  }

  /** {@link #open(Path)} with a given region size (tests use small regions to cover the multi-mapping path). */
  static TokenFile open(Path path, long regionBytes) throws IOException {
    Objects.requireNonNull(path, "path");
    try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
      long fileSize = ch.size();
      Header h = readHeader(ch, fileSize, path);
      long dataBytes = h.count * h.bytesPerId;
      long expected = h.headerLength + dataBytes;
      if (fileSize < expected) {
        throw new IOException(path + " is truncated: the header announces " + h.count + " tokens of " + h.bytesPerId
            + " bytes (" + expected + " bytes in all) but the file has " + fileSize + " bytes; rewrite it");
      }
      if (fileSize > expected) {
        throw new IOException(path + " has " + (fileSize - expected) + " bytes after the " + h.count
            + " tokens its header announces; it is corrupt or was appended to, rewrite it");
      }
      long region = Math.max(h.bytesPerId, regionBytes - regionBytes % h.bytesPerId);
      int n = (int) Math.max(1, (dataBytes + region - 1) / region);
      MappedByteBuffer[] maps = new MappedByteBuffer[n];
      for (int i = 0; i < n; i++) {
        long pos = h.headerLength + i * region;
        long len = Math.min(region, dataBytes - i * region);
        maps[i] = ch.map(FileChannel.MapMode.READ_ONLY, pos, Math.max(0, len));
        maps[i].order(ByteOrder.LITTLE_ENDIAN);
      }
      TokenFile file = new TokenFile(path, h, region, maps);
      file.checkSample();
      return file;
    }
  }

  private static Header readHeader(FileChannel ch, long fileSize, Path path) throws IOException {
    if (fileSize < FIXED_HEADER) {
      throw new IOException(path + " is truncated: " + fileSize + " bytes, but a token file header alone has at least "
          + FIXED_HEADER + "; rewrite it");
    }
    ByteBuffer fixed = readFully(ch, 0, FIXED_HEADER).order(ByteOrder.LITTLE_ENDIAN);
    byte[] magic = new byte[MAGIC.length];
    fixed.get(0, magic);
    if (!Arrays.equals(magic, MAGIC)) {
      throw new IOException(path + " is not an Itera-Lite token file (magic " + Arrays.toString(magic)
          + " instead of \"ITLTOKNS\"); create token files with TokenFile.create or TokenFiles");
    }
    int version = fixed.getInt(8);
    if (version != VERSION) {
      throw new IOException(path + " has token file format version " + version + "; this library reads version "
          + VERSION + ", rewrite the file with it");
    }
    Header h = new Header();
    h.bytesPerId = fixed.getInt(12);
    h.count = fixed.getLong(16);
    h.vocabSize = fixed.getInt(24);
    h.headerLength = fixed.getInt(28);
    h.sourceBytes = fixed.getLong(32);
    h.dataCrc = fixed.getInt(40);
    int headerCrc = fixed.getInt(44);
    int nameLength = fixed.getInt(48);
    if (nameLength < 0 || nameLength > MAX_NAME_BYTES || h.headerLength < FIXED_HEADER + nameLength
        || h.headerLength % 64 != 0) {
      throw new IOException(path + " has a corrupt header (name length " + nameLength + ", header length "
          + h.headerLength + ", file size " + fileSize + "); rewrite it");
    }
    if (h.headerLength > fileSize) {
      throw new IOException(path + " is truncated: its header alone has " + h.headerLength + " bytes but the file has "
          + fileSize + "; rewrite it");
    }
    ByteBuffer full = readFully(ch, 0, h.headerLength).order(ByteOrder.LITTLE_ENDIAN);
    full.putInt(44, 0);
    if (crc(full.array(), 0, h.headerLength) != headerCrc) {
      throw new IOException(path + " has a corrupt header (CRC32 mismatch); rewrite it");
    }
    if (h.bytesPerId != 2 && h.bytesPerId != 4) {
      throw new IOException(path + " has an invalid id width " + h.bytesPerId + " (2 or 4 expected); rewrite it");
    }
    if (h.vocabSize < 1 || (h.bytesPerId == 2 && h.vocabSize > MAX_UINT16_VOCAB)) {
      throw new IOException(path + " has an invalid vocabulary size " + h.vocabSize + " for " + h.bytesPerId
          + "-byte ids; rewrite it");
    }
    if (h.count < 0 || h.sourceBytes < -1) {
      throw new IOException(path + " has a corrupt header (token count " + h.count + ", source bytes "
          + h.sourceBytes + "); rewrite it");
    }
    h.name = new String(full.array(), FIXED_HEADER, nameLength, StandardCharsets.UTF_8);
    return h;
  }

  private static ByteBuffer readFully(FileChannel ch, long position, int length) throws IOException {
    ByteBuffer buf = ByteBuffer.allocate(length);
    while (buf.hasRemaining()) {
      if (ch.read(buf, position + buf.position()) < 0) {
        throw new IOException("unexpected end of file at byte " + (position + buf.position()));
      }
    }
    buf.flip();
    return buf;
  }

  static int crc(byte[] bytes, int offset, int length) {
    CRC32 c = new CRC32();
    c.update(bytes, offset, length);
    return (int) c.getValue();
  }

  private void checkSample() throws IOException {
    if (count == 0) {
      return;
    }
    long edge = Math.min(count, SAMPLE_EDGE);
    for (long i = 0; i < edge; i++) {
      checkId(i);
      checkId(count - 1 - i);
    }
    long stride = Math.max(1, count / SAMPLE_SPREAD);
    for (long i = 0; i < count; i += stride) {
      checkId(i);
    }
  }

  private void checkId(long i) throws IOException {
    int id = rawGet(i);
    if (id < 0 || id >= vocabSize) {
      throw new IOException(path + " is corrupt: token " + i + " has id " + id + ", outside the vocabulary [0, "
          + vocabSize + ") of its header; rewrite it");
    }
  }

  /**
   * Checks every id against the vocabulary and the id bytes against the CRC32 in the header (a full pass over the
   * file).
   *
   * @throws IOException naming the first problem found
   */
  public void verify() throws IOException {
    checkOpen();
    CRC32 c = new CRC32();
    for (MappedByteBuffer m : regions) {
      c.update(m.duplicate().position(0));
    }
    for (long i = 0; i < count; i++) {
      checkId(i);
    }
    if ((int) c.getValue() != dataCrc) {
      throw new IOException(path + " is corrupt: the CRC32 of its ids does not match its header; rewrite it");
    }
  }

  /** The file this was opened from. */
  public Path path() {
    return path;
  }

  @Override
  public long size() {
    return count;
  }

  @Override
  public int vocabSize() {
    return vocabSize;
  }

  /** Bytes per stored id: 2 (uint16) or 4 (int32). */
  public int bytesPerId() {
    return bytesPerId;
  }

  /** The tokenizer name recorded at creation ({@link dev.iteralite.tokenizer.Tokenizer#name()}). */
  public String tokenizerName() {
    return tokenizerName;
  }

  /** Size in bytes of the text the ids encode, or -1 if unknown. */
  public long sourceBytes() {
    return sourceBytes;
  }

  /** Offset of the first id in the file. */
  public int headerLength() {
    return headerLength;
  }

  /** Number of memory mappings (1 unless the ids exceed one region of 1 GiB). */
  public int mappingCount() {
    return regions.length;
  }

  @Override
  public int get(long index) {
    checkOpen();
    Objects.checkIndex(index, count);
    return rawGet(index);
  }

  private int rawGet(long index) {
    long byteOffset = index * bytesPerId;
    MappedByteBuffer m = regions[(int) (byteOffset / regionBytes)];
    int at = (int) (byteOffset % regionBytes);
    return bytesPerId == 2 ? Short.toUnsignedInt(m.getShort(at)) : m.getInt(at);
  }

  @Override
  public void read(long start, int[] dst, int offset, int length) {
    checkOpen();
    Objects.checkFromIndexSize(offset, length, dst.length);
    TokenSequence.checkRange(start, length, count);
    int done = 0;
    while (done < length) {
      long byteOffset = (start + done) * bytesPerId;
      int r = (int) (byteOffset / regionBytes);
      int at = (int) (byteOffset % regionBytes);
      int inRegion = (int) Math.min(length - done, (regions[r].limit() - at) / bytesPerId);
      ByteBuffer b = regions[r].duplicate().order(ByteOrder.LITTLE_ENDIAN).position(at);
      if (bytesPerId == 4) {
        b.asIntBuffer().get(dst, offset + done, inRegion);
      } else {
        var s = b.asShortBuffer();
        for (int i = 0; i < inRegion; i++) {
          dst[offset + done + i] = Short.toUnsignedInt(s.get(i));
        }
      }
      done += inRegion;
    }
  }

  /** Copies all ids into a new array (for files of at most {@code Integer.MAX_VALUE - 8} tokens). */
  public int[] toIntArray() {
    if (count > Integer.MAX_VALUE - 8) {
      throw new IllegalStateException(path + " holds " + count + " tokens, too many for one Java array; use read()");
    }
    int[] out = new int[(int) count];
    read(0, out, 0, out.length);
    return out;
  }

  private void checkOpen() {
    if (closed) {
      throw new IllegalStateException("token file " + path + " is closed; open it again with TokenFile.open");
    }
  }

  /** Marks the file closed; reads afterwards throw {@link IllegalStateException}. Idempotent. */
  @Override
  public void close() {
    closed = true;
  }

  @Override
  public String toString() {
    return "TokenFile[" + path + ", " + count + " tokens, vocab " + vocabSize + ", " + tokenizerName + "]";
  }

  /**
   * Starts writing a token file; nothing appears at {@code target} until {@link Writer#commit()}.
   *
   * @param target the final path (replaced atomically on commit if it exists)
   * @param vocabSize the tokenizer's vocabulary size; ids must lie in {@code [0, vocabSize)}
   * @param tokenizerName the tokenizer's {@code name()} (at most 1,024 UTF-8 bytes)
   * @throws IOException if the temporary file cannot be created
   */
  public static Writer create(Path target, int vocabSize, String tokenizerName) throws IOException {
    return new Writer(target, vocabSize, tokenizerName);
  }

  /**
   * Writes a token file atomically in one call.
   *
   * @throws IOException if writing fails (the target is then untouched)
   */
  public static void write(Path target, int[] ids, int vocabSize, String tokenizerName, long sourceBytes)
      throws IOException {
    try (Writer w = create(target, vocabSize, tokenizerName)) {
      w.append(ids, 0, ids.length);
      w.sourceBytes(sourceBytes);
      w.commit();
    }
  }

  /**
   * Streams ids into a temporary file and publishes it atomically on {@link #commit()}; {@link #close()} without a
   * commit deletes the temporary file. Not thread-safe.
   */
  public static final class Writer implements AutoCloseable {
    private final Path target;
    private final Path temp;
    private final FileChannel ch;
    private final int vocabSize;
    private final int width;
    private final byte[] header;
    private final CRC32 crc = new CRC32();
    private final ByteBuffer buf = ByteBuffer.allocate(1 << 16).order(ByteOrder.LITTLE_ENDIAN);
    private long count;
    private long sourceBytes = -1;
    private boolean done;

    private Writer(Path target, int vocabSize, String tokenizerName) throws IOException {
      Objects.requireNonNull(target, "target");
      Objects.requireNonNull(tokenizerName, "tokenizerName");
      if (vocabSize < 1) {
        throw new IllegalArgumentException("vocabSize must be at least 1, got " + vocabSize
            + "; pass the tokenizer's vocabSize()");
      }
      byte[] name = tokenizerName.getBytes(StandardCharsets.UTF_8);
      if (name.length > MAX_NAME_BYTES) {
        throw new IllegalArgumentException("tokenizer name has " + name.length + " UTF-8 bytes, at most "
            + MAX_NAME_BYTES + " fit in a token file header; use a shorter name");
      }
      this.target = target.toAbsolutePath();
      this.vocabSize = vocabSize;
      this.width = bytesPerId(vocabSize);
      int headerLength = (FIXED_HEADER + name.length + 63) / 64 * 64;
      this.header = new byte[headerLength];
      System.arraycopy(name, 0, header, FIXED_HEADER, name.length);
      ByteBuffer.wrap(header).order(ByteOrder.LITTLE_ENDIAN).putInt(48, name.length);
      Path dir = this.target.getParent();
      this.temp = Files.createTempFile(dir, "." + this.target.getFileName() + ".", ".tmp");
      FileChannel c = null;
      try {
        c = FileChannel.open(temp, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING);
        c.write(ByteBuffer.wrap(header), 0);
        c.position(headerLength);
      } catch (IOException | RuntimeException e) {
        if (c != null) {
          c.close();
        }
        Files.deleteIfExists(temp);
        throw e;
      }
      this.ch = c;
    }

    /**
     * Appends {@code ids[offset, offset + length)}.
     *
     * @throws IllegalArgumentException if an id is outside {@code [0, vocabSize)} (nothing of this call is written)
     * @throws IOException if writing fails
     */
    public Writer append(int[] ids, int offset, int length) throws IOException {
      checkWritable();
      Objects.checkFromIndexSize(offset, length, ids.length);
      for (int i = offset; i < offset + length; i++) {
        if (ids[i] < 0 || ids[i] >= vocabSize) {
          throw new IllegalArgumentException("token id " + ids[i] + " at index " + i + " is outside [0, " + vocabSize
              + "); the writer was created for a vocabulary of " + vocabSize);
        }
      }
      for (int i = offset; i < offset + length; i++) {
        if (buf.remaining() < width) {
          flush();
        }
        if (width == 2) {
          buf.putShort((short) ids[i]);
        } else {
          buf.putInt(ids[i]);
        }
      }
      count += length;
      return this;
    }

    /** Appends all of {@code ids}. */
    public Writer append(int[] ids) throws IOException {
      return append(ids, 0, ids.length);
    }

    /** Sets the source byte count recorded in the header (default -1, unknown). */
    public Writer sourceBytes(long bytes) {
      if (bytes < -1) {
        throw new IllegalArgumentException("sourceBytes must be >= 0 (or -1 for unknown), got " + bytes);
      }
      this.sourceBytes = bytes;
      return this;
    }

    /** Ids appended so far. */
    public long count() {
      return count;
    }

    private void flush() throws IOException {
      buf.flip();
      crc.update(buf.array(), 0, buf.limit());
      while (buf.hasRemaining()) {
        ch.write(buf);
      }
      buf.clear();
    }

    private void checkWritable() {
      if (done) {
        throw new IllegalStateException("token file writer for " + target + " was already committed or closed");
      }
    }

    /**
     * Completes the header, forces the file to disk and renames it to the target (atomically where the file system
     * allows).
     *
     * @throws IOException if any step fails; the target is then untouched and the temporary file removed
     */
    public void commit() throws IOException {
      checkWritable();
      try {
        flush();
        ByteBuffer h = ByteBuffer.wrap(header).order(ByteOrder.LITTLE_ENDIAN);
        h.put(0, MAGIC);
        h.putInt(8, VERSION);
        h.putInt(12, width);
        h.putLong(16, count);
        h.putInt(24, vocabSize);
        h.putInt(28, header.length);
        h.putLong(32, sourceBytes);
        h.putInt(40, (int) crc.getValue());
        h.putInt(44, 0);
        h.putInt(44, crc(header, 0, header.length));
        ch.write(ByteBuffer.wrap(header), 0);
        ch.force(true);
        ch.close();
        try {
          // createTempFile made it owner-only; give it the usual permissions of a data file
          Files.setPosixFilePermissions(temp, PosixFilePermissions.fromString("rw-r--r--"));
        } catch (UnsupportedOperationException e) {
          // not a POSIX file system: keep the defaults
        }
        try {
          Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
          Files.move(temp, target, StandardCopyOption.REPLACE_EXISTING);
        }
        forceDirectory(target.getParent());
        done = true;
      } finally {
        if (!done) {
          close();
        }
      }
    }

    /** Discards the temporary file unless committed. Idempotent. */
    @Override
    public void close() throws IOException {
      done = true;
      try {
        ch.close();
      } finally {
        Files.deleteIfExists(temp);
      }
    }
  }

  /** Forces a directory entry change (the rename) to disk where the platform supports it. */
  private static void forceDirectory(Path dir) {
    try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
      d.force(true);
    } catch (IOException | UnsupportedOperationException e) {
      // not supported on every platform/file system; the file itself was already forced
    }
  }

  private static final class Header {
    int bytesPerId;
    long count;
    int vocabSize;
    int headerLength;
    long sourceBytes;
    int dataCrc;
    String name;
  }
}
