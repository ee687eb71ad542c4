/*
 * Itera-Lite CPU kernels: the one plain C ABI every backend binds to.
 *
 * Conventions (all functions):
 *   - Row-major storage. Sizes and strides are int64_t counts of ELEMENTS, never bytes.
 *   - "ld" arguments are row strides (leading dimensions); a row stride larger than the row
 *     length lets callers pass non-contiguous views.
 *   - Pointers are raw and never owned; kernels never allocate tensor memory and never free.
 *   - *_backward kernels ACCUMULATE (+=) into every gradient they write (input and parameter
 *     gradients alike), so several consumers of one tensor can share one gradient buffer.
 *   - Every kernel exists twice: `itera_X` (fast: SIMD path picked at run time, multi-threaded)
 *     and `itera_X_ref` (plain scalar loop, single-threaded: the specification the fast path is
 *     tested against). Shapes are validated by the Java side before any call; kernels only
 *     re-check what is cheap and would otherwise corrupt memory (token ids), and report it
 *     through their int return value (0 = ok, ITERA_ERR_* otherwise).
 *
 * Shape letters used in comments: R rows, C channels (row length), T tokens, V vocabulary,
 * M/N/K GEMM sizes.
 */
#ifndef ITERA_KERNELS_H
#define ITERA_KERNELS_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- status codes */
#define ITERA_OK 0
#define ITERA_ERR_INDEX_OUT_OF_RANGE (-1) /* a token id / target outside [0, V) */
#define ITERA_ERR_BAD_ARGUMENT (-2)       /* a size or stride the kernel cannot honour */

/* ---------------------------------------------------------------- runtime: ISA and threads */
/* Instruction-set levels, ordered: a level implies the ones below it. */
#define ITERA_ISA_SCALAR 0 /* portable C++, any x86-64 */
#define ITERA_ISA_AVX2 1   /* AVX2 + FMA + F16C */
#define ITERA_ISA_AVX512 2 /* AVX-512 F/BW/DQ/VL (+VNNI/BF16 flags reported separately) */

/* CPU feature bits reported by itera_cpu_features(). */
#define ITERA_CPU_AVX2 (1 << 0)
#define ITERA_CPU_FMA (1 << 1)
#define ITERA_CPU_F16C (1 << 2)
#define ITERA_CPU_AVX512F (1 << 3)
#define ITERA_CPU_AVX512BW (1 << 4)
#define ITERA_CPU_AVX512DQ (1 << 5)
#define ITERA_CPU_AVX512VL (1 << 6)
#define ITERA_CPU_AVX512VNNI (1 << 7)
#define ITERA_CPU_AVX512BF16 (1 << 8)
#define ITERA_CPU_AVXVNNI (1 << 9)

int itera_cpu_features(void);
/* Highest ISA level this CPU (and this build) supports. */
int itera_max_isa(void);
/* ISA level the fast kernels currently use. */
int itera_get_isa(void);
/* Select the ISA level for the fast kernels; clamped to itera_max_isa(). Returns the level set. */
int itera_set_isa(int isa);
/* Worker threads used by fast kernels (and OpenBLAS). n <= 0 means "all available cores". */
void itera_set_num_threads(int n);
int itera_get_num_threads(void);
/* OpenBLAS's own description of the kernel it chose (e.g. "Zen SkylakeX ..."); static string. */
const char* itera_blas_config(void);
/* Does nothing: measures the cost of crossing into native code. */
void itera_noop(void);

/* ---------------------------------------------------------------- memory */
/* 64-byte aligned allocation, counted. Returns NULL on failure or bytes <= 0. */
void* itera_alloc(int64_t bytes);
/* Frees memory from itera_alloc; bytes must be the size passed to itera_alloc. */
void itera_free(void* ptr, int64_t bytes);
/* Bytes and blocks currently allocated through itera_alloc (leak accounting). */
int64_t itera_live_bytes(void);
int64_t itera_live_allocations(void);
/* dst[i] = value, i < n. */
void itera_fill_f32(int64_t n, float value, float* dst);
/* Copies n bytes (regions must not overlap). */
void itera_copy_bytes(int64_t n, const void* src, void* dst);

/* ---------------------------------------------------------------- GEMM (OpenBLAS + native GEMV) */
/*
 * C = alpha * op(A) * op(B) + beta * C, row-major, op(X) = X or X^T (trans flag 0/1).
 * op(A) is M x K, op(B) is K x N, C is M x N. lda/ldb/ldc are the row strides of the stored
 * matrices (A stored M x K, or K x M when transA). When M == 1 (one-row products, e.g. decode)
 * the fast path uses the native GEMV, which beats sgemm's small-M path.
 */
void itera_sgemm(int transA, int transB, int64_t M, int64_t N, int64_t K, float alpha,
                 const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C,
                 int64_t ldc);
/* Batched with constant strides between consecutive matrices (elements). */
void itera_sgemm_strided_batched(int transA, int transB, int64_t M, int64_t N, int64_t K,
                                 float alpha, const float* A, int64_t lda, int64_t strideA,
                                 const float* B, int64_t ldb, int64_t strideB, float beta,
                                 float* C, int64_t ldc, int64_t strideC, int64_t batch);
void itera_sgemm_strided_batched_ref(int transA, int transB, int64_t M, int64_t N, int64_t K,
                                     float alpha, const float* A, int64_t lda, int64_t strideA,
                                     const float* B, int64_t ldb, int64_t strideB, float beta,
                                     float* C, int64_t ldc, int64_t strideC, int64_t batch);
