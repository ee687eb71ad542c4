// Matrix products: OpenBLAS sgemm for real GEMMs, the native GEMV for one-row products (decode),
// and the fused LM head + cross-entropy built on both.
#include <algorithm>
#include <climits>
#include <cstring>
#include <vector>

#include "dispatch.h"
#include "internal.h"
#include "itera_kernels.h"
#include "openblas_abi.h"
#include "parallel.h"

namespace {

using itera::kernels;
using itera::Kernels;

constexpr int64_t kGemvUnit = 16;        // outputs per scheduling unit (one cache line of y)
constexpr int64_t kGemvMinMacs = 1 << 15;  // multiply-adds per thread, at least
constexpr int64_t kMaxGemvParts = 64;
constexpr int64_t kGemmPanel = 16;                 // rows/columns of C per scheduling unit
constexpr int64_t kGemmMinMacsPerPart = 1 << 20;   // ~10 us of work: below it one thread does it

inline bool fits_int(int64_t v) { return v >= 0 && v <= INT_MAX; }

inline CBLAS_TRANSPOSE cblas_trans(int t) { return t ? CblasTrans : CblasNoTrans; }

// C (M x N, row stride ldc) = beta * C, with beta == 0 writing zeros (never reading C).
void scale_matrix(int64_t M, int64_t N, float beta, float* C, int64_t ldc) {
  for (int64_t i = 0; i < M; ++i) {
    float* row = C + i * ldc;
    if (beta == 0.0f) std::fill(row, row + N, 0.0f);
    else
      for (int64_t j = 0; j < N; ++j) row[j] *= beta;
  }
}

// One GEMM with OpenBLAS. Falls back to the reference for sizes beyond 32-bit BLAS ints (the
// Java side never creates such matrices; this only keeps the kernel memory-safe).
void blas_gemm(int transA, int transB, int64_t M, int64_t N, int64_t K, float alpha,
               const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C,
               int64_t ldc) {
  if (M <= 0 || N <= 0) return;
  if (K <= 0) {  // OpenBLAS rejects lda < 1 here; the product is empty anyway
    scale_matrix(M, N, beta, C, ldc);
    return;
  }
  if (!fits_int(M) || !fits_int(N) || !fits_int(K) || !fits_int(lda) || !fits_int(ldb) ||
      !fits_int(ldc)) {
    itera_sgemm_strided_batched_ref(transA, transB, M, N, K, alpha, A, lda, 0, B, ldb, 0, beta, C,
                                    ldc, 0, 1);
    return;
  }
  // OpenBLAS runs single-threaded (see itera_set_num_threads): its own level-3 threading
  // busy-waits on per-job flags, and on a 2-core machine where any other process takes a core
  // that spin made training steps up to 8x slower. Instead the product is cut into row or column
  // panels of C, one per worker of the project's pool (which sleeps instead of spinning).
  const int64_t macs = M * N * K;
  const int64_t max_parts = std::max<int64_t>(1, macs / kGemmMinMacsPerPart);
  const int parts = int(std::min<int64_t>(max_parts, itera::num_threads()));
  const bool split_rows = M >= N || N < parts * kGemmPanel;
  const int64_t extent = split_rows ? M : N;
  const int64_t units = (extent + kGemmPanel - 1) / kGemmPanel;
  if (parts <= 1 || units < 2) {
    cblas_sgemm(CblasRowMajor, cblas_trans(transA), cblas_trans(transB), int(M), int(N), int(K),
                alpha, A, int(lda), B, int(ldb), beta, C, int(ldc));
    return;
  }
  itera::parallel_for(units, (units + parts - 1) / parts, [&](int64_t u0, int64_t u1) {
    const int64_t b = u0 * kGemmPanel, e = std::min(extent, u1 * kGemmPanel);
    if (split_rows) {  // rows b..e of op(A) and C
      const float* a = transA ? A + b : A + b * lda;
      cblas_sgemm(CblasRowMajor, cblas_trans(transA), cblas_trans(transB), int(e - b), int(N),
                  int(K), alpha, a, int(lda), B, int(ldb), beta, C + b * ldc, int(ldc));
    } else {  // columns b..e of op(B) and C
      const float* bp = transB ? B + b * ldb : B + b;
      cblas_sgemm(CblasRowMajor, cblas_trans(transA), cblas_trans(transB), int(M), int(e - b),
                  int(K), alpha, A, int(lda), bp, int(ldb), beta, C + b, int(ldc));
    }
  });
}

}  // namespace

