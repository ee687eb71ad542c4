package dev.iteralite.nn;

import dev.iteralite.backend.Backend;
import dev.iteralite.tensor.Arena;
import dev.iteralite.tensor.Tensor;
import java.util.List;

/**
 * Multi-head causal self-attention of a Llama-style decoder block, for training: projections
 * {@code q = x Wq^T}, {@code k = x Wk^T}, {@code v = x Wv^T} (no biases), rotary position
 * embedding (llama2.c's RoPE on pairs {@code (2j, 2j+1)} of each head) on q and k, causal softmax
 * attention with grouped-query heads (query head h reads key/value head {@code h / (heads /
 * kvHeads)}), and the output projection {@code y = att Wo^T}.
 *
 * <p>Rows are token-major: {@code batch} sequences of L tokens are {@code batch * L} rows, row
 * {@code b * L + t} at position t (positions restart at 0 in every sequence). Weight layout is
 * llama2.c's ({@code wq [D, D]}, {@code wk}, {@code wv [kvHeads * hs, D]}, {@code wo [D, D]}), so
 * the same parameters run in {@code model.Transformer} for decoding. Forward saves the rotated q
 * and k, v, the attention output and the per-row log-sum-exp (not the L x L probabilities).
 */
public final class CausalSelfAttention implements Layer {
  private final Backend backend;
  private final int heads;
  private final int kvHeads;
  private final int headSize;
  private final long dim;
  private final long kvDim;
  private final float scale;
  private final Parameter wq;
  private final Parameter wk;
  private final Parameter wv;
  private final Parameter wo;
  private Tensor savedX;
  private Tensor savedQ;
  private Tensor savedK;
  private Tensor savedV;
  private Tensor savedAtt;
  private Tensor savedLse;
  private int savedBatch;

  /**
   * Declares {@code prefix.wq}, {@code .wk}, {@code .wv}, {@code .wo} (the names of {@code
   * model.Transformer#declare}) with weights N(0, std²), the output projection N(0, outStd²).
   */
  public CausalSelfAttention(Backend backend, ParameterSet.Builder params, String prefix, int dim, int heads,
      int kvHeads, double std, double outStd) {
    this(backend, heads, kvHeads, declare(params, prefix, dim, heads, kvHeads, std, outStd));
  }

  /**
   * Attention over existing weights {@code wq [D, D]}, {@code wk, wv [kvHeads * D / heads, D]},
   * {@code wo [D, D]} (e.g. loaded from a llama2.c checkpoint).
   */
  public CausalSelfAttention(Backend backend, Parameter wq, Parameter wk, Parameter wv, Parameter wo, int heads,
      int kvHeads) {
    this(backend, heads, kvHeads, new Parameter[] {wq, wk, wv, wo});
  }

  private CausalSelfAttention(Backend backend, int heads, int kvHeads, Parameter[] w) {
    if (backend == null) {
      throw new IllegalArgumentException("CausalSelfAttention: backend must not be null");
    }
    for (Parameter p : w) {
      if (p == null) {
        throw new IllegalArgumentException("CausalSelfAttention: wq, wk, wv and wo must not be null");
      }
    }
    long d = w[0].shape()[0];
    checkHeads(d, heads, kvHeads);
    this.backend = backend;
    this.heads = heads;
    this.kvHeads = kvHeads;
    this.dim = d;
    this.headSize = (int) (d / heads);
    this.kvDim = (long) kvHeads * headSize;
    this.scale = (float) (1.0 / Math.sqrt(headSize));
    this.wq = requireShape(w[0], "wq", d, d);
    this.wk = requireShape(w[1], "wk", kvDim, d);
    this.wv = requireShape(w[2], "wv", kvDim, d);
    this.wo = requireShape(w[3], "wo", d, d);
  }

  private static Parameter[] declare(ParameterSet.Builder params, String prefix, int dim, int heads, int kvHeads,
      double std, double outStd) {
    if (params == null || prefix == null) {
      throw new IllegalArgumentException("CausalSelfAttention: params and prefix must not be null");
    }
    checkHeads(dim, heads, kvHeads);
    long kv = (long) kvHeads * (dim / heads);
    Init w = Init.normal(std);
    return new Parameter[] {
      params.add(prefix + ".wq", w, true, dim, dim),
      params.add(prefix + ".wk", w, true, kv, dim),
      params.add(prefix + ".wv", w, true, kv, dim),
      params.add(prefix + ".wo", Init.normal(outStd), true, dim, dim)
    };
  }