/* Plain OpenBLAS cblas_sgemm (row-major), for comparison benchmarks. */
void itera_blas_sgemm(int transA, int transB, int64_t M, int64_t N, int64_t K, float alpha,
                      const float* A, int64_t lda, const float* B, int64_t ldb, float beta,
                      float* C, int64_t ldc);
/*
 * Native GEMV: y[n] = alpha * sum_k x[k] * op(W)[k, n] + beta * y[n], n < N, k < K.
 * transW = 1: W is stored N x K (one row per output, the Linear-layer layout), ldw >= K.
 * transW = 0: W is stored K x N, ldw >= N.
 */
void itera_sgemv(int transW, int64_t N, int64_t K, float alpha, const float* W, int64_t ldw,
                 const float* x, float beta, float* y);
void itera_sgemv_ref(int transW, int64_t N, int64_t K, float alpha, const float* W, int64_t ldw,
                     const float* x, float beta, float* y);

/* ---------------------------------------------------------------- embedding */
/* out[t, :] = table[ids[t], :]; table V x C (row stride ldt), out T x C (row stride ldo). */
int itera_embedding_forward(int64_t T, int64_t C, int64_t V, const int32_t* ids,
                            const float* table, int64_t ldt, float* out, int64_t ldo);
int itera_embedding_forward_ref(int64_t T, int64_t C, int64_t V, const int32_t* ids,
                                const float* table, int64_t ldt, float* out, int64_t ldo);
/* dtable[ids[t], :] += dout[t, :]. Repeated ids accumulate. */
int itera_embedding_backward(int64_t T, int64_t C, int64_t V, const int32_t* ids,
                             const float* dout, int64_t ldo, float* dtable, int64_t ldt);
int itera_embedding_backward_ref(int64_t T, int64_t C, int64_t V, const int32_t* ids,
                                 const float* dout, int64_t ldo, float* dtable, int64_t ldt);

/* ---------------------------------------------------------------- normalisation */
/*
 * RMSNorm over each row of x (R x C): y = x * rstd * w, rstd = 1/sqrt(mean(x^2) + eps).
 * Saves rstd (R) for the backward.
 */
void itera_rmsnorm_forward(int64_t R, int64_t C, const float* x, int64_t ldx, const float* w,
                           float eps, float* y, int64_t ldy, float* rstd);
void itera_rmsnorm_forward_ref(int64_t R, int64_t C, const float* x, int64_t ldx, const float* w,
                               float eps, float* y, int64_t ldy, float* rstd);
/* dx += d/dx, dw += d/dw (dw is C, summed over rows). */
void itera_rmsnorm_backward(int64_t R, int64_t C, const float* dy, int64_t lddy, const float* x,
                            int64_t ldx, const float* w, const float* rstd, float* dx,
                            int64_t lddx, float* dw);
void itera_rmsnorm_backward_ref(int64_t R, int64_t C, const float* dy, int64_t lddy,
                                const float* x, int64_t ldx, const float* w, const float* rstd,
                                float* dx, int64_t lddx, float* dw);
/* LayerNorm: y = (x - mean) * rstd * w + b. Saves mean and rstd (R each). */
void itera_layernorm_forward(int64_t R, int64_t C, const float* x, int64_t ldx, const float* w,
                             const float* b, float eps, float* y, int64_t ldy, float* mean,
                             float* rstd);
void itera_layernorm_forward_ref(int64_t R, int64_t C, const float* x, int64_t ldx,
                                 const float* w, const float* b, float eps, float* y, int64_t ldy,
                                 float* mean, float* rstd);
/* dx += ..., dw += ..., db += ... */
void itera_layernorm_backward(int64_t R, int64_t C, const float* dy, int64_t lddy,
                              const float* x, int64_t ldx, const float* w, const float* mean,
                              const float* rstd, float* dx, int64_t lddx, float* dw, float* db);
void itera_layernorm_backward_ref(int64_t R, int64_t C, const float* dy, int64_t lddy,
                                  const float* x, int64_t ldx, const float* w, const float* mean,
                                  const float* rstd, float* dx, int64_t lddx, float* dw,
                                  float* db);

/* ---------------------------------------------------------------- softmax */
/* y = softmax(x) over each row (R x C), numerically stable (max subtracted). */
void itera_softmax_forward(int64_t R, int64_t C, const float* x, int64_t ldx, float* y,
                           int64_t ldy);
void itera_softmax_forward_ref(int64_t R, int64_t C, const float* x, int64_t ldx, float* y,
                               int64_t ldy);
/* dx += y * (dy - sum(dy * y)) per row. */
void itera_softmax_backward(int64_t R, int64_t C, const float* y, int64_t ldy, const float* dy,
                            int64_t lddy, float* dx, int64_t lddx);
void itera_softmax_backward_ref(int64_t R, int64_t C, const float* y, int64_t ldy,
                                const float* dy, int64_t lddy, float* dx, int64_t lddx);

/* ---------------------------------------------------------------- cross-entropy */
/*
 * Softmax cross-entropy on given logits (R x V). For each row r with targets[r] != ignore_index:
 *   losses[r] = logsumexp(logits[r]) - logits[r, targets[r]]
 *   dlogits[r, :] = scale * (softmax(logits[r]) - onehot(targets[r]))   (WRITTEN, not added)
 * Rows with targets[r] == ignore_index get losses[r] = 0 and dlogits row = 0.
 * dlogits may be NULL (forward only) and may alias logits (in place). Returns ITERA_OK or
 * ITERA_ERR_INDEX_OUT_OF_RANGE if a target is outside [0, V) and not ignore_index.
 */
