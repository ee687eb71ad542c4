package dev.iteralite.model;

import dev.iteralite.backend.CpuBackend;
import dev.iteralite.nativelib.IteraNative;
import dev.iteralite.nn.MambaMixer;
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

  // Weight addresses, block by block.
  private final long embedding;
  private final long finalNorm;
  private final long[] norm1;
  private final long[] norm2;
  private final long[] w1; // dense [H, D] or MoE [E, H, D]
  private final long[] w3;
  private final long[] w2; // dense [D, H] or MoE [E, D, H]
  private final long[] router; // [E, D], 0 for dense blocks

  // Scratch (one row each).
  private final Tensor x; // [1, D] residual stream
  private final Tensor xn; // [1, D] normalised input of a sub-layer
  private final Tensor mixed; // [1, D] mixer output
  private final long h1; // [H]
  private final long h3; // [H]
  private final long ffnOut; // [D]
  private final long expertOut; // [D]
  private final long routerLogits; // [E]
  private final long rstd; // [1]
  private final long logits; // [V]
  private final FloatBuffer routerBuffer;
  private final FloatBuffer logitsBuffer;
  private final float[] logitsArray;
  private final float[] routerArray;
  private final int[] chosen;
  private final float[] chosenWeight;
  private int position;
  private boolean closed;

  IteraLiteDecoder(IteraLiteModel model) {
    if (!(model.backend() instanceof CpuBackend)) {
      throw new IllegalArgumentException("IteraLiteDecoder: needs the native cpu backend, got " + model.backend().name());
    }
    if (model.parameters().dtype() != DType.F32) {
      throw new IllegalArgumentException("IteraLiteDecoder: needs F32 weights, got " + model.parameters().dtype());
    }
    this.model = model;
    this.config = model.config();
    this.mixers = model.mixers();
    int n = config.nLayers();
    long d = config.dModel();
    long hidden = config.ffnHidden();
    int experts = config.experts();
    this.state = model.newState(1);
    try {
      embedding = address("embed.weight");
      finalNorm = address("final_norm.weight");
      norm1 = new long[n];
      norm2 = new long[n];
      w1 = new long[n];
      w3 = new long[n];
      w2 = new long[n];
      router = new long[n];
      for (int i = 0; i < n; i++) {
        String p = "blocks." + i;
        norm1[i] = address(p + ".norm1.weight");
        norm2[i] = address(p + ".norm2.weight");
        if (config.isMoeLayer(i)) {
          router[i] = address(p + ".moe.router.weight");
          w1[i] = address(p + ".moe.w1");
          w3[i] = address(p + ".moe.w3");
          w2[i] = address(p + ".moe.w2");
        } else {
          w1[i] = address(p + ".ffn.w1.weight");
          w3[i] = address(p + ".ffn.w3.weight");
          w2[i] = address(p + ".ffn.w2.weight");
        }
      }
      x = arena.allocate(DType.F32, 1, d);
      xn = arena.allocate(DType.F32, 1, d);
      mixed = arena.allocate(DType.F32, 1, d);
      h1 = arena.allocate(DType.F32, hidden).address();
      h3 = arena.allocate(DType.F32, hidden).address();
      ffnOut = arena.allocate(DType.F32, d).address();
      expertOut = arena.allocate(DType.F32, d).address();
      routerLogits = arena.allocate(DType.F32, experts).address();
      rstd = arena.allocate(DType.F32, 1).address();
      logits = arena.allocate(DType.F32, config.vocabSize()).address();
      routerBuffer = floats(routerLogits, experts);
      logitsBuffer = floats(logits, config.vocabSize());
      logitsArray = new float[config.vocabSize()];
      routerArray = new float[experts];
      chosen = new int[config.topK()];
      chosenWeight = new float[config.topK()];
    } catch (RuntimeException e) {
      close();
      throw e;
    }
  }

  private long address(String name) {
    Tensor v = model.parameters().get(name).value();
    if (!v.isContiguous()) {
      throw new IllegalArgumentException("IteraLiteDecoder: parameter '" + name + "' must be contiguous");
    }
    return v.address();
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
    float[] out = model.prefillLogits(prompt, state);
    position = prompt.length;
    return out;
  }

  @Override
  public float[] step(int token) {
    checkOpen();
    if (token < 0 || token >= config.vocabSize()) {
      throw new IllegalArgumentException("IteraLiteModel: token " + token + " is outside [0, " + config.vocabSize() + ")");
    }
    final long d = config.dModel();
    final long hidden = config.ffnHidden();
    final float eps = IteraLiteConfig.NORM_EPS;
    final long xa = x.address();
    final long xna = xn.address();
    final long ma = mixed.address();
    IteraNative.itera_copy_bytes(4L * d, embedding + 4L * token * d, xa);
    for (int i = 0; i < config.nLayers(); i++) {
      IteraNative.itera_rmsnorm_forward(1, d, xa, d, norm1[i], eps, xna, d, rstd);
      mixers.get(i).step(xn, state.mixerState(i), mixed);
      IteraNative.itera_add(d, xa, ma, xa);
      IteraNative.itera_rmsnorm_forward(1, d, xa, d, norm2[i], eps, xna, d, rstd);
      if (router[i] == 0) {
        swiglu(w1[i], w3[i], w2[i], d, hidden, xna, ffnOut);
      } else {
        routeAndRun(i, d, hidden, xna);
      }
      IteraNative.itera_add(d, xa, ffnOut, xa);
    }
    IteraNative.itera_rmsnorm_forward(1, d, xa, d, finalNorm, eps, xna, d, rstd);
    IteraNative.itera_sgemv(1, config.vocabSize(), d, 1f, embedding, d, xna, 0f, logits);
    logitsBuffer.get(0, logitsArray);
    position++;
    return logitsArray;
  }

  /** out = W2 (silu(W1 in) * W3 in) with W1, W3 [H, D] and W2 [D, H]. */
  private void swiglu(long w1, long w3, long w2, long d, long hidden, long in, long out) {
    IteraNative.itera_sgemv(1, hidden, d, 1f, w1, d, in, 0f, h1);
    IteraNative.itera_sgemv(1, hidden, d, 1f, w3, d, in, 0f, h3);
    IteraNative.itera_swiglu_forward(hidden, h1, h3, h1);
    IteraNative.itera_sgemv(1, d, hidden, 1f, w2, hidden, h1, 0f, out);
  }

  /** Softmax router, top-k by probability (ties: lower id), renormalised weights, chosen experts only. */
  private void routeAndRun(int layer, long d, long hidden, long in) {
    int experts = config.experts();
    int k = config.topK();
    IteraNative.itera_sgemv(1, experts, d, 1f, router[layer], d, in, 0f, routerLogits);
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
    long expertW13 = hidden * d;
    long expertW2 = d * hidden;
    for (int j = 0; j < k; j++) {
      int e = chosen[j];
      swiglu(w1[layer] + 4L * e * expertW13, w3[layer] + 4L * e * expertW13, w2[layer] + 4L * e * expertW2, d, hidden,
          in, expertOut);
      float weight = (float) (chosenWeight[j] / chosenSum);
      if (j == 0) {
        IteraNative.itera_fill_f32(d, 0f, ffnOut);
      }
      IteraNative.itera_axpy(d, weight, expertOut, ffnOut);
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
