package dev.iteralite.checkpoint;

import com.fasterxml.jackson.core.JsonEncoding;
import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import dev.iteralite.nativelib.RawPointer;
import dev.iteralite.nn.Parameter;
import dev.iteralite.nn.ParameterSet;
import dev.iteralite.tensor.Tensor;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.bytedeco.javacpp.BytePointer;

/**
 * Reads and writes the <a href="https://github.com/huggingface/safetensors">safetensors</a> format,
 * the weight file of Itera-Lite checkpoints.
 *
 * <h2>Format</h2>
 *
 * <pre>
 * 8 bytes   N, unsigned little-endian 64-bit: length of the header
 * N bytes   UTF-8 JSON object: {"name": {"dtype": "F32", "shape": [d0, d1], "data_offsets": [begin, end]}, ...,
 *           optionally "__metadata__": {"key": "string value", ...}}, padded with spaces so that 8 + N is a
 *           multiple of 8 (the data then starts 8-byte aligned)
 * rest      the tensors' bytes, row-major, little-endian; offsets are relative to the start of this region
 * </pre>
 *
 * <p>The reader ({@link #open}) validates everything before any tensor is used: the header length
 * against the file size, the JSON (duplicate names included), each entry's type, shape and offsets,
 * that {@code shape product x element size == end - begin}, and that the tensors tile the data region
 * exactly (sorted by offset: no gap, no overlap, nothing after the last one). Errors are {@link
 * IOException}s naming the file, the tensor and the problem. Tensor bytes are read from a
 * memory mapping straight into native {@link Tensor} memory. Element types live in {@link
 * SafetensorsDType}.
 *
 * <p>{@link #saveParameters} / {@link #loadParameters} store a {@link ParameterSet} by parameter
 * name; loading checks that every parameter is present with the declared shape and type and that
 * the file holds nothing else.
 */
public final class Safetensors {
  /** Largest header accepted (as the reference implementation: 100 MB). */
  public static final long MAX_HEADER_BYTES = 100_000_000L;
  /** Key of the optional string-to-string metadata map in the header. */
  public static final String METADATA_KEY = "__metadata__";

  private static final JsonFactory JSON = JsonFactory.builder().build();
  private static final int CHUNK = 1 << 30;

  private Safetensors() {}

  /**
   * One tensor entry of a header.
   *
   * @param name the tensor's name
   * @param dtype element type
   * @param shape dimensions (empty for a scalar)
   * @param begin first byte, relative to the data region
   * @param end one past the last byte
   */
  public record TensorInfo(String name, SafetensorsDType dtype, long[] shape, long begin, long end) {
    public TensorInfo {
      shape = shape.clone();
    }

    @Override
    public long[] shape() {
      return shape.clone();
    }

    /** Number of elements (1 for a scalar). */
    public long elements() {
      return SafetensorsDType.elementCount(shape);
    }

    /** Bytes of data. */
    public long byteLength() {
      return end - begin;
    }

    @Override
    public boolean equals(Object o) {
      return o instanceof TensorInfo t && name.equals(t.name) && dtype == t.dtype && Arrays.equals(shape, t.shape)
          && begin == t.begin && end == t.end;
    }

    @Override
    public int hashCode() {
      return Objects.hash(name, dtype, Arrays.hashCode(shape), begin, end);
    }

    @Override
    public String toString() {
      return name + " " + dtype.headerName() + Arrays.toString(shape) + " @[" + begin + ", " + end + ")";
    }
  }

  // ------------------------------------------------------------------ writing

  /** A new writer; add tensors and metadata, then {@link Writer#write}. */
  public static Writer writer() {
    return new Writer();
  }

  /** Collects named tensors (in insertion order) and metadata, then writes one file. */
  public static final class Writer {
    private final Map<String, Entry> entries = new LinkedHashMap<>();
    private final Map<String, String> metadata = new LinkedHashMap<>();