int itera_cross_entropy(int64_t R, int64_t V, const float* logits, int64_t ldl,
                        const int32_t* targets, int32_t ignore_index, float scale, float* losses,
                        float* dlogits, int64_t lddl);
int itera_cross_entropy_ref(int64_t R, int64_t V, const float* logits, int64_t ldl,
                            const int32_t* targets, int32_t ignore_index, float scale,
                            float* losses, float* dlogits, int64_t lddl);
/*
 * Fused LM head + cross-entropy, forward and backward in one pass, for h (T x C) and a head
 * W (V x C, the tied-embedding layout): logits = h * W^T, never materialised beyond one block of
 * rows (block_rows x V; block_rows <= 0 picks a cache-friendly default) in `workspace`, which
 * must hold at least itera_fused_xent_workspace(T, V, block_rows) floats.
 *   losses[t] as in itera_cross_entropy;
 *   if dh != NULL: dh[t, :] += scale * (p - onehot) * W           (T x C, row stride lddh)
 *   if dW != NULL: dW       += scale * (p - onehot)^T * h         (V x C, row stride lddw)
 */
int itera_fused_linear_cross_entropy(int64_t T, int64_t C, int64_t V, const float* h,
                                     int64_t ldh, const float* W, int64_t ldw,
                                     const int32_t* targets, int32_t ignore_index, float scale,
                                     float* losses, float* dh, int64_t lddh, float* dW,
                                     int64_t lddw, int64_t block_rows, float* workspace);
int itera_fused_linear_cross_entropy_ref(int64_t T, int64_t C, int64_t V, const float* h,
                                         int64_t ldh, const float* W, int64_t ldw,
                                         const int32_t* targets, int32_t ignore_index,
                                         float scale, float* losses, float* dh, int64_t lddh,
                                         float* dW, int64_t lddw, int64_t block_rows,
                                         float* workspace);
int64_t itera_fused_xent_workspace(int64_t T, int64_t V, int64_t block_rows);

/* ---------------------------------------------------------------- activations (contiguous, n elements) */
/* SiLU: y = x * sigmoid(x). GELU: tanh approximation (GPT-2). Softplus: log(1 + e^x), = x above 20. */
void itera_silu_forward(int64_t n, const float* x, float* y);
void itera_silu_forward_ref(int64_t n, const float* x, float* y);
void itera_silu_backward(int64_t n, const float* x, const float* dy, float* dx); /* dx += */
void itera_silu_backward_ref(int64_t n, const float* x, const float* dy, float* dx);
void itera_gelu_forward(int64_t n, const float* x, float* y);
void itera_gelu_forward_ref(int64_t n, const float* x, float* y);
void itera_gelu_backward(int64_t n, const float* x, const float* dy, float* dx);
void itera_gelu_backward_ref(int64_t n, const float* x, const float* dy, float* dx);
void itera_softplus_forward(int64_t n, const float* x, float* y);
void itera_softplus_forward_ref(int64_t n, const float* x, float* y);
void itera_softplus_backward(int64_t n, const float* x, const float* dy, float* dx);
void itera_softplus_backward_ref(int64_t n, const float* x, const float* dy, float* dx);

/* ---------------------------------------------------------------- elementwise arithmetic */
/* out = a + b (residual add; out may alias a or b). */
void itera_add(int64_t n, const float* a, const float* b, float* out);
void itera_add_ref(int64_t n, const float* a, const float* b, float* out);
/* y += alpha * x. */
void itera_axpy(int64_t n, float alpha, const float* x, float* y);
void itera_axpy_ref(int64_t n, float alpha, const float* x, float* y);
/* x *= alpha. */
void itera_scale(int64_t n, float alpha, float* x);
void itera_scale_ref(int64_t n, float alpha, float* x);
/* sum of x[i]^2, accumulated in double (gradient norms). */
double itera_sum_squares(int64_t n, const float* x);
double itera_sum_squares_ref(int64_t n, const float* x);

/* ---------------------------------------------------------------- optimiser */
/*
 * Fused AdamW step over n parameters (decoupled weight decay, bias-corrected):
 *   g  = grad * grad_scale                       (grad_scale folds in clipping / accumulation)
 *   m  = beta1 * m + (1 - beta1) * g
 *   v  = beta2 * v + (1 - beta2) * g^2
 *   p -= lr * ( (m / bc1) / (sqrt(v / bc2) + eps) + weight_decay * p )
 * with bc1 = 1 - beta1^step, bc2 = 1 - beta2^step (step >= 1).
 */
void itera_adamw(int64_t n, float* param, const float* grad, float* m, float* v, float lr,
                 float beta1, float beta2, float eps, float weight_decay, float grad_scale,
                 int64_t step);
void itera_adamw_ref(int64_t n, float* param, const float* grad, float* m, float* v, float lr,
                     float beta1, float beta2, float eps, float weight_decay, float grad_scale,
                     int64_t step);

/* ---------------------------------------------------------------- mixture of experts */
/*
 * Routing, dispatch and combine of a top-k mixture-of-experts layer (kernel-facts section 3,
 * megablocks dMoE). Shape letters: T tokens, E experts, k experts per token, D model width,
 * H expert hidden width, A = T*k assignments (flat index a = t*k + j), N kept assignments
 * (N = A when nothing is dropped). Index tensors are int32 and contiguous.
 *
 * Top-k: for each token, ids[t, 0..k) = the k largest probs[t, :] in descending order, ties going
 * to the LOWER expert index (deterministic); weights[t, j] = probs[t, ids[t, j]] / sum of the k
 * selected probs (renormalised; equals a softmax over the selected logits). probs is T x E with
 * row stride ldp. Returns ITERA_ERR_BAD_ARGUMENT unless 1 <= k <= E.
 */
