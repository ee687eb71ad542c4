package dev.iteralite.model;

import dev.iteralite.backend.Backend;
import dev.iteralite.backend.CpuBackend;
import dev.iteralite.nativelib.IteraNative;
import dev.iteralite.quant.QuantizedMatrix;
import dev.iteralite.tensor.Arena;
import dev.iteralite.tensor.DType;
import dev.iteralite.tensor.Tensor;

/**
 * Single-sequence decoding of a {@link TransformerModel} over a {@link QuantizedModel}, or over
 * the model's own F32 weights when there is none (the F32 model's session, so both prefill the same
 * way): every compressed matrix runs through the quantised kernels, every matrix the plan kept in
 * F32 through the F32 ones, and the norms stay F32.
 *
 * <p>A step is allocation-free: it reuses a {@link KvCache}'s buffers and {@link
 * Transformer#attend}, so the attention is exactly the F32 decoder's; a compressed embedding row
 * is dequantised per token. A prefill runs the whole prompt at once: each matrix is one GEMM over
 * the T prompt rows ({@link QuantizedMatrix#gemm}, or the backend's F32 GEMM), RoPE and causal
 * attention are the backend's training ops, the keys and values land directly in the cache, and
 * only the last position gets logits. Prefill and stepping sum in different orders, so their logits
 * agree to float rounding (with the integer formats, which quantise activations on the fly, an
 * ulp can occasionally move a value to the neighbouring int8 level: measured up to 5e-5
 * normalised). Not thread-safe; the weights must not change while it is open.
 */
final class QuantizedTransformerDecoder implements DecodeSession {
  private final TransformerModel model;
  private final Transformer inference;
  private final TransformerConfig config;
  private final Backend backend;
  private final KvCache cache;
  private final Arena arena = Arena.open();

  private final Tensor embedding; // F32 [V, D]
  private final QuantizedMatrix compressedEmbedding; // null when the embedding stays F32
  private final Matrix classifier;
  private final Tensor finalNorm;
  private final Tensor[] attnNorm;
  private final Tensor[] ffnNorm;
  private final Matrix[] wq;
  private final Matrix[] wk;
  private final Matrix[] wv;
  private final Matrix[] wo;
  private final Matrix[] w1;
  private final Matrix[] w3;
  private final Matrix[] w2;

  // Step scratch besides the cache's own buffers.
  private final Tensor k; // [kvDim]
  private final Tensor v; // [kvDim]
  private final Tensor out; // [D] output of wo / w2 before the residual add
  private final Tensor h1; // [H] view of the cache's hb
  private final Tensor h3; // [H] view of the cache's hb
  private int position;
  private boolean closed;

  QuantizedTransformerDecoder(TransformerModel model, Transformer inference, QuantizedModel compressed) {
    if (!(model.backend() instanceof CpuBackend)) {
      throw new IllegalArgumentException("QuantizedTransformerDecoder: needs the native cpu backend, got "
          + model.backend().name());
    }
    this.model = model;
    this.inference = inference;
    this.config = model.config();
    this.backend = model.backend();
    int n = config.nLayers();
    long d = config.dim();
    long hidden = config.hiddenDim();
    this.cache = inference.newCache();
    try {
      embedding = f32("tok_embeddings");
      compressedEmbedding = compressed == null ? null : compressed.matrix("tok_embeddings");
      classifier = matrix(compressed, config.sharedClassifier() ? "tok_embeddings" : "output");
      finalNorm = f32("norm");
      attnNorm = new Tensor[n];
      ffnNorm = new Tensor[n];
      wq = new Matrix[n];
      wk = new Matrix[n];
      wv = new Matrix[n];
      wo = new Matrix[n];
      w1 = new Matrix[n];
      w3 = new Matrix[n];
      w2 = new Matrix[n];
      for (int l = 0; l < n; l++) {
        String p = "layers." + l + ".";
        attnNorm[l] = f32(p + "attn_norm");
        ffnNorm[l] = f32(p + "ffn_norm");
        wq[l] = matrix(compressed, p + "attn.wq");
        wk[l] = matrix(compressed, p + "attn.wk");
        wv[l] = matrix(compressed, p + "attn.wv");
        wo[l] = matrix(compressed, p + "attn.wo");
        w1[l] = matrix(compressed, p + "ffn.w1");
        w3[l] = matrix(compressed, p + "ffn.w3");
        w2[l] = matrix(compressed, p + "ffn.w2");
      }
      k = arena.allocate(DType.F32, config.kvDim());
      v = arena.allocate(DType.F32, config.kvDim());
      out = arena.allocate(DType.F32, d);
      h1 = cache.hbTensor.slice(0, 0, hidden);
      h3 = cache.hbTensor.slice(0, hidden, 2 * hidden);
    } catch (RuntimeException e) {
      close();
      throw e;
    }
  }