    private record Entry(SafetensorsDType dtype, long[] shape, Tensor tensor, ByteBuffer bytes) {}

    private Writer() {}

    /** Adds a string to the {@code __metadata__} map. */
    public Writer metadata(String key, String value) {
      if (key == null || value == null) {
        throw new IllegalArgumentException("safetensors metadata keys and values must be non-null");
      }
      metadata.put(key, value);
      return this;
    }

    /**
     * Adds a contiguous native tensor; its memory is read when {@link #write} runs (keep it open).
     *
     * @throws IllegalArgumentException for a duplicate or reserved name, a strided tensor, or a type
     *     safetensors cannot hold
     */
    public Writer add(String name, Tensor tensor) {
      Objects.requireNonNull(tensor, "tensor");
      if (!tensor.isContiguous()) {
        throw new IllegalArgumentException("safetensors: tensor '" + name + "' " + tensor
            + " is strided; write a contiguous copy");
      }
      tensor.checkOpen();
      put(name, new Entry(SafetensorsDType.of(tensor.dtype()), tensor.shape(), tensor, null));
      return this;
    }

    /**
     * Adds a tensor given as raw little-endian bytes (all {@code remaining()} bytes of {@code data}).
     *
     * @throws IllegalArgumentException if the byte count does not match the type and shape
     */
    public Writer add(String name, SafetensorsDType dtype, long[] shape, ByteBuffer data) {
      Objects.requireNonNull(dtype, "dtype");
      Objects.requireNonNull(shape, "shape");
      Objects.requireNonNull(data, "data");
      String problem = dtype.checkShape(shape);
      if (problem != null) {
        throw new IllegalArgumentException("safetensors: tensor '" + name + "': " + problem);
      }
      long need = dtype.bytesFor(shape);
      if (data.remaining() != need) {
        throw new IllegalArgumentException("safetensors: tensor '" + name + "' " + dtype.headerName()
            + Arrays.toString(shape) + " needs " + need + " bytes, got " + data.remaining());
      }
      put(name, new Entry(dtype, shape.clone(), null, data.slice().order(ByteOrder.LITTLE_ENDIAN)));
      return this;
    }

    private void put(String name, Entry e) {
      if (name == null || name.isEmpty()) {
        throw new IllegalArgumentException("safetensors: tensor names must be non-empty");
      }
      if (name.equals(METADATA_KEY)) {
        throw new IllegalArgumentException("safetensors: '" + METADATA_KEY + "' is reserved for metadata, not a tensor name");
      }
      if (entries.containsKey(name)) {
        throw new IllegalArgumentException("safetensors: duplicate tensor name '" + name + "'");
      }
      entries.put(name, e);
    }

