package dev.iteralite.backend;

import dev.iteralite.tensor.Tensor;

/**
 * The compute operations layers are built from, with one implementation per device.
 *
 * <p>Two implementations exist: {@code cpu} ({@link CpuBackend}: native kernels, F32) and {@code
 * reference} ({@link ReferenceBackend}: plain Java in double precision, F32 or F64 tensors, any
 * strides), which is the test oracle. {@link Backends#select()} picks one at run time.
 *
 * <p>Shapes use R rows, C channels, T tokens, V vocabulary. Matrices are row-major; an operand may
 * be a strided view as long as its last dimension is contiguous (stride 1). Every method validates
 * shapes, dtypes, strides, index ranges and that no tensor is closed before computing, and throws
 * {@link IllegalArgumentException} (or {@link IllegalStateException} for closed tensors) naming
 * the problem: no input can crash the JVM.
 *
 * <p>Backward methods ACCUMULATE into every gradient tensor they receive ({@code +=}), so several
 * consumers of one tensor can share its gradient; zero gradients before a step.
 */
public interface Backend {
  /** Short name used for selection and logs: {@code cpu} or {@code reference}. */
  String name();

  /** One human-readable line: backend, CPU features, ISA level, threads. */
  String describe();

  // ------------------------------------------------------------------ GEMM

  /**
   * {@code c = alpha * op(a) * op(b) + beta * c}. Rank 2: op(a) [M,K], op(b) [K,N], c [M,N]. Rank
   * 3: a leading batch dimension on all three (equal sizes). With {@code beta == 0} the old
   * contents of {@code c} are ignored (even NaN).
   */
  void gemm(boolean transA, boolean transB, float alpha, Tensor a, Tensor b, float beta, Tensor c);

  // ------------------------------------------------------------------ embedding

  /** out[t, :] = table[ids[t], :]. ids I32 [T] in [0, V), table [V, C], out [T, C]. */
  void embeddingForward(Tensor ids, Tensor table, Tensor out);

  /** dtable[ids[t], :] += dout[t, :]. */
  void embeddingBackward(Tensor ids, Tensor dout, Tensor dtable);

  // ------------------------------------------------------------------ normalisation

  /** RMSNorm of each row: x [R, C], w [C], y [R, C], saves rstd [R]. */
  void rmsNormForward(Tensor x, Tensor w, float eps, Tensor y, Tensor rstd);

  /** dx [R, C] += ..., dw [C] += ... */
  void rmsNormBackward(Tensor dy, Tensor x, Tensor w, Tensor rstd, Tensor dx, Tensor dw);

  /** LayerNorm of each row: x [R, C], w [C], b [C], y [R, C], saves mean [R], rstd [R]. */
  void layerNormForward(Tensor x, Tensor w, Tensor b, float eps, Tensor y, Tensor mean, Tensor rstd);

  /** dx += ..., dw += ..., db += ... */
  void layerNormBackward(Tensor dy, Tensor x, Tensor w, Tensor mean, Tensor rstd, Tensor dx, Tensor dw, Tensor db);

  // ------------------------------------------------------------------ softmax and losses

  /** Row-wise softmax: x [R, C] to y [R, C]. */
  void softmaxForward(Tensor x, Tensor y);

  /** dx [R, C] += y * (dy - rowsum(dy * y)). */
  void softmaxBackward(Tensor y, Tensor dy, Tensor dx);

  /**
   * Softmax cross-entropy on logits [R, V] with targets I32 [R]; rows whose target is {@code
   * ignoreIndex} contribute nothing. Writes losses [R] (nats) and, if {@code dlogits} is non-null,
   * WRITES dlogits [R, V] = scale * (softmax - onehot) (it may be the logits tensor itself).
   *
   * @return the sum of the row losses
   */
  double crossEntropy(Tensor logits, Tensor targets, int ignoreIndex, float scale, Tensor losses, Tensor dlogits);