  private Tensor f32(String name) {
    Tensor t = model.parameters().get(name).value();
    if (!t.isContiguous()) {
      throw new IllegalArgumentException("QuantizedTransformerDecoder: parameter '" + name + "' must be contiguous");
    }
    return t;
  }

  private Matrix matrix(QuantizedModel compressed, String name) {
    return new Matrix(compressed == null ? null : compressed.matrix(name), f32(name));
  }

  /** One weight matrix [rows, cols]: its compressed copy when there is one, otherwise the F32 parameter. */
  private final class Matrix {
    final QuantizedMatrix q; // null: F32
    final Tensor w;
    final long rows;
    final long cols;

    Matrix(QuantizedMatrix q, Tensor w) {
      this.q = q;
      this.w = w;
      this.rows = w.dim(0);
      this.cols = w.dim(1);
    }

    /** y = W x (one token). */
    void gemv(Tensor x, Tensor y) {
      if (q != null) {
        q.gemv(x, y);
      } else {
        IteraNative.itera_sgemv(1, rows, cols, 1f, w.address(), cols, x.address(), 0f, y.address());
      }
    }

    /** acc += W x, through {@code out} when compressed (the quantised kernels write, never accumulate). */
    void gemvAdd(Tensor x, long acc) {
      if (q != null) {
        q.gemv(x, out);
        IteraNative.itera_add(rows, acc, out.address(), acc);
      } else {
        IteraNative.itera_sgemv(1, rows, cols, 1f, w.address(), cols, x.address(), 1f, acc);
      }
    }

    /** Y = X W^T (the prompt's rows at once). */
    void gemm(Tensor x, Tensor y) {
      if (q != null) {
        q.gemm(x, y);
      } else {
        backend.gemm(false, true, 1f, x, w, 0f, y);
      }
    }
  }

  /** Writes the embedding of {@code token} into the F32 row at {@code dst}. */
  private void embed(int token, long dst) {
    long d = config.dim();
    if (compressedEmbedding == null) {
      IteraNative.itera_copy_bytes(4L * d, embedding.address() + 4L * token * d, dst);
      return;
    }
    compressedEmbedding.dequantizeRow(token, dst);
  }