int itera_moe_topk(int64_t T, int64_t E, int64_t k, const float* probs, int64_t ldp, int32_t* ids,
                   float* weights);
int itera_moe_topk_ref(int64_t T, int64_t E, int64_t k, const float* probs, int64_t ldp,
                       int32_t* ids, float* weights);
/*
 * Dispatch: a stable permutation of the A assignments into contiguous per-expert segments
 * (histogram of ids -> exclusive prefix sum -> scatter in assignment order = token order).
 * capacity <= 0 is dropless; otherwise each expert keeps its first `capacity` assignments in token
 * order and drops the rest. Writes (all WRITTEN, not added):
 *   routed[E]     assignments routed to each expert, before any drop (the load-balancing f_i);
 *   offsets[E+1]  exclusive prefix sum of the KEPT counts: expert e owns permuted rows
 *                 [offsets[e], offsets[e+1]); offsets[E] = N;
 *   slots[A]      permuted row of assignment a, or -1 when it was dropped;
 *   perm[A]       perm[r] = the assignment a held by permuted row r, r < N (rows >= N are -1).
 * Returns ITERA_ERR_INDEX_OUT_OF_RANGE if an id is outside [0, E) (nothing written).
 */
int itera_moe_dispatch(int64_t T, int64_t k, int64_t E, int64_t capacity, const int32_t* ids,
                       int32_t* routed, int32_t* offsets, int32_t* slots, int32_t* perm);
int itera_moe_dispatch_ref(int64_t T, int64_t k, int64_t E, int64_t capacity, const int32_t* ids,
                           int32_t* routed, int32_t* offsets, int32_t* slots, int32_t* perm);
/* Gather: xp[r, :] = x[perm[r] / k, :], r < N. x is T x D (ldx), xp is N x D (ldxp). perm in [0, T*k). */
void itera_moe_gather(int64_t N, int64_t D, int64_t k, const int32_t* perm, const float* x,
                      int64_t ldx, float* xp, int64_t ldxp);
void itera_moe_gather_ref(int64_t N, int64_t D, int64_t k, const int32_t* perm, const float* x,
                          int64_t ldx, float* xp, int64_t ldxp);
/* Gather backward: dx[t, :] += sum over kept j of dxp[slots[t*k + j], :]. dxp N x D, dx T x D. */
void itera_moe_gather_backward(int64_t T, int64_t D, int64_t k, const int32_t* slots,
                               const float* dxp, int64_t lddxp, float* dx, int64_t lddx);
void itera_moe_gather_backward_ref(int64_t T, int64_t D, int64_t k, const int32_t* slots,
                                   const float* dxp, int64_t lddxp, float* dx, int64_t lddx);
/*
 * Combine: out[t, :] = sum over kept j of weights[t*k + j] * yp[slots[t*k + j], :] (WRITTEN;
 * a token whose assignments were all dropped gets zeros). yp N x D (ldyp), out T x D (ldo).
 */
void itera_moe_combine(int64_t T, int64_t D, int64_t k, const int32_t* slots,
                       const float* weights, const float* yp, int64_t ldyp, float* out,
                       int64_t ldo);
void itera_moe_combine_ref(int64_t T, int64_t D, int64_t k, const int32_t* slots,
                           const float* weights, const float* yp, int64_t ldyp, float* out,
                           int64_t ldo);
/*
 * Combine backward, given dout (T x D):
 *   dyp[r, :]  += weights[perm[r]] * dout[perm[r] / k, :]           r < N (data gradient: gather)
 *   dweights[a] += <dout[a / k, :], yp[slots[a], :]>                 kept a (weight gradient)
 * Dropped assignments get no weight gradient.
 */
void itera_moe_combine_backward(int64_t T, int64_t N, int64_t D, int64_t k, const int32_t* perm,
                                const int32_t* slots, const float* weights, const float* dout,
                                int64_t lddo, const float* yp, int64_t ldyp, float* dyp,
                                int64_t lddyp, float* dweights);
void itera_moe_combine_backward_ref(int64_t T, int64_t N, int64_t D, int64_t k,
                                    const int32_t* perm, const int32_t* slots,
                                    const float* weights, const float* dout, int64_t lddo,
                                    const float* yp, int64_t ldyp, float* dyp, int64_t lddyp,
                                    float* dweights);
/*
 * SwiGLU gate of the experts (contiguous, n elements): out = silu(h1) * h3; backward
 * dh1 += dout * h3 * silu'(h1), dh3 += dout * silu(h1), with silu'(x) = s (1 + x (1 - s)),
 * s = sigmoid(x).
 */
void itera_swiglu_forward(int64_t n, const float* h1, const float* h3, float* out);
void itera_swiglu_forward_ref(int64_t n, const float* h1, const float* h3, float* out);

/* ---------------------------------------------------------------- decode attention step */
/*
 * Causal attention of one query token over T cached positions (one decode step, grouped-query):
 * for head h (kv head g = h / (n_heads / n_kv_heads)) and t < T,
 *   att[h * ldatt + t] = softmax_t(scale * q[h*hs : +hs] . k[t * ldkv + g*hs : +hs]),
 *   out[h*hs + i]      = sum_t att[h * ldatt + t] * v[t * ldkv + g*hs + i].
 * q and out hold n_heads * head_size floats; att is scratch of n_heads rows (ldatt >= T).
 * Single-threaded (it is called once per layer per token).
 */