    /**
     * Writes the file atomically: to a temporary sibling that is forced to disk, then renamed over
     * {@code file}, so a crash leaves either the old file or the complete new one.
     */
    public void write(Path file) throws IOException {
      requireLittleEndian();
      Path dir = file.toAbsolutePath().getParent();
      Files.createDirectories(dir);
      byte[] header = header();
      Path temp = Files.createTempFile(dir, "." + file.getFileName() + ".", ".tmp");
      boolean moved = false;
      try {
        try (FileChannel ch = FileChannel.open(temp, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
          ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(0, header.length);
          writeFully(ch, len);
          writeFully(ch, ByteBuffer.wrap(header));
          for (Map.Entry<String, Entry> en : entries.entrySet()) {
            Entry e = en.getValue();
            if (e.tensor != null) {
              Tensor t = e.tensor;
              long bytes = t.dtype().bytesFor(t.size());
              long address = t.address();
              for (long off = 0; off < bytes; off += CHUNK) {
                int n = (int) Math.min(CHUNK, bytes - off);
                writeFully(ch, nativeBuffer(address + off, n));
              }
            } else {
              writeFully(ch, e.bytes.duplicate());
            }
          }
          ch.force(true);
        }
        AtomicFiles.moveAtomically(temp, file);
        moved = true;
        AtomicFiles.forceDirectory(dir);
      } finally {
        if (!moved) {
          Files.deleteIfExists(temp);
        }
      }
    }

    private byte[] header() throws IOException {
      ByteArrayOutputStream out = new ByteArrayOutputStream();
      try (JsonGenerator g = JSON.createGenerator(out, JsonEncoding.UTF8)) {
        g.writeStartObject();
        if (!metadata.isEmpty()) {
          g.writeObjectFieldStart(METADATA_KEY);
          for (Map.Entry<String, String> m : metadata.entrySet()) {
            g.writeStringField(m.getKey(), m.getValue());
          }
          g.writeEndObject();
        }
        long offset = 0;
        for (Map.Entry<String, Entry> en : entries.entrySet()) {
          Entry e = en.getValue();
          long bytes = e.dtype.bytesFor(e.shape);
          g.writeObjectFieldStart(en.getKey());
          g.writeStringField("dtype", e.dtype.headerName());
          g.writeArrayFieldStart("shape");
          for (long s : e.shape) {
            g.writeNumber(s);
          }
          g.writeEndArray();
          g.writeArrayFieldStart("data_offsets");
          g.writeNumber(offset);
          g.writeNumber(offset + bytes);
          g.writeEndArray();
          g.writeEndObject();
          offset += bytes;
        }
        g.writeEndObject();
      }
      byte[] json = out.toByteArray();
      int padded = (json.length + 7) / 8 * 8; // 8 + padded is then a multiple of 8
      byte[] header = Arrays.copyOf(json, padded);
      Arrays.fill(header, json.length, padded, (byte) ' ');
      return header;
    }
  }

  private static void writeFully(FileChannel ch, ByteBuffer b) throws IOException {
    while (b.hasRemaining()) {
      ch.write(b);
    }
  }

  /**
   * Writes every parameter of {@code params} under its name (values only), with {@code metadata}.
   * Atomic as {@link Writer#write}.
   */
  public static void saveParameters(Path file, ParameterSet params, Map<String, String> metadata) throws IOException {
    Writer w = writer();
    if (metadata != null) {
      metadata.forEach(w::metadata);
    }
    for (Parameter p : params.parameters()) {
      w.add(p.name(), p.value());
    }
    w.write(file);
  }

  /**
   * Reads every parameter of {@code params} from {@code file} by name.
   *
   * @throws IOException if the file is invalid, a parameter is missing or has another shape or type,
   *     or the file holds tensors the parameter set does not declare (messages name each tensor)
   */
  public static void loadParameters(Path file, ParameterSet params) throws IOException {
    try (Reader r = open(file)) {
      List<String> problems = new ArrayList<>();
      for (Parameter p : params.parameters()) {
        TensorInfo info = r.find(p.name());
        if (info == null) {
          problems.add("missing tensor '" + p.name() + "' (expected " + SafetensorsDType.of(params.dtype()).headerName()
              + Arrays.toString(p.shape()) + ")");
        } else if (info.dtype().tensorType() != params.dtype()) {
          problems.add("tensor '" + p.name() + "' is " + info.dtype().headerName() + " but the model's parameters are "
              + params.dtype());
        } else if (!Arrays.equals(info.shape(), p.shape())) {
          problems.add("tensor '" + p.name() + "' has shape " + Arrays.toString(info.shape()) + " but the model declares "
              + Arrays.toString(p.shape()));
        }
      }
      java.util.Set<String> declared = new java.util.HashSet<>();
      params.parameters().forEach(p -> declared.add(p.name()));
      List<String> unexpected = new ArrayList<>();
      for (TensorInfo t : r.tensors()) {
        if (!declared.contains(t.name())) {
          unexpected.add("'" + t.name() + "'");
        }
      }
      if (!unexpected.isEmpty()) {
        problems.add(unexpected.size() + " unexpected tensor(s) the model has no parameter for: "
            + String.join(", ", unexpected.subList(0, Math.min(unexpected.size(), 10)))
            + (unexpected.size() > 10 ? ", ..." : ""));
      }
      if (!problems.isEmpty()) {
        throw new IOException("safetensors file " + file + " does not match the model (" + params.parameters().size()
            + " parameters): " + String.join("; ", problems.subList(0, Math.min(problems.size(), 20)))
            + (problems.size() > 20 ? "; and " + (problems.size() - 20) + " more" : "")
            + ". Was it saved from a model with another architecture or configuration?");
      }
      for (Parameter p : params.parameters()) {
        r.readInto(p.name(), p.value());
      }
    }
  }

