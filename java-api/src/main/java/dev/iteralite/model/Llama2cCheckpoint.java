package dev.iteralite.model;

import dev.iteralite.nn.ParameterSet;
import dev.iteralite.tensor.DType;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * Reader of llama2.c's legacy float32 checkpoint format ({@code run.c}'s {@code Config} header of
 * seven int32 followed by the weights), producing a {@link TransformerConfig} and the weights in one
 * {@link ParameterSet} laid out as {@link Transformer#declare(TransformerConfig)} declares it.
 *
 * <p>Weight order in the file: token_embedding, rms_att, wq, wk, wv, wo, rms_ffn, w1, w2, w3,
 * rms_final, freq_cis_real and freq_cis_imag (skipped: {@code seqLen * headSize / 2} floats each),
 * then wcls when the vocabulary size in the header is negative (untied classifier).
 */
public final class Llama2cCheckpoint implements AutoCloseable {
  /** Bytes of the header (7 int32). */
  public static final int HEADER_BYTES = 28;

  private final TransformerConfig config;
  private final ParameterSet weights;

  private Llama2cCheckpoint(TransformerConfig config, ParameterSet weights) {
    this.config = config;
    this.weights = weights;
  }

  /** The model configuration read from the header. */
  public TransformerConfig config() {
    return config;
  }

  /** The weights (owned by this checkpoint; closed by {@link #close()}). */
  public ParameterSet weights() {
    return weights;
  }

  /** Frees the weights. */
  @Override
  public void close() {
    weights.close();
  }

  /**
   * Parses the header of a checkpoint.
   *
   * @throws IllegalArgumentException if the header is invalid
   */
  public static TransformerConfig parseHeader(ByteBuffer header, String source) {
    if (header.remaining() < HEADER_BYTES) {
      throw new IllegalArgumentException("llama2.c checkpoint " + source + ": file has " + header.remaining()
          + " bytes, shorter than the " + HEADER_BYTES + "-byte header");
    }
    ByteBuffer b = header.duplicate().order(ByteOrder.LITTLE_ENDIAN);
    int dim = b.getInt();
    int hidden = b.getInt();
    int layers = b.getInt();
    int heads = b.getInt();
    int kvHeads = b.getInt();
    int vocab = b.getInt();
    int seq = b.getInt();
    boolean shared = vocab > 0;
    try {
      if (vocab == Integer.MIN_VALUE) {
        throw new IllegalArgumentException("vocab_size " + vocab + " is invalid");
      }
      return new TransformerConfig(dim, hidden, layers, heads, kvHeads, Math.abs(vocab), seq, shared);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("llama2.c checkpoint " + source + ": bad header (dim=" + dim + ", hidden_dim="
          + hidden + ", n_layers=" + layers + ", n_heads=" + heads + ", n_kv_heads=" + kvHeads + ", vocab_size=" + vocab
          + ", seq_len=" + seq + "): " + e.getMessage(), e);
    }
  }

  /** Exact file size in bytes of a checkpoint with this configuration. */
  public static long expectedBytes(TransformerConfig c) {
    long floats = c.parameterCount() + 2L * c.seqLen() * (c.headSize() / 2);
    return HEADER_BYTES + 4 * floats;
  }

  /**
   * Loads a checkpoint.
   *
   * @throws IOException if the file cannot be read
   * @throws IllegalArgumentException if the header is invalid or the file size does not match it
   */
  public static Llama2cCheckpoint load(Path file) throws IOException {
    if (file == null) {
      throw new IllegalArgumentException("llama2.c checkpoint: path must not be null");
    }
    if (!Files.isRegularFile(file)) {
      throw new IOException("llama2.c checkpoint " + file + " does not exist or is not a regular file");
    }
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
      long size = ch.size();
      ByteBuffer head = ByteBuffer.allocate((int) Math.min(size, HEADER_BYTES));
      while (head.hasRemaining() && ch.read(head) >= 0) {
        // read fully
      }
      head.flip();
      TransformerConfig c = parseHeader(head, file.toString());
      long expected = expectedBytes(c);
      if (size != expected) {
        throw new IllegalArgumentException("llama2.c checkpoint " + file + ": expected " + expected + " bytes for " + c
            + " but the file has " + size + " bytes" + (size < expected ? " (truncated?)" : " (trailing data?)"));
      }
      if (expected > Integer.MAX_VALUE) {
        throw new IllegalArgumentException("llama2.c checkpoint " + file + ": files over 2 GiB are not supported (" + expected + " bytes)");
      }
      ByteBuffer all = ch.map(FileChannel.MapMode.READ_ONLY, 0, size).order(ByteOrder.LITTLE_ENDIAN);
      all.position(HEADER_BYTES);
      FloatBuffer f = all.slice().order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer();
      ParameterSet params = Transformer.declare(c).build(DType.F32, 0);
      try {
        read(f, params, c);
      } catch (RuntimeException e) {
        params.close();
        throw e;
      }
      return new Llama2cCheckpoint(c, params);
    }
  }

  private static void read(FloatBuffer f, ParameterSet p, TransformerConfig c) {
    fill(f, p, "tok_embeddings");
    String[] order = {"attn_norm", "attn.wq", "attn.wk", "attn.wv", "attn.wo", "ffn_norm", "ffn.w1", "ffn.w2", "ffn.w3"};
    for (String name : order) {
      for (int l = 0; l < c.nLayers(); l++) {
        fill(f, p, "layers." + l + "." + name);
      }
    }
    fill(f, p, "norm");
    f.position(f.position() + 2 * c.seqLen() * (c.headSize() / 2));
    if (!c.sharedClassifier()) {
      fill(f, p, "output");
    }
    if (f.hasRemaining()) {
      throw new IllegalStateException("llama2.c checkpoint: " + f.remaining() + " floats left over after the weights");
    }
  }

  private static void fill(FloatBuffer f, ParameterSet p, String name) {
    var param = p.get(name);
    float[] data = new float[Math.toIntExact(param.size())];
    f.get(data);
    param.value().copyFrom(data);
  }
}