  /**
   * Fused LM head and cross-entropy, forward and backward in one pass, never holding more than a
   * block of logits: h [T, C], w [V, C] (tied-embedding layout), targets I32 [T]. Writes losses
   * [T]; if non-null, dh [T, C] += and dw [V, C] += the gradients of {@code scale * sum(losses)}.
   *
   * @return the sum of the row losses
   */
  double fusedLinearCrossEntropy(
      Tensor h, Tensor w, Tensor targets, int ignoreIndex, float scale, Tensor losses, Tensor dh, Tensor dw);

  // ------------------------------------------------------------------ pointwise

  /** y = f(x), same shape, both contiguous. */
  void activationForward(Activation f, Tensor x, Tensor y);

  /** dx += f'(x) * dy, all contiguous and of one shape. */
  void activationBackward(Activation f, Tensor x, Tensor dy, Tensor dx);

  /** out = a + b (residual add), all contiguous and of one shape; out may be a or b. */
  void add(Tensor a, Tensor b, Tensor out);

  /** y += alpha * x, contiguous, one shape. */
  void axpy(float alpha, Tensor x, Tensor y);

  /** x *= alpha, contiguous. */
  void scale(float alpha, Tensor x);

  /** Sum of squares (in double), contiguous. */
  double sumSquares(Tensor x);

  /** Every element of a contiguous tensor set to {@code value}. */
  void fill(Tensor x, float value);

  /** dst = src, same shape and dtype, both contiguous. */
  void copy(Tensor src, Tensor dst);

  // ------------------------------------------------------------------ optimiser

  /** One fused AdamW update of param with grad, updating moments m and v; all one shape, contiguous. */
  void adamW(Tensor param, Tensor grad, Tensor m, Tensor v, AdamWStep step);
  // ------------------------------------------------------------------ mixture of experts

  /**
   * Top-k routing: for each token t, ids[t, :] (I32 [T, k]) = the k largest entries of probs[t, :]
   * ([T, E]) in descending order, ties going to the lower expert index; weights[t, :] ([T, k]) =
   * the selected probabilities divided by their sum (renormalised). Requires 1 <= k <= E.
   */
  void moeTopK(Tensor probs, Tensor ids, Tensor weights);

  /**
   * Dispatch of the T*k assignments (flat index a = t*k + j) of ids I32 [T, k] into contiguous
   * per-expert segments, stable in token order. {@code capacity <= 0}: dropless; otherwise each
   * expert keeps its first {@code capacity} assignments and drops the rest. Writes routed I32 [E]
   * (histogram before drops), offsets I32 [E+1] (expert e owns permuted rows offsets[e] ..
   * offsets[e+1]), slots I32 [T, k] (permuted row of each assignment, -1 if dropped) and perm I32
   * [T*k] (assignment held by each permuted row; -1 past the kept rows).
   *
   * @return N, the number of kept assignments (= offsets[E])
   */
  int moeDispatch(Tensor ids, int experts, long capacity, Tensor routed, Tensor offsets, Tensor slots, Tensor perm);

  /** xp[r, :] = x[perm[r] / k, :]: x [T, D], perm I32 [N] in [0, T*k), xp [N, D]. */
  void moeGather(Tensor x, Tensor perm, int k, Tensor xp);

  /** dx[t, :] += sum over kept j of dxp[slots[t, j], :]: dxp [N, D], slots I32 [T, k], dx [T, D]. */
  void moeGatherBackward(Tensor dxp, Tensor slots, Tensor dx);

  /**
   * out[t, :] = sum over kept j of weights[t, j] * yp[slots[t, j], :] (written; zeros for a token
   * whose assignments were all dropped): yp [N, D], slots I32 [T, k], weights [T, k], out [T, D].
   */
  void moeCombine(Tensor yp, Tensor slots, Tensor weights, Tensor out);

  /**
   * Backward of {@link #moeCombine} given dout [T, D]: dyp[r, :] += weights[perm[r]] *
   * dout[perm[r] / k, :] and, for each kept assignment a, dweights[a] += dout[a / k, :] .
   * yp[slots[a], :].
   */
  void moeCombineBackward(Tensor dout, Tensor yp, Tensor perm, Tensor slots, Tensor weights, Tensor dyp, Tensor dweights);

  /** SwiGLU gate out = silu(h1) * h3, all contiguous and of one shape. */
  void swigluForward(Tensor h1, Tensor h3, Tensor out);