  // ------------------------------------------------------------------ reading

  /**
   * Opens and validates a safetensors file (see the class description for what is checked).
   *
   * @throws IOException if the file cannot be read or is not a valid safetensors file
   */
  public static Reader open(Path file) throws IOException {
    Objects.requireNonNull(file, "file");
    FileChannel ch = FileChannel.open(file, StandardOpenOption.READ);
    try {
      Reader r = new Reader(file, ch);
      return r;
    } catch (IOException | RuntimeException e) {
      ch.close();
      throw e;
    }
  }

  /** An open, validated safetensors file; close it to release the file handle. */
  public static final class Reader implements AutoCloseable {
    private final Path path;
    private final FileChannel channel;
    private final long dataStart;
    private final Map<String, String> metadata;
    private final Map<String, TensorInfo> tensors;

    private Reader(Path path, FileChannel channel) throws IOException {
      this.path = path;
      this.channel = channel;
      long fileSize = channel.size();
      if (fileSize < 8) {
        throw fail("is " + fileSize + " bytes long, shorter than the 8-byte header length; it is truncated or not safetensors");
      }
      ByteBuffer lenBuf = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
      readFully(channel, lenBuf, 0);
      long n = lenBuf.getLong(0);
      if (n < 2 || n > MAX_HEADER_BYTES) {
        throw fail("announces a header of " + Long.toUnsignedString(n) + " bytes, outside [2, " + MAX_HEADER_BYTES
            + "]; it is corrupt or not safetensors");
      }
      if (8 + n > fileSize) {
        throw fail("announces a header of " + n + " bytes but the file has only " + (fileSize - 8)
            + " bytes after the length field; it is truncated");
      }
      ByteBuffer hb = ByteBuffer.allocate((int) n);
      readFully(channel, hb, 8);
      byte[] header = hb.array();
      if (header[0] != '{') {
        throw fail("header does not start with '{' (a JSON object); it is corrupt or not safetensors");
      }
      this.dataStart = 8 + n;
      long dataSize = fileSize - dataStart;
      Map<String, String> meta = new LinkedHashMap<>();
      Map<String, TensorInfo> infos = new LinkedHashMap<>();
      parseHeader(header, meta, infos, dataSize);
      checkTiling(infos, dataSize);
      this.metadata = Collections.unmodifiableMap(meta);
      this.tensors = Collections.unmodifiableMap(infos);
    }

    /** The file. */
    public Path path() {
      return path;
    }

    /** The {@code __metadata__} map (empty if absent). */
    public Map<String, String> metadata() {
      return metadata;
    }

    /** Every tensor, in header order. */
    public List<TensorInfo> tensors() {
      return List.copyOf(tensors.values());
    }

    /** Whether a tensor of this name exists. */
    public boolean contains(String name) {
      return tensors.containsKey(name);
    }

    /**
     * The entry named {@code name}.
     *
     * @throws IllegalArgumentException if there is none (the message lists the names)
     */
    public TensorInfo info(String name) {
      TensorInfo t = tensors.get(name);
      if (t == null) {
        throw new IllegalArgumentException("safetensors file " + path + " has no tensor '" + name + "'; it has "
            + (tensors.size() <= 30 ? tensors.keySet() : tensors.size() + " others"));
      }
      return t;
    }

    TensorInfo find(String name) {
      return tensors.get(name);
    }