void itera_attention_step(int64_t n_heads, int64_t n_kv_heads, int64_t head_size, int64_t T,
                          const float* q, const float* k, const float* v, int64_t ldkv,
                          float scale, float* att, int64_t ldatt, float* out);
void itera_attention_step_ref(int64_t n_heads, int64_t n_kv_heads, int64_t head_size, int64_t T,
                              const float* q, const float* k, const float* v, int64_t ldkv,
                              float scale, float* att, int64_t ldatt, float* out);
void itera_swiglu_backward(int64_t n, const float* h1, const float* h3, const float* dout,
                           float* dh1, float* dh3);
void itera_swiglu_backward_ref(int64_t n, const float* h1, const float* h3, const float* dout,
                               float* dh1, float* dh3);

/* ---------------------------------------------------------------- selective SSM (Mamba-1) */
/*
 * Layout: TOKEN-MAJOR. A sequence batch of Bt sequences of L tokens is Bt*L rows, row b*L + t
 * holding token t of sequence b, with the channel index fastest. These are exactly the rows a
 * Linear layer produces, so in_proj / x_proj / dt_proj outputs (or column slices of them, hence
 * the row strides "ld*") are used in place, with no transposes.
 *   u, delta, z, y, conv x/y : [Bt*L, E] (row stride ld*)     B, C : [Bt*L, N] (row stride ld*)
 *   A : [E, N] contiguous    D, delta_bias, conv bias : [E]   conv w : [E, K] contiguous
 *   SSM state : [Bt, E, N] contiguous     conv state : [Bt, K, E] contiguous (token-major window,
 *   oldest input first, so a prefill copies the last K rows of x as they are)
 *
 * Causal depthwise conv1d:  y[b,t,e] = bias[e] + sum_k w[e,k] * x[b, t-K+1+k, e]  (x = 0 at t < 0).
 * Selective scan, per (b, e, n):
 *   d_t  = delta[b,t,e] + delta_bias[e]; if delta_softplus: d_t = softplus(d_t) (= d_t above 20)
 *   h_t  = exp(d_t * A[e,n]) * h_{t-1} + d_t * B[b,t,n] * u[b,t,e]          (h_{-1} = 0)
 *   y_t  = (sum_n C[b,t,n] * h_t[n] + D[e] * u[b,t,e]) * (z ? silu(z[b,t,e]) : 1)
 * D, z and delta_bias may be NULL (then the term is absent and its gradient pointer must be NULL).
 * chunk (>= 1): the forward saves the state at the end of every chunk of `chunk` tokens (and at
 * t = L-1) in chunk_states [Bt, nc, E, N], nc = itera_ssm_num_chunks(L, chunk); the backward
 * recomputes the states inside each chunk from the previous chunk's saved state, so memory is
 * O(Bt*nc*E*N), never O(Bt*L*E*N). Forward and backward must use the same chunk.
 */
int64_t itera_ssm_num_chunks(int64_t L, int64_t chunk);

void itera_causal_conv1d_forward(int64_t Bt, int64_t L, int64_t E, int64_t K, const float* x,
                                 int64_t ldx, const float* w, const float* bias, float* y,
                                 int64_t ldy);
void itera_causal_conv1d_forward_ref(int64_t Bt, int64_t L, int64_t E, int64_t K, const float* x,
                                     int64_t ldx, const float* w, const float* bias, float* y,
                                     int64_t ldy);
/* dx += ..., dw += ..., dbias += ... (dbias may be NULL). */
void itera_causal_conv1d_backward(int64_t Bt, int64_t L, int64_t E, int64_t K, const float* x,
                                  int64_t ldx, const float* w, const float* dy, int64_t lddy,
                                  float* dx, int64_t lddx, float* dw, float* dbias);
void itera_causal_conv1d_backward_ref(int64_t Bt, int64_t L, int64_t E, int64_t K,
                                      const float* x, int64_t ldx, const float* w,
                                      const float* dy, int64_t lddy, float* dx, int64_t lddx,
                                      float* dw, float* dbias);
/* One decoding token: x [Bt, E] (row stride ldx) is shifted into state [Bt, K, E] (the oldest
 * row drops out), then y [Bt, E] = bias + sum_k w[:,k] * state[:,k,:]. */
void itera_causal_conv1d_step(int64_t Bt, int64_t E, int64_t K, const float* x, int64_t ldx,
                              float* state, const float* w, const float* bias, float* y,
                              int64_t ldy);
void itera_causal_conv1d_step_ref(int64_t Bt, int64_t E, int64_t K, const float* x, int64_t ldx,
                                  float* state, const float* w, const float* bias, float* y,
                                  int64_t ldy);

/* y (WRITTEN); last_state [Bt, E, N] and chunk_states may be NULL. */
void itera_selective_scan_forward(int64_t Bt, int64_t L, int64_t E, int64_t N, const float* u,
                                  int64_t ldu, const float* delta, int64_t lddelta,
                                  const float* A, const float* B, int64_t ldb, const float* C,
                                  int64_t ldc, const float* D, const float* z, int64_t ldz,
                                  const float* delta_bias, int delta_softplus, int64_t chunk,
                                  float* y, int64_t ldy, float* last_state, float* chunk_states);
void itera_selective_scan_forward_ref(int64_t Bt, int64_t L, int64_t E, int64_t N,
                                      const float* u, int64_t ldu, const float* delta,
                                      int64_t lddelta, const float* A, const float* B,
                                      int64_t ldb, const float* C, int64_t ldc, const float* D,
                                      const float* z, int64_t ldz, const float* delta_bias,
                                      int delta_softplus, int64_t chunk, float* y, int64_t ldy,
                                      float* last_state, float* chunk_states);
