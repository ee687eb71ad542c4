package dev.iteralite.model;

import dev.iteralite.backend.CpuBackend;
import dev.iteralite.nativelib.IteraNative;
import dev.iteralite.nn.Init;
import dev.iteralite.nn.Parameter;
import dev.iteralite.nn.ParameterSet;
import dev.iteralite.tensor.DType;
import dev.iteralite.tensor.Tensor;
import java.nio.FloatBuffer;

/**
 * Llama-style decoder Transformer inference, one token at a time with a {@link KvCache} — the
 * forward pass of llama2.c's {@code run.c}: RMSNorm (eps 1e-5), RoPE on pairs {@code (i, i+1)} of
 * each head with frequency {@code 1/10000^(i_head/headSize)}, grouped-query causal attention over
 * the cache, SwiGLU FFN, residuals, final RMSNorm and a tied or untied classifier.
 *
 * <p>The weights are the F32 views of one {@link ParameterSet} declared by {@link
 * #declare(TransformerConfig)} (not owned: the caller closes it). The forward pass calls the native
 * CPU kernels directly on precomputed addresses (about 9 calls per layer, none allocating);
 * RoPE is applied in Java on direct buffers. Not thread-safe per cache; one model may serve several
 * caches from one thread at a time.
 */
public final class Transformer {
  /** RMSNorm epsilon used by llama2.c. */
  public static final float EPS = 1e-5f;

  private final TransformerConfig config;
  private final ParameterSet weights;
  private final long embedding;
  private final long classifier;
  private final long finalNorm;
  private final long[] attnNorm;
  private final long[] wq;
  private final long[] wkv;
  private final long[] wo;
  private final long[] ffnNorm;
  private final long[] w13;
  private final long[] w2;
  private final boolean kvFused;
  private final boolean w13Fused;
  private final long[] wv;
  private final long[] w3;
  final float[] ropeCos;
  final float[] ropeSin;

  /**
   * Declares the weights of a model with this configuration, in the layout the forward pass expects:
   * {@code tok_embeddings [V, D]}, per layer {@code layers.L.attn_norm [D]}, {@code
   * layers.L.attn.wq [D, D]}, {@code .wk [KV, D]}, {@code .wv [KV, D]}, {@code .wo [D, D]}, {@code
   * layers.L.ffn_norm [D]}, {@code layers.L.ffn.w1 [H, D]}, {@code .w3 [H, D]}, {@code .w2 [D, H]},
   * then {@code norm [D]} and, when the classifier is untied, {@code output [V, D]}. Norm weights
   * start at one, the rest at N(0, 0.02²).
   */
  public static ParameterSet.Builder declare(TransformerConfig c) {
    if (c == null) {
      throw new IllegalArgumentException("transformer: config must not be null");
    }
    return declare(c, Init.normal(0.02));
  }

  /**
   * The layout of {@link #declare(TransformerConfig)} with {@code residualOut} initialising the two
   * projections that write into the residual stream ({@code attn.wo}, {@code ffn.w2}).
   */
  static ParameterSet.Builder declare(TransformerConfig c, Init residualOut) {
    ParameterSet.Builder b = ParameterSet.builder();
    Init w = Init.normal(0.02);
    long d = c.dim();
    b.add("tok_embeddings", w, true, c.vocabSize(), d);
    for (int l = 0; l < c.nLayers(); l++) {
      String p = "layers." + l + ".";
      b.add(p + "attn_norm", Init.constant(1.0), false, d);
      b.add(p + "attn.wq", w, true, d, d);
      b.add(p + "attn.wk", w, true, c.kvDim(), d);
      b.add(p + "attn.wv", w, true, c.kvDim(), d);
      b.add(p + "attn.wo", residualOut, true, d, d);
      b.add(p + "ffn_norm", Init.constant(1.0), false, d);
      b.add(p + "ffn.w1", w, true, c.hiddenDim(), d);
      b.add(p + "ffn.w3", w, true, c.hiddenDim(), d);
      b.add(p + "ffn.w2", residualOut, true, d, c.hiddenDim());
    }
    b.add("norm", Init.constant(1.0), false, d);
    if (!c.sharedClassifier()) {
      b.add("output", w, true, c.vocabSize(), d);
    }
    return b;
  }