    /**
     * The tensor's bytes as a read-only little-endian buffer over a memory mapping of the file.
     *
     * @throws UnsupportedOperationException for tensors of 2 GiB or more (use {@link #readInto})
     */
    public ByteBuffer bytes(String name) throws IOException {
      TensorInfo t = info(name);
      if (t.byteLength() > Integer.MAX_VALUE - 8) {
        throw new UnsupportedOperationException("tensor '" + name + "' has " + t.byteLength()
            + " bytes, too many for one buffer; read it into a native tensor with readInto");
      }
      checkOpenChannel();
      MappedByteBuffer m = channel.map(FileChannel.MapMode.READ_ONLY, dataStart + t.begin(), t.byteLength());
      return m.asReadOnlyBuffer().order(ByteOrder.LITTLE_ENDIAN);
    }

    /**
     * Copies the tensor into {@code dest}, a contiguous native tensor of the same type and shape.
     *
     * @throws IllegalArgumentException if the type or shape differs, or {@code dest} is strided
     */
    public void readInto(String name, Tensor dest) throws IOException {
      TensorInfo t = info(name);
      Objects.requireNonNull(dest, "dest");
      if (t.dtype().tensorType() != dest.dtype()) {
        throw new IllegalArgumentException("safetensors tensor '" + name + "' in " + path + " is " + t.dtype().headerName()
            + " but the destination is " + dest.describe());
      }
      if (!Arrays.equals(t.shape(), dest.shape())) {
        throw new IllegalArgumentException("safetensors tensor '" + name + "' in " + path + " has shape "
            + Arrays.toString(t.shape()) + " but the destination is " + dest.describe());
      }
      if (!dest.isContiguous()) {
        throw new IllegalArgumentException("destination of tensor '" + name + "' is strided: " + dest);
      }
      requireLittleEndian();
      checkOpenChannel();
      long address = dest.address();
      for (long off = 0; off < t.byteLength(); off += CHUNK) {
        int n = (int) Math.min(CHUNK, t.byteLength() - off);
        MappedByteBuffer src = channel.map(FileChannel.MapMode.READ_ONLY, dataStart + t.begin() + off, n);
        nativeBuffer(address + off, n).put(src);
      }
    }

    /**
     * A new native tensor holding the named tensor; the caller owns it.
     *
     * @throws IllegalArgumentException if its type has no native counterpart (I64, U8, ...; use {@link #bytes})
     */
    public Tensor toTensor(String name) throws IOException {
      TensorInfo t = info(name);
      if (t.dtype().tensorType() == null) {
        throw new IllegalArgumentException("safetensors tensor '" + name + "' is " + t.dtype().headerName()
            + ", which native tensors cannot hold; read its raw bytes with bytes(name)");
      }
      Tensor out = Tensor.allocate(t.dtype().tensorType(), t.shape());
      try {
        readInto(name, out);
        return out;
      } catch (IOException | RuntimeException e) {
        out.close();
        throw e;
      }
    }

    @Override
    public void close() throws IOException {
      channel.close();
    }

    private void checkOpenChannel() {
      if (!channel.isOpen()) {
        throw new IllegalStateException("safetensors reader for " + path + " is closed");
      }
    }

    private IOException fail(String problem) {
      return new IOException("safetensors file " + path + " " + problem);
    }

