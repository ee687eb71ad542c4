package dev.iteralite.model;

import dev.iteralite.backend.CpuBackend;
import dev.iteralite.nativelib.IteraNative;
import dev.iteralite.nn.MambaMixer;
import dev.iteralite.nn.MambaMixer.Projection;
import dev.iteralite.nn.MixtureOfExperts;
import dev.iteralite.quant.QuantizedMatrix;
import dev.iteralite.tensor.Arena;
import dev.iteralite.tensor.DType;
import dev.iteralite.tensor.NativeMemory;
import dev.iteralite.tensor.Tensor;
import java.nio.FloatBuffer;
import java.util.List;

/**
 * Single-sequence decoding of an {@link IteraLiteModel} on the native CPU backend without
 * per-token allocation: every buffer is made once per session, the weights' addresses are looked
 * up once, and a token costs the mixers' own step calls plus about six native calls per block
 * (norms, GEMVs, SwiGLU, residual adds); an MoE block routes its single token in Java (softmax and
 * top-k over a handful of experts) and runs only the chosen experts' GEMVs. The prompt goes
 * through the model's parallel prefill.
 *
 * <p>Over a {@link QuantizedModel} the same step runs every compressed matrix through the
 * quantised GEMV kernels and takes the token's embedding row by dequantising it from the compressed
 * tied head. Its prefill is batched over the prompt: every compressed matrix multiplies all T rows
 * at once through the quantised GEMM kernels (in_proj, x_proj, dt_proj, out_proj, the dense FFN,
 * and in MoE blocks each expert over the rows the F32 router sends it), the convolution and the
 * selective scan run over the whole sequence and leave the recurrent state that stepping through
 * the prompt would leave, and only the last position's logits are computed. Matrices kept in F32
 * use the F32 GEMM. Every logit comes from the compressed weights.
 *
 * <p>Prefill and stepping agree to float rounding before the integer formats' on-the-fly int8
 * quantisation of activations (and BF16's rounding of them to bf16); that rounding is
 * discontinuous, so now and then (about 1 to 4% of prompts on random-weight test models) a
 * summation-order difference upstream (GEMM against GEMV, the chunked scan, the MoE combine) tips
 * one activation to the neighbouring level and the logits move by up to the format's own error.
 * F16 and F32 weights have no such step.
 *
 * <p>Computes what {@link IteraLiteModel#stepLogits} computes (up to float summation order), but
 * leaves the MoE layers' routing statistics alone: decoding is not training. Not thread-safe;
 * weights must not change while a session is open (see {@link dev.iteralite.nn.MambaState}).
 */
final class IteraLiteDecoder implements DecodeSession {
  private final IteraLiteModel model;
  private final IteraLiteConfig config;
  private final IteraLiteModel.State state;
  private final Arena arena = Arena.open();
  private final List<MambaMixer> mixers;
  private final QuantizedModel compressed; // null: the model's F32 weights

  private final long embedding; // F32 [V, D]
  private final QuantizedMatrix compressedEmbedding; // the tied head, or null
  private final long finalNorm;
  private final long[] norm1;
  private final long[] norm2;
  private final long[] router; // [E, D] F32, 0 for dense blocks
  private final Projection[][] w1; // [layer][expert] (dense blocks: one)
  private final Projection[][] w3;
  private final Projection[][] w2;
  private final Projection[][] mixerProjections; // [layer][in, x, dt, out] or null rows
  private final Projection head;
  // Batched prefill over compressed weights (null when compressed == null): sequence products.
  private final Projection[][] seqMixer; // [layer][in, x, dt, out]
  private final Projection[][] seqW1; // [layer][expert] (dense blocks: one)
  private final Projection[][] seqW3;
  private final Projection[][] seqW2;
  private final MixtureOfExperts[] moe; // [layer], null for dense blocks