  /**
   * A model over {@code weights} (declared by {@link #declare}); {@code backend} proves the native
   * library is loaded and sets the thread count.
   *
   * @throws IllegalArgumentException if the weights are not F32 or do not match the configuration
   */
  public Transformer(CpuBackend backend, TransformerConfig config, ParameterSet weights) {
    if (backend == null || config == null || weights == null) {
      throw new IllegalArgumentException("transformer: backend, config and weights must not be null");
    }
    if (weights.dtype() != DType.F32) {
      throw new IllegalArgumentException("transformer: inference needs F32 weights, got " + weights.dtype());
    }
    this.config = config;
    this.weights = weights;
    int nl = config.nLayers();
    long d = config.dim();
    embedding = addr(weights, "tok_embeddings", config.vocabSize(), d);
    finalNorm = addr(weights, "norm", d);
    classifier = config.sharedClassifier() ? embedding : addr(weights, "output", config.vocabSize(), d);
    attnNorm = new long[nl];
    wq = new long[nl];
    wkv = new long[nl];
    wv = new long[nl];
    wo = new long[nl];
    ffnNorm = new long[nl];
    w13 = new long[nl];
    w3 = new long[nl];
    w2 = new long[nl];
    boolean kvAdj = true;
    boolean w13Adj = true;
    for (int l = 0; l < nl; l++) {
      String p = "layers." + l + ".";
      attnNorm[l] = addr(weights, p + "attn_norm", d);
      wq[l] = addr(weights, p + "attn.wq", d, d);
      wkv[l] = addr(weights, p + "attn.wk", config.kvDim(), d);
      wv[l] = addr(weights, p + "attn.wv", config.kvDim(), d);
      wo[l] = addr(weights, p + "attn.wo", d, d);
      ffnNorm[l] = addr(weights, p + "ffn_norm", d);
      w13[l] = addr(weights, p + "ffn.w1", config.hiddenDim(), d);
      w3[l] = addr(weights, p + "ffn.w3", config.hiddenDim(), d);
      w2[l] = addr(weights, p + "ffn.w2", d, config.hiddenDim());
      kvAdj &= wv[l] == wkv[l] + 4L * config.kvDim() * d;
      w13Adj &= w3[l] == w13[l] + 4L * config.hiddenDim() * d;
    }
    kvFused = kvAdj;
    w13Fused = w13Adj;
    int half = config.headSize() / 2;
    ropeCos = new float[config.seqLen() * half];
    ropeSin = new float[config.seqLen() * half];
    for (int pos = 0; pos < config.seqLen(); pos++) {
      for (int j = 0; j < half; j++) {
        // llama2.c: freq = 1 / powf(10000, head_dim / head_size) with head_dim = 2j, in float.
        float freq = (float) (1.0 / Math.pow(10000.0, (float) (2 * j) / (float) config.headSize()));
        float val = pos * freq;
        ropeCos[pos * half + j] = (float) Math.cos(val);
        ropeSin[pos * half + j] = (float) Math.sin(val);
      }
    }
  }

  private static long addr(ParameterSet p, String name, long... shape) {
    Parameter param = p.get(name);
    if (!java.util.Arrays.equals(param.shape(), shape)) {
      throw new IllegalArgumentException("transformer: weight '" + name + "' has shape "
          + java.util.Arrays.toString(param.shape()) + ", expected " + java.util.Arrays.toString(shape));
    }
    Tensor v = param.value();
    if (!v.isContiguous()) {
      throw new IllegalArgumentException("transformer: weight '" + name + "' must be contiguous");
    }
    return v.address();
  }

  /** The configuration. */
  public TransformerConfig config() {
    return config;
  }

  /** The weights (not owned). */
  public ParameterSet weights() {
    return weights;
  }

  /** A new, empty KV cache and scratch state for this model; close it when done. */
  public KvCache newCache() {
    return new KvCache(config);
  }