    private void parseHeader(byte[] header, Map<String, String> meta, Map<String, TensorInfo> infos, long dataSize)
        throws IOException {
      try (JsonParser p = JSON.createParser(header)) {
        if (p.nextToken() != JsonToken.START_OBJECT) {
          throw fail("header is not a JSON object");
        }
        boolean seenMeta = false;
        for (JsonToken tok = p.nextToken(); tok != JsonToken.END_OBJECT; tok = p.nextToken()) {
          if (tok != JsonToken.FIELD_NAME) {
            throw fail("header is malformed (expected a tensor name, found " + tok + ")");
          }
          String name = p.currentName();
          if (name.equals(METADATA_KEY)) {
            if (seenMeta) {
              throw fail("header has two '" + METADATA_KEY + "' entries");
            }
            seenMeta = true;
            parseMetadata(p, meta);
            continue;
          }
          if (name.isEmpty()) {
            throw fail("header has a tensor with an empty name");
          }
          if (infos.containsKey(name)) {
            throw fail("header has a duplicate tensor name '" + name + "'");
          }
          infos.put(name, parseTensor(p, name, dataSize));
        }
        // Only padding may follow the object.
        if (p.nextToken() != null) {
          throw fail("header has data after the JSON object (only space padding is allowed)");
        }
      } catch (JsonProcessingException e) {
        throw fail("header is not valid JSON: " + e.getOriginalMessage());
      }
    }

    private void parseMetadata(JsonParser p, Map<String, String> meta) throws IOException {
      if (p.nextToken() != JsonToken.START_OBJECT) {
        throw fail("'" + METADATA_KEY + "' must be an object of strings");
      }
      for (JsonToken tok = p.nextToken(); tok != JsonToken.END_OBJECT; tok = p.nextToken()) {
        if (tok != JsonToken.FIELD_NAME) {
          throw fail("'" + METADATA_KEY + "' is malformed");
        }
        String key = p.currentName();
        if (p.nextToken() != JsonToken.VALUE_STRING) {
          throw fail("metadata value '" + key + "' is not a string (" + p.currentToken() + ")");
        }
        if (meta.put(key, p.getText()) != null) {
          throw fail("metadata has a duplicate key '" + key + "'");
        }
      }
    }

    private TensorInfo parseTensor(JsonParser p, String name, long dataSize) throws IOException {
      String what = "tensor '" + name + "'";
      if (p.nextToken() != JsonToken.START_OBJECT) {
        throw fail(what + ": entry is not an object");
      }
      SafetensorsDType dtype = null;
      long[] shape = null;
      long[] offsets = null;
      for (JsonToken tok = p.nextToken(); tok != JsonToken.END_OBJECT; tok = p.nextToken()) {
        if (tok != JsonToken.FIELD_NAME) {
          throw fail(what + ": entry is malformed");
        }
        String key = p.currentName();
        switch (key) {
          case "dtype" -> {
            if (dtype != null) {
              throw fail(what + ": 'dtype' given twice");
            }
            if (p.nextToken() != JsonToken.VALUE_STRING) {
              throw fail(what + ": 'dtype' is not a string");
            }
            dtype = SafetensorsDType.fromHeaderName(p.getText());
            if (dtype == null) {
              throw fail(what + ": unknown dtype '" + p.getText() + "' (known: " + SafetensorsDType.knownNames() + ")");
            }
          }
          case "shape" -> {
            if (shape != null) {
              throw fail(what + ": 'shape' given twice");
            }
            shape = longArray(p, what, "shape", -1);
          }
          case "data_offsets" -> {
            if (offsets != null) {
              throw fail(what + ": 'data_offsets' given twice");
            }
            offsets = longArray(p, what, "data_offsets", 2);
          }
          default -> throw fail(what + ": unknown field '" + key + "' (expected dtype, shape, data_offsets)");
        }
      }
      if (dtype == null || shape == null || offsets == null) {
        throw fail(what + ": missing " + (dtype == null ? "'dtype'" : shape == null ? "'shape'" : "'data_offsets'"));
      }
      String shapeProblem = dtype.checkShape(shape);
      if (shapeProblem != null) {
        throw fail(what + ": " + shapeProblem);
      }
      long begin = offsets[0];
      long end = offsets[1];
      if (begin > end) {
        throw fail(what + ": data_offsets [" + begin + ", " + end + "] end before they begin");
      }
      if (end > dataSize) {
        throw fail(what + ": data_offsets [" + begin + ", " + end + "] reach past the data region of " + dataSize
            + " bytes; the file is truncated or the header is corrupt");
      }
      long need;
      try {
        need = dtype.bytesFor(shape);
      } catch (ArithmeticException e) {
        throw fail(what + ": shape " + Arrays.toString(shape) + " overflows");
      }
      if (need != end - begin) {
        throw fail(what + ": " + dtype.headerName() + Arrays.toString(shape) + " needs " + need + " bytes but data_offsets ["
            + begin + ", " + end + "] span " + (end - begin));
      }
      return new TensorInfo(name, dtype, shape, begin, end);
    }