/*
 * Gradients of sum(dy * y) (all ACCUMULATED): du, ddelta (w.r.t. the raw delta, before bias and
 * softplus), dA [E, N], dB, dC, and where the input exists dD [E], dz, ddelta_bias [E].
 * chunk_states must be the forward's (same chunk). The reference ignores it and recomputes.
 */
void itera_selective_scan_backward(int64_t Bt, int64_t L, int64_t E, int64_t N, const float* u,
                                   int64_t ldu, const float* delta, int64_t lddelta,
                                   const float* A, const float* B, int64_t ldb, const float* C,
                                   int64_t ldc, const float* D, const float* z, int64_t ldz,
                                   const float* delta_bias, int delta_softplus, int64_t chunk,
                                   const float* chunk_states, const float* dy, int64_t lddy,
                                   float* du, int64_t lddu, float* ddelta, int64_t ldddelta,
                                   float* dA, float* dB, int64_t lddb, float* dC, int64_t lddc,
                                   float* dD, float* dz, int64_t lddz, float* ddelta_bias);
void itera_selective_scan_backward_ref(int64_t Bt, int64_t L, int64_t E, int64_t N,
                                       const float* u, int64_t ldu, const float* delta,
                                       int64_t lddelta, const float* A, const float* B,
                                       int64_t ldb, const float* C, int64_t ldc, const float* D,
                                       const float* z, int64_t ldz, const float* delta_bias,
                                       int delta_softplus, int64_t chunk,
                                       const float* chunk_states, const float* dy, int64_t lddy,
                                       float* du, int64_t lddu, float* ddelta, int64_t ldddelta,
                                       float* dA, float* dB, int64_t lddb, float* dC,
                                       int64_t lddc, float* dD, float* dz, int64_t lddz,
                                       float* ddelta_bias);
/* One decoding token (L = 1 of the forward, seeded with state [Bt, E, N], which is updated in
 * place): u, delta, z, y [Bt, E] and B, C [Bt, N] with row strides. */
void itera_selective_scan_step(int64_t Bt, int64_t E, int64_t N, const float* u, int64_t ldu,
                               const float* delta, int64_t lddelta, const float* A,
                               const float* B, int64_t ldb, const float* C, int64_t ldc,
                               const float* D, const float* z, int64_t ldz,
                               const float* delta_bias, int delta_softplus, float* state,
                               float* y, int64_t ldy);
void itera_selective_scan_step_ref(int64_t Bt, int64_t E, int64_t N, const float* u,
                                   int64_t ldu, const float* delta, int64_t lddelta,
                                   const float* A, const float* B, int64_t ldb, const float* C,
                                   int64_t ldc, const float* D, const float* z, int64_t ldz,
                                   const float* delta_bias, int delta_softplus, float* state,
                                   float* y, int64_t ldy);

/* ---------------------------------------------------------------- causal attention (training) */
/*
 * Multi-head causal self-attention over whole sequences, for training, and the rotary position
 * embedding (RoPE) that precedes it. TOKEN-MAJOR like the SSM section: Bt sequences of L tokens
 * are Bt*L rows, row b*L + t holding token t of sequence b.
 *   q, out, dq, dout : [Bt*L, H*hs]     k, v, dk, dv : [Bt*L, KV*hs]     (row strides ld*)
 *   lse : [Bt, H, L] contiguous: log-sum-exp of each row of scaled scores, saved by the forward
 *         so the backward recomputes the probabilities without another max / sum pass
 * Query head h reads key/value head g = h / (H / KV) (grouped-query; H % KV == 0). For query
 * position i of head h in sequence b:
 *   s_j   = scale * q_i . k_j   (j <= i)          lse_i = log sum_j exp(s_j)
 *   p_j   = exp(s_j - lse_i)                       out_i = sum_j p_j v_j
 * Backward (all ACCUMULATED), with dp_j = dout_i . v_j and D_i = sum_j p_j dp_j:
 *   dv_j += p_j dout_i    ds_j = p_j (dp_j - D_i)    dq_i += scale sum_j ds_j k_j
 *   dk_j += scale ds_j q_i
 * hs <= ITERA_ATTENTION_MAX_HEAD_SIZE. The fast kernels run one (sequence, head) pair per task
 * (backward: one (sequence, kv head) pair, so each dk / dv row has a single writer).
 */
#define ITERA_ATTENTION_MAX_HEAD_SIZE 256
void itera_causal_attention_forward(int64_t Bt, int64_t L, int64_t H, int64_t KV, int64_t hs,
                                    float scale, const float* q, int64_t ldq, const float* k,
                                    int64_t ldk, const float* v, int64_t ldv, float* out,
                                    int64_t ldo, float* lse);
void itera_causal_attention_forward_ref(int64_t Bt, int64_t L, int64_t H, int64_t KV,
                                        int64_t hs, float scale, const float* q, int64_t ldq,
                                        const float* k, int64_t ldk, const float* v, int64_t ldv,
                                        float* out, int64_t ldo, float* lse);
void itera_causal_attention_backward(int64_t Bt, int64_t L, int64_t H, int64_t KV, int64_t hs,
                                     float scale, const float* q, int64_t ldq, const float* k,
                                     int64_t ldk, const float* v, int64_t ldv, const float* lse,
                                     const float* dout, int64_t lddo, float* dq, int64_t lddq,
                                     float* dk, int64_t lddk, float* dv, int64_t lddv);