  // Scratch (one row each).
  private final Tensor x; // [1, D] residual stream
  private final Tensor xn; // [1, D] normalised input of a sub-layer
  private final Tensor mixed; // [1, D] mixer output
  private final Tensor h1; // [1, H]
  private final Tensor h3; // [1, H]
  private final Tensor ffnOut; // [1, D]
  private final Tensor expertOut; // [1, D]
  private final Tensor logits; // [1, V]
  private final long routerLogits; // [E]
  private final long rstd; // [1]
  private final FloatBuffer routerBuffer;
  private final FloatBuffer logitsBuffer;
  private final float[] logitsArray;
  private final float[] routerArray;
  private final int[] chosen;
  private final float[] chosenWeight;
  private int position;
  private boolean closed;

  IteraLiteDecoder(IteraLiteModel model) {
    this(model, null);
  }

  IteraLiteDecoder(IteraLiteModel model, QuantizedModel compressed) {
    if (!(model.backend() instanceof CpuBackend)) {
      throw new IllegalArgumentException("IteraLiteDecoder: needs the native cpu backend, got " + model.backend().name());
    }
    if (model.parameters().dtype() != DType.F32) {
      throw new IllegalArgumentException("IteraLiteDecoder: needs F32 weights, got " + model.parameters().dtype());
    }
    this.model = model;
    this.config = model.config();
    this.mixers = model.mixers();
    this.compressed = compressed;
    int n = config.nLayers();
    long d = config.dModel();
    long hidden = config.ffnHidden();
    int experts = config.experts();
    this.state = model.newState(1);
    try {
      embedding = address("embed.weight");
      compressedEmbedding = compressed == null ? null : compressed.matrix("embed.weight");
      head = projection("embed.weight", embedding, config.vocabSize(), d);
      finalNorm = address("final_norm.weight");
      norm1 = new long[n];
      norm2 = new long[n];
      router = new long[n];
      w1 = new Projection[n][];
      w3 = new Projection[n][];
      w2 = new Projection[n][];
      mixerProjections = new Projection[n][];
      seqMixer = compressed == null ? null : new Projection[n][];
      seqW1 = compressed == null ? null : new Projection[n][];
      seqW3 = compressed == null ? null : new Projection[n][];
      seqW2 = compressed == null ? null : new Projection[n][];
      moe = new MixtureOfExperts[n];
      List<MixtureOfExperts> moeLayers = model.moeLayers();
      for (int i = 0, m = 0; i < n; i++) {
        if (config.isMoeLayer(i)) {
          moe[i] = moeLayers.get(m++);
        }
      }
      for (int i = 0; i < n; i++) {
        String p = "blocks." + i;
        norm1[i] = address(p + ".norm1.weight");
        norm2[i] = address(p + ".norm2.weight");
        if (compressed != null) {
          MambaMixer mixer = mixers.get(i);
          mixerProjections[i] = new Projection[] {
              mixerProjection(p + ".mixer.in_proj.weight", mixer.inProjWeight().value()),
              mixerProjection(p + ".mixer.x_proj.weight", mixer.xProjWeight().value()),
              mixerProjection(p + ".mixer.dt_proj.weight", mixer.dtProjWeight().value()),
              mixerProjection(p + ".mixer.out_proj.weight", mixer.outProjWeight().value())};
          seqMixer[i] = new Projection[] {
              sequenceProjection(p + ".mixer.in_proj.weight", mixer.inProjWeight().value()),
              sequenceProjection(p + ".mixer.x_proj.weight", mixer.xProjWeight().value()),
              sequenceProjection(p + ".mixer.dt_proj.weight", mixer.dtProjWeight().value()),
              sequenceProjection(p + ".mixer.out_proj.weight", mixer.outProjWeight().value())};
          if (moe[i] != null) {
            seqW1[i] = new Projection[experts];
            seqW3[i] = new Projection[experts];
            seqW2[i] = new Projection[experts];
            for (int e = 0; e < experts; e++) {
              seqW1[i][e] = sequenceProjection(p + ".moe.w1." + e, moe[i].w1().value().select(0, e));
              seqW3[i][e] = sequenceProjection(p + ".moe.w3." + e, moe[i].w3().value().select(0, e));
              seqW2[i][e] = sequenceProjection(p + ".moe.w2." + e, moe[i].w2().value().select(0, e));
            }
          } else {
            seqW1[i] = new Projection[] {sequenceProjection(p + ".ffn.w1.weight", parameter(p + ".ffn.w1.weight"))};
            seqW3[i] = new Projection[] {sequenceProjection(p + ".ffn.w3.weight", parameter(p + ".ffn.w3.weight"))};
            seqW2[i] = new Projection[] {sequenceProjection(p + ".ffn.w2.weight", parameter(p + ".ffn.w2.weight"))};
          }
        }
        if (config.isMoeLayer(i)) {
          router[i] = address(p + ".moe.router.weight");
          long a1 = address(p + ".moe.w1");
          long a3 = address(p + ".moe.w3");
          long a2 = address(p + ".moe.w2");
          w1[i] = new Projection[experts];
          w3[i] = new Projection[experts];
          w2[i] = new Projection[experts];
          for (int e = 0; e < experts; e++) {
            w1[i][e] = projection(p + ".moe.w1." + e, a1 + 4L * e * hidden * d, hidden, d);
            w3[i][e] = projection(p + ".moe.w3." + e, a3 + 4L * e * hidden * d, hidden, d);
            w2[i][e] = projection(p + ".moe.w2." + e, a2 + 4L * e * d * hidden, d, hidden);
          }
        } else {
          w1[i] = new Projection[] {projection(p + ".ffn.w1.weight", address(p + ".ffn.w1.weight"), hidden, d)};
          w3[i] = new Projection[] {projection(p + ".ffn.w3.weight", address(p + ".ffn.w3.weight"), hidden, d)};
          w2[i] = new Projection[] {projection(p + ".ffn.w2.weight", address(p + ".ffn.w2.weight"), d, hidden)};
        }
      }
      x = arena.allocate(DType.F32, 1, d);
      xn = arena.allocate(DType.F32, 1, d);
      mixed = arena.allocate(DType.F32, 1, d);
      h1 = arena.allocate(DType.F32, 1, hidden);
      h3 = arena.allocate(DType.F32, 1, hidden);
      ffnOut = arena.allocate(DType.F32, 1, d);
      expertOut = arena.allocate(DType.F32, 1, d);
      logits = arena.allocate(DType.F32, 1, config.vocabSize());
      routerLogits = arena.allocate(DType.F32, experts).address();
      rstd = arena.allocate(DType.F32, 1).address();
      routerBuffer = floats(routerLogits, experts);
      logitsBuffer = floats(logits.address(), config.vocabSize());
      logitsArray = new float[config.vocabSize()];
      routerArray = new float[experts];
      chosen = new int[config.topK()];
      chosenWeight = new float[config.topK()];
    } catch (RuntimeException e) {
      close();
      throw e;
    }
  }