    private long[] longArray(JsonParser p, String what, String field, int length) throws IOException {
      if (p.nextToken() != JsonToken.START_ARRAY) {
        throw fail(what + ": '" + field + "' is not an array");
      }
      List<Long> values = new ArrayList<>();
      for (JsonToken tok = p.nextToken(); tok != JsonToken.END_ARRAY; tok = p.nextToken()) {
        if (tok != JsonToken.VALUE_NUMBER_INT) {
          throw fail(what + ": '" + field + "' holds a non-integer (" + p.getText() + ")");
        }
        if (p.getNumberType() == JsonParser.NumberType.BIG_INTEGER || p.getLongValue() < 0) {
          throw fail(what + ": '" + field + "' holds " + p.getText() + ", outside [0, 2^63)");
        }
        values.add(p.getLongValue());
      }
      if (length >= 0 && values.size() != length) {
        throw fail(what + ": '" + field + "' has " + values.size() + " entries, expected " + length);
      }
      long[] out = new long[values.size()];
      for (int i = 0; i < out.length; i++) {
        out[i] = values.get(i);
      }
      return out;
    }

    private void checkTiling(Map<String, TensorInfo> infos, long dataSize) throws IOException {
      List<TensorInfo> sorted = new ArrayList<>(infos.values());
      sorted.sort(Comparator.comparingLong(TensorInfo::begin).thenComparingLong(TensorInfo::end));
      long cursor = 0;
      String previous = null;
      for (TensorInfo t : sorted) {
        if (t.begin() < cursor) {
          throw fail("tensor '" + t.name() + "' [" + t.begin() + ", " + t.end() + ") overlaps tensor '" + previous
              + "' which ends at " + cursor);
        }
        if (t.begin() > cursor) {
          throw fail("tensor '" + t.name() + "' starts at " + t.begin() + " but the previous data ends at " + cursor
              + (previous == null ? "" : " (tensor '" + previous + "')") + ": " + (t.begin() - cursor)
              + " bytes belong to no tensor");
        }
        cursor = t.end();
        previous = t.name();
      }
      if (cursor != dataSize) {
        throw fail("has " + (dataSize - cursor) + " bytes after the last tensor's data (the data region is " + dataSize
            + " bytes, the tensors cover " + cursor + ")");
      }
    }
  }

  private static void readFully(FileChannel ch, ByteBuffer b, long position) throws IOException {
    long pos = position;
    while (b.hasRemaining()) {
      int n = ch.read(b, pos);
      if (n < 0) {
        throw new IOException("unexpected end of file at byte " + pos);
      }
      pos += n;
    }
  }

  /** A direct buffer over exactly {@code bytes} bytes of native memory owned elsewhere. */
  private static ByteBuffer nativeBuffer(long address, int bytes) {
    ByteBuffer b = new BytePointer(new RawPointer(address, bytes)).asByteBuffer();
    if (b.capacity() != bytes) {
      throw new IllegalStateException("native buffer of " + bytes + " bytes came back with capacity " + b.capacity());
    }
    return b.order(ByteOrder.LITTLE_ENDIAN);
  }

  private static void requireLittleEndian() {
    if (ByteOrder.nativeOrder() != ByteOrder.LITTLE_ENDIAN) {
      throw new UnsupportedOperationException("safetensors I/O of native tensors needs a little-endian platform");
    }
  }

  /** UTF-8 bytes of a header string (tests build corrupt files with this). */
  static byte[] utf8(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }
}