  private static void checkHeads(long dim, int heads, int kvHeads) {
    if (dim < 1 || heads < 1 || kvHeads < 1 || dim % heads != 0 || heads % kvHeads != 0) {
      throw new IllegalArgumentException("CausalSelfAttention: need dim % heads == 0 and heads % kvHeads == 0 with"
          + " all positive, got dim=" + dim + " heads=" + heads + " kvHeads=" + kvHeads);
    }
    if ((dim / heads) % 2 != 0) {
      throw new IllegalArgumentException("CausalSelfAttention: head size " + dim / heads
          + " must be even (RoPE rotates pairs); change dim or heads");
    }
  }

  private static Parameter requireShape(Parameter p, String what, long rows, long cols) {
    long[] s = p.shape();
    if (s.length != 2 || s[0] != rows || s[1] != cols) {
      throw new IllegalArgumentException("CausalSelfAttention: " + what + " ('" + p.name() + "') has shape "
          + java.util.Arrays.toString(s) + ", expected [" + rows + ", " + cols + "]");
    }
    return p;
  }

  public int heads() {
    return heads;
  }

  public int kvHeads() {
    return kvHeads;
  }

  public int headSize() {
    return headSize;
  }

  /** One sequence ([L, D] rows), or {@code [batch, L, D]}; see {@link #forward(Tensor, int, Arena)}. */
  @Override
  public Tensor forward(Tensor input, Arena arena) {
    if (input != null && input.rank() == 3) {
      long b = input.dim(0);
      if (b < 1 || b > Integer.MAX_VALUE) {
        throw new IllegalArgumentException("CausalSelfAttention: batch dimension of " + input.describe()
            + " must be in [1, 2^31)");
      }
      return forward(input.reshape(b * input.dim(1), input.dim(2)), (int) b, arena).reshape(input.shape());
    }
    return forward(input, 1, arena);
  }

  /** Forward over {@code batch} sequences of token-major rows {@code [batch * L, D]}. */
  public Tensor forward(Tensor x, int batch, Arena arena) {
    Shapes.requireRank2("CausalSelfAttention", "input", x, dim);
    long rows = x.dim(0);
    if (batch < 1 || rows == 0 || rows % batch != 0) {
      throw new IllegalArgumentException("CausalSelfAttention: " + rows + " input rows do not split into batch="
          + batch + " sequences of >= 1 token");
    }
    Tensor q;
    Tensor k;
    Tensor v;
    Tensor wqkv = fusedQkv(wq.value());
    if (wqkv != null) {
      // One GEMM for all three projections; q, k, v are column slices of its output.
      Tensor qkv = arena.allocate(x.dtype(), rows, dim + 2 * kvDim);
      backend.gemm(false, true, 1f, x, wqkv, 0f, qkv);
      q = qkv.slice(1, 0, dim);
      k = qkv.slice(1, dim, dim + kvDim);
      v = qkv.slice(1, dim + kvDim, dim + 2 * kvDim);
    } else {
      q = project(x, wq, arena);
      k = project(x, wk, arena);
      v = project(x, wv, arena);
    }
    backend.ropeForward(batch, headSize, q, q);
    backend.ropeForward(batch, headSize, k, k);
    Tensor att = arena.allocate(x.dtype(), rows, dim);
    Tensor lse = arena.allocate(x.dtype(), rows * heads);
    backend.causalAttentionForward(batch, heads, kvHeads, scale, q, k, v, att, lse);
    savedX = x;
    savedQ = q;
    savedK = k;
    savedV = v;
    savedAtt = att;
    savedLse = lse;
    savedBatch = batch;
    return project(att, wo, arena);
  }