  private Tensor parameter(String name) {
    return model.parameters().get(name).value();
  }

  private long address(String name) {
    Tensor v = parameter(name);
    if (!v.isContiguous()) {
      throw new IllegalArgumentException("IteraLiteDecoder: parameter '" + name + "' must be contiguous");
    }
    return v.address();
  }

  /** y = W x for the F32 matrix [rows, cols] at {@code weights}, or its compressed copy. */
  private Projection projection(String name, long weights, long rows, long cols) {
    QuantizedMatrix q = compressed == null ? null : compressed.matrix(name);
    if (q != null) {
      return q::gemv;
    }
    return (in, out) -> IteraNative.itera_sgemv(1, rows, cols, 1f, weights, cols, in.address(), 0f, out.address());
  }

  private Projection mixerProjection(String name, Tensor weights) {
    QuantizedMatrix q = compressed.matrix(name);
    if (q != null) {
      return q::gemv;
    }
    return projection(name, weights.address(), weights.dim(0), weights.dim(1));
  }

  /**
   * Y [T, rows] = X [T, cols] W^T over all prompt rows: one quantised GEMM for a compressed matrix,
   * the F32 GEMM for one kept in F32.
   */
  private Projection sequenceProjection(String name, Tensor weights) {
    QuantizedMatrix q = compressed.matrix(name);
    if (q != null) {
      return q::gemm;
    }
    return (in, out) -> model.backend().gemm(false, true, 1f, in, weights, 0f, out);
  }