void itera_causal_attention_backward_ref(int64_t Bt, int64_t L, int64_t H, int64_t KV,
                                         int64_t hs, float scale, const float* q, int64_t ldq,
                                         const float* k, int64_t ldk, const float* v,
                                         int64_t ldv, const float* lse, const float* dout,
                                         int64_t lddo, float* dq, int64_t lddq, float* dk,
                                         int64_t lddk, float* dv, int64_t lddv);
/*
 * RoPE as llama2.c: x [R, n_heads*hs] (row r at position t = r % L), pairs (2j, 2j+1) of every
 * head rotated by angle t * f_j with f_j = (float)(1 / 10000^((float)2j / hs)) and the angle a
 * float product (so the tables equal model/Transformer.java's):
 *   y_2j = x_2j cos - x_2j+1 sin,   y_2j+1 = x_2j sin + x_2j+1 cos.
 * Forward WRITES y (y == x with ldy == ldx rotates in place); backward ACCUMULATES the inverse
 * rotation of dy into dx (dx must not overlap dy). hs must be even.
 */
void itera_rope_forward(int64_t R, int64_t L, int64_t n_heads, int64_t hs, const float* x,
                        int64_t ldx, float* y, int64_t ldy);
void itera_rope_forward_ref(int64_t R, int64_t L, int64_t n_heads, int64_t hs, const float* x,
                            int64_t ldx, float* y, int64_t ldy);
void itera_rope_backward(int64_t R, int64_t L, int64_t n_heads, int64_t hs, const float* dy,
                         int64_t lddy, float* dx, int64_t lddx);
void itera_rope_backward_ref(int64_t R, int64_t L, int64_t n_heads, int64_t hs, const float* dy,
                             int64_t lddy, float* dx, int64_t lddx);

/* ---------------------------------------------------------------- quantised weights */
/*
 * Compressed weight matrices (kernel-facts section 4). A matrix W [N, K] (N output features, K
 * inputs) is stored as N rows of itera_quant_row_bytes(fmt, K) bytes each, row after row; a row
 * is a run of blocks along K. Multi-byte fields are little-endian and may be unaligned.
 *   F32        K x fp32
 *   F16, BF16  K x binary16 / bfloat16, rounded to nearest even
 *   Q8_0       ggml: per 32 weights {fp16 d; int8 qs[32]} (34 B); d = amax/127, q = round(x/d)
 *   Q4_0       ggml: per 32 weights {fp16 d; uint8 qs[16]} (18 B); d = (signed max)/-8,
 *              q = min(15, trunc(x/d + 8.5)); byte j: element j low nibble, j+16 high; x = d(q-8)
 *   INT8       per-channel symmetric: {fp32 s; int8 q[K]}; s = amax/127, q in [-127, 127]
 *   INT4_Gg    group-wise asymmetric, g = 32/64/128: per group {fp16 s; uint8 z; uint8 qs[g/2]};
 *              s = (max-min)/15, z = round(-min/s) in [0, 15], q = clamp(round(x/s) + z, 0, 15),
 *              x = s(q - z); each 32-element run of qs packed like Q4_0
 *   NF4        bitsandbytes NF4, blocks of 64: {fp32 absmax c; uint8 qs[32]} (36 B); x/c to the
 *              nearest of the 16 levels; byte j: element 2j HIGH nibble, 2j+1 low; x = code[i] c
 *   NF4_DQ     NF4 with double-quantised absmaxes, the second level per row:
 *              {fp32 c2; fp32 offset; int8 qc[K/64]; uint8 qs[K/2]}; offset = mean of the row's
 *              absmaxes, c2 = max|c - offset|/127, qc = round((c - offset)/c2), and the weights
 *              are quantised against the reconstructed c = qc c2 + offset
 * The fast GEMV/GEMM of the integer formats quantise the activations on the fly to int8 blocks
 * of 32 (Q8_0 style; NF4 rows pair even and odd elements) and take int32 block dots: AVX-512
 * VNNI vpdpbusd when the ISA level is AVX512 and the CPU has AVX512-VNNI, else AVX2
 * vpmaddubsw/vpmaddwd at level AVX2 or above, else portable C++; multi-threaded over rows. F16 /
 * BF16 convert the weights to fp32 as they stream (F16C / a 16-bit shift), and with M >= 48 rows
 * convert W panel by panel and run sgemm; F32 uses itera_sgemv / itera_sgemm. BF16 products (fast
 * and _ref alike) multiply the activations rounded to bf16 (nearest even), as ggml's and oneDNN's
 * BF16 matmuls do, so that from M >= 8 rows at level AVX512 on CPUs with AVX512-BF16 they run on
 * vdpbf16ps (twice the fp32 FMA rate; bf16 subnormals count as zero there). Results therefore
 * differ from the _ref versions (dequantise, then a double dot) by the activations' int8
 * rounding (integer formats) and by fp32 summation order.
 * The int functions return ITERA_OK or ITERA_ERR_BAD_ARGUMENT (unknown format, K not a multiple
 * of itera_quant_block_size, non-positive sizes, strides below the row length, or, when
 * quantising, a non-finite input or a value that overflows an fp16 field).
 */