  /**
   * Runs the model on {@code token} at position {@code pos}, writing its keys and values into the
   * cache (positions {@code 0..pos-1} must already hold the previous tokens), and returns the
   * logits. The returned array belongs to the cache and is overwritten by the next call.
   *
   * @throws IllegalArgumentException if {@code token} or {@code pos} is out of range or the cache
   *     belongs to another configuration
   * @throws IllegalStateException if the cache or the weights are closed
   */
  public float[] forward(int token, int pos, KvCache cache) {
    if (cache == null) {
      throw new IllegalArgumentException("transformer: cache must not be null");
    }
    cache.checkUsable(config);
    if (token < 0 || token >= config.vocabSize()) {
      throw new IllegalArgumentException("transformer: token " + token + " outside [0, " + config.vocabSize() + ")");
    }
    if (pos < 0 || pos >= config.seqLen()) {
      throw new IllegalArgumentException("transformer: position " + pos + " outside [0, " + config.seqLen() + ")");
    }
    if (weights.values().isClosed()) {
      throw new IllegalStateException("transformer: the weights are closed");
    }
    final int dim = config.dim();
    final int kvDim = config.kvDim();
    final int hidden = config.hiddenDim();
    final long x = cache.x;
    final long xb = cache.xb;
    final long q = cache.q;
    final long hb = cache.hb;

    IteraNative.itera_copy_bytes(4L * dim, embedding + 4L * token * dim, x);
    for (int l = 0; l < config.nLayers(); l++) {
      long rowKv = kvRow(cache, l, pos);
      IteraNative.itera_rmsnorm_forward(1, dim, x, dim, attnNorm[l], EPS, xb, dim, cache.rstd);
      IteraNative.itera_sgemv(1, dim, dim, 1f, wq[l], dim, xb, 0f, q);
      if (kvFused) {
        IteraNative.itera_sgemv(1, 2L * kvDim, dim, 1f, wkv[l], dim, xb, 0f, rowKv);
      } else {
        IteraNative.itera_sgemv(1, kvDim, dim, 1f, wkv[l], dim, xb, 0f, rowKv);
        IteraNative.itera_sgemv(1, kvDim, dim, 1f, wv[l], dim, xb, 0f, rowKv + 4L * kvDim);
      }
      attend(l, pos, cache);
      IteraNative.itera_sgemv(1, dim, dim, 1f, wo[l], dim, xb, 1f, x); // x += wo . xb
      IteraNative.itera_rmsnorm_forward(1, dim, x, dim, ffnNorm[l], EPS, xb, dim, cache.rstd);
      if (w13Fused) {
        IteraNative.itera_sgemv(1, 2L * hidden, dim, 1f, w13[l], dim, xb, 0f, hb);
      } else {
        IteraNative.itera_sgemv(1, hidden, dim, 1f, w13[l], dim, xb, 0f, hb);
        IteraNative.itera_sgemv(1, hidden, dim, 1f, w3[l], dim, xb, 0f, hb + 4L * hidden);
      }
      IteraNative.itera_swiglu_forward(hidden, hb, hb + 4L * hidden, hb);
      IteraNative.itera_sgemv(1, dim, hidden, 1f, w2[l], hidden, hb, 1f, x); // x += w2 . hb
    }
    IteraNative.itera_rmsnorm_forward(1, dim, x, dim, finalNorm, EPS, xb, dim, cache.rstd);
    IteraNative.itera_sgemv(1, config.vocabSize(), dim, 1f, classifier, dim, xb, 0f, cache.logits);
    cache.logitsBuf.get(0, cache.logitsArray);
    return cache.logitsArray;
  }

  /** Address of the cache row (keys, then values) of {@code layer} at {@code pos}. */
  long kvRow(KvCache cache, int layer, int pos) {
    return cache.kv + 4L * ((long) layer * config.seqLen() + pos) * 2L * config.kvDim();
  }

  /**
   * Self-attention of the token at {@code pos} in {@code layer}, once its query is in {@code
   * cache.q} and its key and value in the cache row ({@link #kvRow}): rotates the query and the key
   * in place, then attends over positions {@code 0..pos} into {@code cache.xb}. Shared with the
   * compressed decoder, so both run the same attention.
   */
  void attend(int layer, int pos, KvCache cache) {
    final int kvDim = config.kvDim();
    final int seq = config.seqLen();
    final long kvRow = 2L * kvDim;
    final int hs = config.headSize();
    long layerKv = cache.kv + 4L * layer * seq * kvRow;
    rope(cache.qBuf, 0, config.dim(), pos);
    rope(cache.kvBuf, (int) ((long) layer * seq * kvRow + pos * kvRow), kvDim, pos);
    // Attention over positions 0..pos in one fused native call (scores, softmax, values).
    IteraNative.itera_attention_step(config.nHeads(), config.nKvHeads(), hs, pos + 1, cache.q, layerKv,
        layerKv + 4L * kvDim, kvRow, (float) (1.0 / Math.sqrt(hs)), cache.att, seq, cache.xb);
  }

  /** Rotates pairs (i, i+1) of {@code n} elements starting at {@code base} for position {@code pos}. */
  private void rope(FloatBuffer b, int base, int n, int pos) {
    int hs = config.headSize();
    int half = hs / 2;
    int rowBase = pos * half;
    for (int i = 0; i < n; i += 2) {
      int j = (i % hs) >> 1;
      float fcr = ropeCos[rowBase + j];
      float fci = ropeSin[rowBase + j];
      float v0 = b.get(base + i);
      float v1 = b.get(base + i + 1);
      b.put(base + i, v0 * fcr - v1 * fci);
      b.put(base + i + 1, v0 * fci + v1 * fcr);
    }
  }
}