  private static FloatBuffer floats(long address, long count) {
    return NativeMemory.wrap(address, 4 * count).asFloatBuffer();
  }

  @Override
  public float[] prefill(int[] prompt) {
    checkOpen();
    if (prompt == null || prompt.length == 0) {
      throw new IllegalArgumentException("IteraLiteModel: the prompt needs at least one token");
    }
    if (compressed == null) {
      float[] out = model.prefillLogits(prompt, state);
      position = prompt.length;
      return out;
    }
    for (int t : prompt) {
      checkToken(t);
    }
    state.reset();
    position = 0;
    try (Arena work = Arena.open()) {
      prefillCompressed(prompt, work);
    }
    position = prompt.length;
    return logitsArray;
  }

  /**
   * The prompt's T rows through every block at once; leaves each mixer's window and SSM state in
   * {@link #state} and the last position's logits in {@link #logitsArray}.
   */
  private void prefillCompressed(int[] prompt, Arena work) {
    final int len = prompt.length;
    final long d = config.dModel();
    final long hidden = config.ffnHidden();
    final float eps = IteraLiteConfig.NORM_EPS;
    Tensor xs = work.allocate(DType.F32, len, d); // [T, D] residual stream
    Tensor xns = work.allocate(DType.F32, len, d); // [T, D] normalised sub-layer input
    long rstds = work.allocate(DType.F32, len).address(); // [T]
    long xa = xs.address();
    long xna = xns.address();
    for (int t = 0; t < len; t++) {
      long row = xa + 4L * t * d;
      if (compressedEmbedding == null) {
        IteraNative.itera_copy_bytes(4L * d, embedding + 4L * prompt[t] * d, row);
      } else {
        compressedEmbedding.dequantizeRow(prompt[t], row);
      }
    }
    for (int i = 0; i < config.nLayers(); i++) {
      IteraNative.itera_rmsnorm_forward(len, d, xa, d, norm1[i], eps, xna, d, rstds);
      Projection[] mp = seqMixer[i];
      Tensor m = mixers.get(i).prefill(xns, state.mixerState(i), work, mp[0], mp[1], mp[2], mp[3]); // [T, D]
      IteraNative.itera_add(len * d, xa, m.address(), xa);
      IteraNative.itera_rmsnorm_forward(len, d, xa, d, norm2[i], eps, xna, d, rstds);
      Tensor f;
      if (moe[i] == null) {
        f = work.allocate(DType.F32, len, d);
        Tensor g1 = work.allocate(DType.F32, len, hidden);
        Tensor g3 = work.allocate(DType.F32, len, hidden);
        seqW1[i][0].apply(xns, g1);
        seqW3[i][0].apply(xns, g3);
        IteraNative.itera_swiglu_forward(len * hidden, g1.address(), g3.address(), g1.address());
        seqW2[i][0].apply(g1, f);
      } else {
        Projection[] p1 = seqW1[i];
        Projection[] p3 = seqW3[i];
        Projection[] p2 = seqW2[i];
        f = moe[i].infer(xns, work, (e, in, out) -> p1[e].apply(in, out), (e, in, out) -> p3[e].apply(in, out),
            (e, in, out) -> p2[e].apply(in, out));
      }
      IteraNative.itera_add(len * d, xa, f.address(), xa);
    }
    // Logits of the last position only, through the step's own head and scratch.
    IteraNative.itera_rmsnorm_forward(1, d, xa + 4L * (len - 1) * d, d, finalNorm, eps, xn.address(), d, rstd);
    head.apply(xn, logits);
    logitsBuffer.get(0, logitsArray);
  }