#define ITERA_QFMT_F32 0
#define ITERA_QFMT_F16 1
#define ITERA_QFMT_BF16 2
#define ITERA_QFMT_Q8_0 3
#define ITERA_QFMT_Q4_0 4
#define ITERA_QFMT_INT8 5
#define ITERA_QFMT_INT4_G32 6
#define ITERA_QFMT_INT4_G64 7
#define ITERA_QFMT_INT4_G128 8
#define ITERA_QFMT_NF4 9
#define ITERA_QFMT_NF4_DQ 10
/*
 * Row-interleaved in-memory layouts of Q8_0 and Q4_0 (and, below, NF4 and INT4), for the fast
 * kernels: the same blocks and
 * the same byte count (N x row_bytes of the base format), with the rows in groups of 16. A group
 * of 16 rows (16 x row_bytes bytes, groups back to back) holds first the fp16 scales of its rows,
 * block by block ([K/32][16] x 2 bytes), then their weights block by block in 4-byte steps
 * ([K/32][step][16][4] bytes; Q8_0: 8 steps of int8 stored +128 as uint8, i.e. the ggml byte
 * XOR 0x80; Q4_0: 4 steps of the ggml qs bytes as they are). One 64-byte line then holds the same
 * 4 weights of 16 rows, which one vpdpbusd multiplies by 4 activations broadcast. The last
 * N mod 16 rows follow the groups in the base layout. itera_quant_relayout converts between a
 * base format and its interleaved layout (checkpoints store the base format); every function of
 * this section accepts both.
 */
#define ITERA_QFMT_Q8_0_R16 11
#define ITERA_QFMT_Q4_0_R16 12
/*
 * NF4_R16: NF4 in the same scheme, per 64-weight block: the group's fp32 absmaxes ([K/64][16] x 4
 * bytes), then its code bytes in 4-byte steps ([K/64][8 steps][16][4] bytes: step s holds bytes
 * 4s..4s+3 of each row's 32 code bytes, as stored: high nibbles the even elements, low the odd).
 */
#define ITERA_QFMT_NF4_R16 13
/*
 * INT4_G32/G64/G128_R16: INT4_Gg in the same scheme, per group of g weights: the 16 rows' fp16
 * scales ([16] x 2 bytes) then their zero points ([16] x 1 byte), group after group ([K/g][48]
 * bytes), then the nibble bytes in 4-byte steps ([K/g][g/8 steps][16][4] bytes: step s holds bytes
 * 4s..4s+3 of each row's g/2 nibble bytes of the group, as stored).
 */
#define ITERA_QFMT_INT4_G32_R16 14
#define ITERA_QFMT_INT4_G64_R16 15
#define ITERA_QFMT_INT4_G128_R16 16
/*
 * NF4_DQ_R16: NF4_DQ in the same scheme: the 16 rows' fp32 c2 ([16] x 4 bytes), then their fp32
 * offsets ([16] x 4), then their int8 quantised absmaxes block by block ([K/64][16]), then the code
 * bytes in 4-byte steps as NF4_R16 ([K/64][8 steps][16][4] bytes).
 */
#define ITERA_QFMT_NF4_DQ_R16 17

/* K must be a positive multiple of this; 0 for an unknown format. */
int64_t itera_quant_block_size(int fmt);
/* Bytes of one stored row of K weights; -1 if fmt is unknown or K is not a valid multiple. */
int64_t itera_quant_row_bytes(int fmt, int64_t K);
/* dst (N rows of row_bytes) = quantised src [N, K] (row stride lds). */
int itera_quantize(int fmt, int64_t N, int64_t K, const float* src, int64_t lds, void* dst);
int itera_quantize_ref(int fmt, int64_t N, int64_t K, const float* src, int64_t lds, void* dst);
/* dst [N, K] (row stride ldd) = dequantised src. */
int itera_dequantize(int fmt, int64_t N, int64_t K, const void* src, float* dst, int64_t ldd);
int itera_dequantize_ref(int fmt, int64_t N, int64_t K, const void* src, float* dst,
                         int64_t ldd);
/* Checks stored bytes: every scale finite (and non-negative where the format says so) and every
 * INT4 zero point in [0, 15]. Returns ITERA_OK or ITERA_ERR_BAD_ARGUMENT. */
int itera_quant_check(int fmt, int64_t N, int64_t K, const void* W);
/* The layout whose products are fastest at the current ISA level: fmt's _R16 layout where the
 * level has interleaved kernels (AVX512 with AVX512-VNNI), else fmt itself (also for formats
 * without one); -1 for an unknown format. Every layout works at every level. */
int itera_quant_layout(int fmt);
/* dst = W in layout dst_fmt, W = src in layout src_fmt: a base format and its _R16 layout, either
 * way round (or the same format: a copy). src and dst must not overlap. */
int itera_quant_relayout(int src_fmt, int dst_fmt, int64_t N, int64_t K, const void* src,
                         void* dst);
/* dst [K] = row `row` (0 <= row < N) of W, dequantised (an embedding lookup in any layout). */
int itera_dequantize_row(int fmt, int64_t N, int64_t K, const void* W, int64_t row, float* dst);
/* y[n] = sum_k W[n, k] x[k], n < N (y written, never read). */
int itera_qgemv(int fmt, int64_t N, int64_t K, const void* W, const float* x, float* y);
int itera_qgemv_ref(int fmt, int64_t N, int64_t K, const void* W, const float* x, float* y);
/* Y [M, N] (row stride ldy) = X [M, K] (row stride ldx) . W^T (Y written, never read). */
int itera_qgemm(int fmt, int64_t M, int64_t N, int64_t K, const float* X, int64_t ldx,
                const void* W, float* Y, int64_t ldy);
int itera_qgemm_ref(int fmt, int64_t M, int64_t N, int64_t K, const float* X, int64_t ldx,
                    const void* W, float* Y, int64_t ldy);

#ifdef __cplusplus
}
#endif

#endif /* ITERA_KERNELS_H */
