package dev.iteralite.model;

import dev.iteralite.nativelib.RawPointer;
import dev.iteralite.tensor.Arena;
import dev.iteralite.tensor.DType;
import dev.iteralite.tensor.Tensor;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;

/**
 * The decoding state of one {@link Transformer} sequence: the KV cache {@code [layers, seqLen, 2 *
 * kvDim]} (keys then values of each position) and every scratch buffer one token needs, all
 * allocated once in native memory; free it with {@link #close()}.
 */
public final class KvCache implements AutoCloseable {
  private final TransformerConfig config;
  private final Arena arena;
  final long x;
  final long xb;
  final long q;
  final long att;
  final long hb;
  final long kv;
  final long logits;
  final long rstd;
  final FloatBuffer qBuf;
  final FloatBuffer kvBuf;
  final FloatBuffer logitsBuf;
  final float[] logitsArray;
  // Tensor views of the same buffers, for callers that need shapes (QuantizedMatrix, Backend ops).
  final Tensor xbTensor;
  final Tensor qTensor;
  final Tensor hbTensor;
  final Tensor logitsTensor;
  final Tensor kvTensor;
  private boolean closed;

  KvCache(TransformerConfig c) {
    this.config = c;
    this.arena = Arena.open();
    try {
      x = arena.allocate(DType.F32, c.dim()).address();
      xbTensor = arena.allocate(DType.F32, c.dim());
      xb = xbTensor.address();
      qTensor = arena.allocate(DType.F32, c.dim());
      q = qTensor.address();
      att = arena.allocate(DType.F32, (long) c.nHeads() * c.seqLen()).address();
      hbTensor = arena.allocate(DType.F32, 2L * c.hiddenDim());
      hb = hbTensor.address();
      kvTensor = arena.allocate(DType.F32, c.nLayers(), c.seqLen(), 2L * c.kvDim());
      kv = kvTensor.address();
      logitsTensor = arena.allocate(DType.F32, c.vocabSize());
      logits = logitsTensor.address();
      rstd = arena.allocate(DType.F32, 1).address();
      qBuf = buffer(q, c.dim());
      if (kvTensor.size() > Integer.MAX_VALUE / 4) {
        throw new IllegalArgumentException("transformer: KV cache of " + kvTensor.size() + " floats is over 2 GiB");
      }
      kvBuf = buffer(kv, kvTensor.size());
      logitsBuf = buffer(logits, c.vocabSize());
      logitsArray = new float[c.vocabSize()];
    } catch (RuntimeException e) {
      arena.close();
      throw e;
    }
  }

  private static FloatBuffer buffer(long address, long floats) {
    return new RawPointer(address, 4 * floats).asByteBuffer().order(ByteOrder.nativeOrder()).asFloatBuffer();
  }

  /** The configuration this cache was made for. */
  public TransformerConfig config() {
    return config;
  }

  /** Bytes held by the KV cache proper. */
  public long cacheBytes() {
    return 4 * kvTensor.size();
  }

  /** Whether {@link #close()} was called. */
  public boolean isClosed() {
    return closed;
  }

  void checkUsable(TransformerConfig c) {
    if (closed) {
      throw new IllegalStateException("transformer: the KV cache is closed");
    }
    if (!config.equals(c)) {
      throw new IllegalArgumentException("transformer: the KV cache was made for " + config + ", not " + c);
    }
  }

  /** Frees the native memory; idempotent. */
  @Override
  public void close() {
    if (!closed) {
      closed = true;
      arena.close();
    }
  }
}