  @Override
  public float[] step(int token) {
    checkOpen();
    checkToken(token);
    final long d = config.dModel();
    final float eps = IteraLiteConfig.NORM_EPS;
    final long xa = x.address();
    final long xna = xn.address();
    final long ma = mixed.address();
    final long fa = ffnOut.address();
    if (compressedEmbedding == null) {
      IteraNative.itera_copy_bytes(4L * d, embedding + 4L * token * d, xa);
    } else {
      compressedEmbedding.dequantizeRow(token, xa); // row `token` of the compressed tied head
    }
    for (int i = 0; i < config.nLayers(); i++) {
      IteraNative.itera_rmsnorm_forward(1, d, xa, d, norm1[i], eps, xna, d, rstd);
      Projection[] mp = mixerProjections[i];
      if (mp == null) {
        mixers.get(i).step(xn, state.mixerState(i), mixed);
      } else {
        mixers.get(i).step(xn, state.mixerState(i), mixed, mp[0], mp[1], mp[2], mp[3]);
      }
      IteraNative.itera_add(d, xa, ma, xa);
      IteraNative.itera_rmsnorm_forward(1, d, xa, d, norm2[i], eps, xna, d, rstd);
      if (router[i] == 0) {
        swiglu(w1[i][0], w3[i][0], w2[i][0], ffnOut);
      } else {
        routeAndRun(i, d);
      }
      IteraNative.itera_add(d, xa, fa, xa);
    }
    IteraNative.itera_rmsnorm_forward(1, d, xa, d, finalNorm, eps, xna, d, rstd);
    head.apply(xn, logits);
    logitsBuffer.get(0, logitsArray);
    position++;
    return logitsArray;
  }

  private void checkToken(int token) {
    TokenChecks.requireId("IteraLiteModel", token, config.vocabSize());
  }

  /** out = W2 (silu(W1 xn) * W3 xn). */
  private void swiglu(Projection p1, Projection p3, Projection p2, Tensor out) {
    p1.apply(xn, h1);
    p3.apply(xn, h3);
    IteraNative.itera_swiglu_forward(config.ffnHidden(), h1.address(), h3.address(), h1.address());
    p2.apply(h1, out);
  }

  /** Softmax router, top-k by probability (ties: lower id), renormalised weights, chosen experts only. */
  private void routeAndRun(int layer, long d) {
    int experts = config.experts();
    int k = config.topK();
    IteraNative.itera_sgemv(1, experts, d, 1f, router[layer], d, xn.address(), 0f, routerLogits);
    routerBuffer.get(0, routerArray);
    float max = Float.NEGATIVE_INFINITY;
    for (float v : routerArray) {
      max = Math.max(max, v);
    }
    double sum = 0;
    for (int e = 0; e < experts; e++) {
      routerArray[e] = (float) Math.exp(routerArray[e] - max);
      sum += routerArray[e];
    }
    double chosenSum = 0;
    for (int j = 0; j < k; j++) {
      int best = -1;
      for (int e = 0; e < experts; e++) {
        if (routerArray[e] >= 0 && (best < 0 || routerArray[e] > routerArray[best])) {
          best = e;
        }
      }
      chosen[j] = best;
      chosenWeight[j] = (float) (routerArray[best] / sum);
      chosenSum += chosenWeight[j];
      routerArray[best] = -1; // taken
    }
    IteraNative.itera_fill_f32(d, 0f, ffnOut.address());
    for (int j = 0; j < k; j++) {
      int e = chosen[j];
      swiglu(w1[layer][e], w3[layer][e], w2[layer][e], expertOut);
      IteraNative.itera_axpy(d, (float) (chosenWeight[j] / chosenSum), expertOut.address(), ffnOut.address());
    }
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
      throw new IllegalStateException("IteraLiteModel: the decoding session is closed");
    }
  }

  @Override
  public void close() {
    if (!closed) {
      closed = true;
      state.close();
      arena.close();
    }
  }
}