  @Override
  public float[] prefill(int[] prompt) {
    checkOpen();
    model.checkPrompt(prompt);
    final int t = prompt.length;
    final long d = config.dim();
    final long kvDim = config.kvDim();
    final long hidden = config.hiddenDim();
    final int hs = config.headSize();
    final float scale = (float) (1.0 / Math.sqrt(hs));
    position = 0;
    try (Arena a = Arena.open()) {
      Tensor x = a.allocate(DType.F32, t, d);
      for (int i = 0; i < t; i++) {
        embed(prompt[i], x.address() + 4L * i * d);
      }
      Tensor xn = a.allocate(DType.F32, t, d);
      Tensor rstd = a.allocate(DType.F32, t);
      Tensor q = a.allocate(DType.F32, t, d);
      Tensor att = a.allocate(DType.F32, t, d);
      Tensor lse = a.allocate(DType.F32, (long) config.nHeads() * t);
      Tensor y = a.allocate(DType.F32, t, d);
      Tensor g1 = a.allocate(DType.F32, t, hidden);
      Tensor g3 = a.allocate(DType.F32, t, hidden);
      Tensor act = a.allocate(DType.F32, t, hidden);
      for (int l = 0; l < config.nLayers(); l++) {
        // The prompt's keys and values go straight into cache rows 0..t-1 of this layer.
        Tensor rows = cache.kvTensor.select(0, l).slice(0, 0, t);
        Tensor keys = rows.slice(1, 0, kvDim);
        Tensor values = rows.slice(1, kvDim, 2 * kvDim);
        backend.rmsNormForward(x, attnNorm[l], Transformer.EPS, xn, rstd);
        wq[l].gemm(xn, q);
        wk[l].gemm(xn, keys);
        wv[l].gemm(xn, values);
        backend.ropeForward(1, hs, q, q);
        backend.ropeForward(1, hs, keys, keys);
        backend.causalAttentionForward(1, config.nHeads(), config.nKvHeads(), scale, q, keys, values, att, lse);
        wo[l].gemm(att, y);
        backend.add(x, y, x);
        backend.rmsNormForward(x, ffnNorm[l], Transformer.EPS, xn, rstd);
        w1[l].gemm(xn, g1);
        w3[l].gemm(xn, g3);
        backend.swigluForward(g1, g3, act);
        w2[l].gemm(act, y);
        backend.add(x, y, x);
      }
      // Only the last position's logits are asked for.
      IteraNative.itera_copy_bytes(4L * d, x.address() + 4L * (t - 1) * d, cache.x);
    }
    position = t;
    return logits();
  }

  @Override
  public float[] step(int token) {
    checkOpen();
    model.checkToken(token);
    model.checkRoom(position);
    final int pos = position;
    final long d = config.dim();
    final long kvBytes = 4L * config.kvDim();
    final long x = cache.x;
    final long xb = cache.xb;
    final Tensor xbT = cache.xbTensor;
    embed(token, x);
    for (int l = 0; l < config.nLayers(); l++) {
      IteraNative.itera_rmsnorm_forward(1, d, x, d, attnNorm[l].address(), Transformer.EPS, xb, d, cache.rstd);
      wq[l].gemv(xbT, cache.qTensor);
      wk[l].gemv(xbT, k);
      wv[l].gemv(xbT, v);
      long row = inference.kvRow(cache, l, pos);
      IteraNative.itera_copy_bytes(kvBytes, k.address(), row);
      IteraNative.itera_copy_bytes(kvBytes, v.address(), row + kvBytes);
      inference.attend(l, pos, cache); // writes xb
      wo[l].gemvAdd(xbT, x);
      IteraNative.itera_rmsnorm_forward(1, d, x, d, ffnNorm[l].address(), Transformer.EPS, xb, d, cache.rstd);
      w1[l].gemv(xbT, h1);
      w3[l].gemv(xbT, h3);
      IteraNative.itera_swiglu_forward(config.hiddenDim(), h1.address(), h3.address(), h1.address());
      w2[l].gemvAdd(h1, x);
    }
    position++;
    return logits();
  }

  /** Final norm of the residual row {@code cache.x} and the classifier into the logits array. */
  private float[] logits() {
    long d = config.dim();
    IteraNative.itera_rmsnorm_forward(1, d, cache.x, d, finalNorm.address(), Transformer.EPS, cache.xb, d, cache.rstd);
    classifier.gemv(cache.xbTensor, cache.logitsTensor);
    cache.logitsBuf.get(0, cache.logitsArray);
    return cache.logitsArray;
  }

  @Override
  public int position() {
    return position;
  }

  @Override
  public int vocabSize() {
    return config.vocabSize();
  }

  private void checkOpen() {
    if (closed) {
      throw new IllegalStateException("TransformerModel: the decoding session is closed");
    }
  }

  @Override
  public void close() {
    if (!closed) {
      closed = true;
      cache.close();
      arena.close();
    }
  }
}