  /** dh1 += dout * h3 * silu'(h1), dh3 += dout * silu(h1); all contiguous, one shape. */
  void swigluBackward(Tensor h1, Tensor h3, Tensor dout, Tensor dh1, Tensor dh3);

  // ------------------------------------------------------------------ selective SSM (Mamba-1)
  // Token-major: `batch` sequences of L tokens are batch * L rows (row b * L + t), the layout of a
  // Linear layer's output, so column slices of projections are passed as they are.

  /**
   * Causal depthwise conv1d: y[b,t,e] = bias[e] + sum_k w[e,k] * x[b, t-K+1+k, e] (zero before t =
   * 0). x, y [batch * L, E]; w [E, K]; bias [E] or null.
   */
  void causalConv1dForward(int batch, Tensor x, Tensor w, Tensor bias, Tensor y);

  /** dx [batch * L, E] +=, dw [E, K] +=, dbias [E] += (null: no bias). */
  void causalConv1dBackward(int batch, Tensor x, Tensor w, Tensor dy, Tensor dx, Tensor dw, Tensor dbias);

  /**
   * One decoding token per sequence: x [batch, E] is shifted into the window state [batch, K, E]
   * (oldest row first; the oldest drops out) and y [batch, E] = bias + sum_k w[:,k] * state[:,k,:].
   */
  void causalConv1dStep(Tensor x, Tensor state, Tensor w, Tensor bias, Tensor y);

  /**
   * Selective scan (kernel-facts §1.2): WRITES y [batch * L, E]; if non-null, lastState [batch, E, N]
   * (the state after the last token, which seeds decoding) and chunkStates [batch,
   * ceil(L/chunk), E, N] (what the backward needs).
   */
  void selectiveScanForward(SelectiveScan scan, Tensor y, Tensor lastState, Tensor chunkStates);

  /**
   * Gradients of sum(dy * y) (§1.3), accumulated into {@code grads}; chunkStates is the forward's.
   * Reverse scan with chunked recomputation: never holds all batch * L * E * N states.
   */
  void selectiveScanBackward(SelectiveScan scan, Tensor chunkStates, Tensor dy, SelectiveScanGrads grads);

  /**
   * One decoding token per sequence (§1.5): rows of the scan operands = scan.batch(); state
   * [batch, E, N] is updated in place and y [batch, E] written.
   */
  void selectiveScanStep(SelectiveScan scan, Tensor state, Tensor y);

  // ------------------------------------------------------------------ causal attention (training)
  // Token-major like the SSM: `batch` sequences of L tokens are batch * L rows (row b * L + t).

  /**
   * Rotary position embedding of llama2.c: pairs (2j, 2j+1) of every head of x [batch * L, heads *
   * headSize] (row b * L + t at position t) rotated by angle t / 10000^(2j / headSize). WRITES y
   * (same shape; may be x itself for an in-place rotation).
   */
  void ropeForward(int batch, int headSize, Tensor x, Tensor y);

  /** Backward of {@link #ropeForward}: dx += the inverse rotation of dy (dx must not overlap dy). */
  void ropeBackward(int batch, int headSize, Tensor dy, Tensor dx);

  /**
   * Multi-head causal self-attention with grouped-query heads: q [batch * L, heads * hs], k and v
   * [batch * L, kvHeads * hs] (query head h reads key/value head h / (heads / kvHeads)); WRITES out
   * [batch * L, heads * hs] = softmax(scale q k^T, causal) v per head and lse [batch, heads, L], the
   * log-sum-exp of each row of scaled scores, which the backward needs.
   */
  void causalAttentionForward(int batch, int heads, int kvHeads, float scale, Tensor q, Tensor k, Tensor v,
      Tensor out, Tensor lse);

  /**
   * Backward of {@link #causalAttentionForward} given dout (q's shape) and the forward's lse:
   * dq +=, dk +=, dv +=.
   */
  void causalAttentionBackward(int batch, int heads, int kvHeads, float scale, Tensor q, Tensor k, Tensor v,
      Tensor lse, Tensor dout, Tensor dq, Tensor dk, Tensor dv);
}