extern "C" {

void itera_sgemv(int transW, int64_t N, int64_t K, float alpha, const float* W, int64_t ldw,
                 const float* x, float beta, float* y) {
  if (N <= 0) return;
  const Kernels& k = kernels();
  const int64_t max_parts = std::max<int64_t>(1, N * K / kGemvMinMacs);
  const int parts = int(std::min<int64_t>({max_parts, itera::num_threads(), kMaxGemvParts}));
  if (transW || parts <= 1 || K < 2 * parts) {
    // Units of 16 outputs; each thread gets a contiguous run of rows of W (transW = 1: one
    // sequential stream of its share of W) or of columns (transW = 0, small problems).
    const int64_t units = (N + kGemvUnit - 1) / kGemvUnit;
    const int64_t grain = std::max<int64_t>(1, kGemvMinMacs / (kGemvUnit * std::max<int64_t>(K, 1)));
    const auto gemv = transW ? k.gemv_t : k.gemv_n;
    itera::parallel_for(units, grain, [&](int64_t u0, int64_t u1) {
      gemv(u0 * kGemvUnit, std::min(N, u1 * kGemvUnit), K, alpha, W, ldw, x, beta, y);
    });
    return;
  }
  // transW = 0 (W is K x N): split K instead, so every thread streams a contiguous block of
  // whole rows (splitting columns makes each thread read half rows, which the prefetchers follow
  // worse), each into its own partial sum; the caller then adds the partials.
  //   partial: parts x N, row p = sum over the p-th slice of k of x[k] W[k, :]
  thread_local std::vector<float> scratch;
  if (scratch.size() < size_t(parts * N)) scratch.resize(size_t(parts * N));
  float* partial = scratch.data();
  itera::parallel_for(parts, 1, [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      const int64_t k0 = K * p / parts, k1 = K * (p + 1) / parts;
      k.gemv_n(0, N, k1 - k0, 1.0f, W + k0 * ldw, ldw, x + k0, 0.0f, partial + p * N);
    }
  });
  for (int p = 1; p < parts; ++p) k.add(N, partial, partial + p * N, partial);
  if (beta == 0.0f) k.fill(N, 0.0f, y);  // y may hold NaN: never scale it by 0
  else if (beta != 1.0f) k.scale(N, beta, y);
  k.axpy(N, alpha, partial, y);
}

void itera_sgemm(int transA, int transB, int64_t M, int64_t N, int64_t K, float alpha,
                 const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C,
                 int64_t ldc) {
  if (M == 1 && (!transA || lda == 1 || K <= 1)) {
    // C[0, :] = alpha * a . op(B) + beta * C[0, :], with a = op(A)[0, :] contiguous.
    // op(B) = B (K x N stored) is GEMV transW = 0; op(B) = B^T (B stored N x K) is transW = 1.
    itera_sgemv(transB ? 1 : 0, N, K, alpha, B, ldb, A, beta, C);
    return;
  }
  blas_gemm(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

void itera_sgemm_strided_batched(int transA, int transB, int64_t M, int64_t N, int64_t K,
                                 float alpha, const float* A, int64_t lda, int64_t strideA,
                                 const float* B, int64_t ldb, int64_t strideB, float beta,
                                 float* C, int64_t ldc, int64_t strideC, int64_t batch) {
  // Each product is threaded inside (OpenBLAS or the GEMV pool).
  for (int64_t b = 0; b < batch; ++b)
    itera_sgemm(transA, transB, M, N, K, alpha, A + b * strideA, lda, B + b * strideB, ldb, beta,
                C + b * strideC, ldc);
}

void itera_blas_sgemm(int transA, int transB, int64_t M, int64_t N, int64_t K, float alpha,
                      const float* A, int64_t lda, const float* B, int64_t ldb, float beta,
                      float* C, int64_t ldc) {
  blas_gemm(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

int itera_fused_linear_cross_entropy(int64_t T, int64_t C, int64_t V, const float* h,
                                     int64_t ldh, const float* W, int64_t ldw,
                                     const int32_t* targets, int32_t ignore_index, float scale,
                                     float* losses, float* dh, int64_t lddh, float* dW,
                                     int64_t lddw, int64_t block_rows, float* workspace) {
  if (!itera_targets_valid(T, V, targets, ignore_index)) return ITERA_ERR_INDEX_OUT_OF_RANGE;
  const int64_t rows = itera_fused_xent_block_rows(T, block_rows);
  const bool backward = dh != nullptr || dW != nullptr;
  for (int64_t t0 = 0; t0 < T; t0 += rows) {
    const int64_t bt = std::min(rows, T - t0);
    const float* hb = h + t0 * ldh;  // bt x C
    float* logits = workspace;       // bt x V, row stride V
    // logits = h_block . W^T
    blas_gemm(0, 1, bt, V, C, 1.0f, hb, ldh, W, ldw, 0.0f, logits, V);
    // losses; dlogits = scale * (p - onehot) overwrite the logits in place.
    itera_cross_entropy(bt, V, logits, V, targets + t0, ignore_index, scale, losses + t0,
                        backward ? logits : nullptr, V);
    if (dh)  // dh_block (bt x C) += dlogits (bt x V) . W (V x C)
      blas_gemm(0, 0, bt, C, V, 1.0f, logits, V, W, ldw, 1.0f, dh + t0 * lddh, lddh);
    if (dW)  // dW (V x C) += dlogits^T (V x bt) . h_block (bt x C)
      blas_gemm(1, 0, V, C, bt, 1.0f, logits, V, hb, ldh, 1.0f, dW, lddw);
  }
  return ITERA_OK;
}

}  // extern "C"