  @Override
  public Tensor backward(Tensor dy, Arena arena) {
    if (dy != null && dy.rank() == 3) {
      return backward(dy.reshape(dy.dim(0) * dy.dim(1), dy.dim(2)), arena).reshape(dy.shape());
    }
    Shapes.requireSaved("CausalSelfAttention", savedX);
    Shapes.requireRank2("CausalSelfAttention", "gradOutput", dy, dim);
    long rows = savedX.dim(0);
    Tensor datt = arena.allocate(dy.dtype(), rows, dim);
    backend.gemm(false, false, 1f, dy, wo.value(), 0f, datt);
    backend.gemm(true, false, 1f, dy, savedAtt, 1f, wo.grad());
    Tensor dqRot = arena.allocate(dy.dtype(), rows, dim);
    Tensor dkRot = arena.allocate(dy.dtype(), rows, kvDim);
    Tensor wqkv = fusedQkv(wq.value());
    Tensor dx = arena.allocate(dy.dtype(), rows, dim);
    if (wqkv != null) {
      Tensor dqkv = arena.allocate(dy.dtype(), rows, dim + 2 * kvDim);
      Tensor dq = dqkv.slice(1, 0, dim);
      Tensor dk = dqkv.slice(1, dim, dim + kvDim);
      Tensor dv = dqkv.slice(1, dim + kvDim, dim + 2 * kvDim);
      backend.causalAttentionBackward(savedBatch, heads, kvHeads, scale, savedQ, savedK, savedV, savedLse, datt,
          dqRot, dkRot, dv);
      backend.ropeBackward(savedBatch, headSize, dqRot, dq);
      backend.ropeBackward(savedBatch, headSize, dkRot, dk);
      backend.gemm(false, false, 1f, dqkv, wqkv, 0f, dx);
      backend.gemm(true, false, 1f, dqkv, savedX, 1f, fusedQkv(wq.grad()));
      return dx;
    }
    Tensor dv = arena.allocate(dy.dtype(), rows, kvDim);
    backend.causalAttentionBackward(savedBatch, heads, kvHeads, scale, savedQ, savedK, savedV, savedLse, datt, dqRot,
        dkRot, dv);
    Tensor dq = arena.allocate(dy.dtype(), rows, dim);
    Tensor dk = arena.allocate(dy.dtype(), rows, kvDim);
    backend.ropeBackward(savedBatch, headSize, dqRot, dq);
    backend.ropeBackward(savedBatch, headSize, dkRot, dk);
    backend.gemm(false, false, 1f, dq, wq.value(), 0f, dx);
    backend.gemm(false, false, 1f, dk, wk.value(), 1f, dx);
    backend.gemm(false, false, 1f, dv, wv.value(), 1f, dx);
    backend.gemm(true, false, 1f, dq, savedX, 1f, wq.grad());
    backend.gemm(true, false, 1f, dk, savedX, 1f, wk.grad());
    backend.gemm(true, false, 1f, dv, savedX, 1f, wv.grad());
    return dx;
  }

  /**
   * When wk and wv directly follow wq in memory (the layout {@code ParameterSet} gives weights
   * declared in that order, as {@code model.Transformer#declare} does, unless alignment padding
   * separates them), the [D + 2 kvDim, D] view of all three starting at {@code wqTensor} (the values
   * or the gradients of wq); otherwise null.
   */
  private Tensor fusedQkv(Tensor wqTensor) {
    if (!adjacent(wq.value(), wk.value(), wv.value()) || !adjacent(wq.grad(), wk.grad(), wv.grad())) {
      return null;
    }
    return wqTensor.view(0, new long[] {dim + 2 * kvDim, dim}, new long[] {dim, 1});
  }

  private boolean adjacent(Tensor q, Tensor k, Tensor v) {
    long bytes = q.dtype().bits() / 8;
    return k.address() == q.address() + bytes * dim * dim && v.address() == k.address() + bytes * kvDim * dim;
  }

  /** {@code x W^T} into a new arena tensor (W [out, in]). */
  private Tensor project(Tensor x, Parameter w, Arena arena) {
    Tensor y = arena.allocate(x.dtype(), x.dim(0), w.shape()[0]);
    backend.gemm(false, true, 1f, x, w.value(), 0f, y);
    return y;
  }

  @Override
  public List<Parameter> parameters() {
    return List.of(wq, wk, wv, wo);
  }
}
