// Fast selective-SSM entry points (`itera_X` of the "selective SSM" section of itera_kernels.h):
// split the work across the worker pool and run the building blocks of the ISA level selected at
// this call (ssm_dispatch.h, simd_ssm.inc).
//
// Work splitting: the forward scan and the convolution forward split (sequence, channel block)
// pairs; backward kernels split CHANNEL blocks only and loop over the sequences inside, so each
// per-channel parameter gradient (dA, dD, d delta_bias, conv dw / dbias) has exactly one writer.
// dB / dC are sums over channels, so each worker but the first accumulates them in a private
// buffer that is added to the output afterwards (deterministic for a given thread count).
#include <algorithm>
#include <cstring>
#include <vector>

#include "itera_kernels.h"
#include "parallel.h"
#include "ssm_dispatch.h"

namespace {

using itera::ScanArgs;
using itera::ScanGrads;
using itera::SsmKernels;
using itera::ssm_kernels;

constexpr int64_t kBlock = 16;           // channels per work item: one AVX-512 vector
constexpr int64_t kScanWork = 1 << 16;   // scan elements (t * e * n) per thread, at least
constexpr int64_t kConvWork = 1 << 15;   // conv elements (t * e * k) per thread, at least

// Conv weight [E, K] transposed to [K, E] so a tap of W consecutive channels is one vector load;
// thread_local so a decoding step does not allocate.
const float* transpose_w(int64_t E, int64_t K, const float* w) {
  thread_local std::vector<float> wT;
  wT.resize(size_t(E * K));
  for (int64_t e = 0; e < E; ++e)
    for (int64_t k = 0; k < K; ++k) wT[k * E + e] = w[e * K + k];
  return wT.data();
}

ScanArgs make_args(int64_t Bt, int64_t L, int64_t E, int64_t N, const float* u, int64_t ldu,
                   const float* delta, int64_t lddelta, const float* A, const float* B,
                   int64_t ldb, const float* C, int64_t ldc, const float* D, const float* z,
                   int64_t ldz, const float* delta_bias, int softplus, int64_t chunk) {
  return ScanArgs{Bt, L, E, N, u, ldu, delta, lddelta, A, B, ldb, C, ldc, D, z, ldz, delta_bias,
                  softplus, chunk, itera_ssm_num_chunks(L, chunk)};
}

}  // namespace

extern "C" {

void itera_causal_conv1d_forward(int64_t Bt, int64_t L, int64_t E, int64_t K, const float* x,
                                 int64_t ldx, const float* w, const float* bias, float* y,
                                 int64_t ldy) {
  if (Bt <= 0 || L <= 0 || E <= 0 || K <= 0) return;
  const SsmKernels& k = ssm_kernels();
  const float* wT = transpose_w(E, K, w);
  const int64_t nb = (E + kBlock - 1) / kBlock;
  const int64_t grain = std::max<int64_t>(1, kConvWork / (L * K * kBlock));
  itera::parallel_for(Bt * nb, grain, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      const int64_t b = i / nb, e0 = (i % nb) * kBlock, e1 = std::min(E, e0 + kBlock);
      k.conv_fwd(L, E, K, e0, e1, x + b * L * ldx, ldx, wT, bias, y + b * L * ldy, ldy);
    }
  });
}

void itera_causal_conv1d_backward(int64_t Bt, int64_t L, int64_t E, int64_t K, const float* x,
                                  int64_t ldx, const float* w, const float* dy, int64_t lddy,
                                  float* dx, int64_t lddx, float* dw, float* dbias) {
  if (Bt <= 0 || L <= 0 || E <= 0 || K <= 0) return;
  const SsmKernels& k = ssm_kernels();
  const float* wT = transpose_w(E, K, w);
  const int64_t nb = (E + kBlock - 1) / kBlock;
  const int64_t grain = std::max<int64_t>(1, kConvWork / (Bt * L * K * kBlock));
  itera::parallel_for(nb, grain, [&](int64_t b0, int64_t b1) {
    k.conv_bwd(Bt, L, E, K, b0 * kBlock, std::min(E, b1 * kBlock), x, ldx, wT, dy, lddy, dx, lddx,
               dw, dbias);
  });
}

void itera_causal_conv1d_step(int64_t Bt, int64_t E, int64_t K, const float* x, int64_t ldx,
                              float* state, const float* w, const float* bias, float* y,
                              int64_t ldy) {
  if (Bt <= 0 || E <= 0 || K <= 0) return;
  const SsmKernels& k = ssm_kernels();
  const float* wT = transpose_w(E, K, w);
  // A few thousand multiply-adds: threads would cost more than they save.
  for (int64_t b = 0; b < Bt; ++b)
    k.conv_step(E, K, 0, E, x + b * ldx, state + b * K * E, wT, bias, y + b * ldy);
}

void itera_selective_scan_forward(int64_t Bt, int64_t L, int64_t E, int64_t N, const float* u,
                                  int64_t ldu, const float* delta, int64_t lddelta,
                                  const float* A, const float* B, int64_t ldb, const float* C,
                                  int64_t ldc, const float* D, const float* z, int64_t ldz,
                                  const float* delta_bias, int delta_softplus, int64_t chunk,
                                  float* y, int64_t ldy, float* last_state, float* chunk_states) {
  if (Bt <= 0 || L <= 0 || E <= 0 || N <= 0 || chunk <= 0 || N > itera::kSsmMaxState) return;
  const SsmKernels& k = ssm_kernels();
  const ScanArgs a = make_args(Bt, L, E, N, u, ldu, delta, lddelta, A, B, ldb, C, ldc, D, z, ldz,
                               delta_bias, delta_softplus, chunk);
  const int64_t nb = (E + kBlock - 1) / kBlock;
  const int64_t grain = std::max<int64_t>(1, kScanWork / (L * N * kBlock));
  itera::parallel_for(Bt * nb, grain, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      const int64_t b = i / nb, e0 = (i % nb) * kBlock, e1 = std::min(E, e0 + kBlock);
      k.scan_fwd(a, b, e0, e1, y, ldy, last_state, chunk_states);
    }
  });
}

void itera_selective_scan_backward(int64_t Bt, int64_t L, int64_t E, int64_t N, const float* u,
                                   int64_t ldu, const float* delta, int64_t lddelta,
                                   const float* A, const float* B, int64_t ldb, const float* C,
                                   int64_t ldc, const float* D, const float* z, int64_t ldz,
                                   const float* delta_bias, int delta_softplus, int64_t chunk,
                                   const float* chunk_states, const float* dy, int64_t lddy,
                                   float* du, int64_t lddu, float* ddelta, int64_t ldddelta,
                                   float* dA, float* dB, int64_t lddb, float* dC, int64_t lddc,
                                   float* dD, float* dz, int64_t lddz, float* ddelta_bias) {
  if (Bt <= 0 || L <= 0 || E <= 0 || N <= 0 || chunk <= 0 || N > itera::kSsmMaxState) return;
  const SsmKernels& k = ssm_kernels();
  const ScanArgs a = make_args(Bt, L, E, N, u, ldu, delta, lddelta, A, B, ldb, C, ldc, D, z, ldz,
                               delta_bias, delta_softplus, chunk);
  const int64_t chunk_eff = std::min(chunk, L);
  const int64_t nb = (E + kBlock - 1) / kBlock;
  // One part per worker (fewer when there is little work): part p owns a contiguous range of
  // channel blocks, its own recompute scratch and (p > 0) its own dB / dC partial sums.
  const int64_t min_blocks = std::max<int64_t>(1, kScanWork / (Bt * L * N * kBlock));
  const int64_t parts = std::max<int64_t>(
      1, std::min<int64_t>(itera::num_threads(), nb / min_blocks));
  const int64_t rows = Bt * L;
  const size_t scratch_floats = size_t(2 * chunk_eff * N * kBlock);
  std::vector<std::vector<float>> scratch(static_cast<size_t>(parts));
  std::vector<std::vector<float>> partial(static_cast<size_t>(parts));  // [rows, 2N]: dB | dC, p > 0
  const ScanGrads g0{dy, lddy, du, lddu, ddelta, ldddelta, dA, dB, lddb, dC, lddc, dD, dz, lddz,
                     ddelta_bias};
  itera::parallel_for(parts, 1, [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      const int64_t blk0 = p * nb / parts, blk1 = (p + 1) * nb / parts;
      if (blk0 >= blk1) continue;
      ScanGrads g = g0;
      if (p > 0) {
        partial[p].assign(size_t(rows * 2 * N), 0.0f);
        g.dB = partial[p].data();
        g.dC = partial[p].data() + N;
        g.lddb = g.lddc = 2 * N;
      }
      // a.chunk is used for the buffer stride: chunk_eff * N * W floats per buffer.
      scratch[p].resize(scratch_floats);
      ScanArgs ap = a;
      ap.chunk = chunk_eff;
      ap.nc = itera_ssm_num_chunks(L, chunk_eff);
      // chunk >= L means one chunk either way: the saved layout is identical.
      k.scan_bwd(ap, blk0 * kBlock, std::min(E, blk1 * kBlock), chunk_states, g, scratch[p].data());
    }
  });
  for (int64_t p = 1; p < parts; ++p) {
    if (partial[p].empty()) continue;
    const float* src = partial[p].data();
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t n = 0; n < N; ++n) {
        dB[r * lddb + n] += src[r * 2 * N + n];
        dC[r * lddc + n] += src[r * 2 * N + N + n];
      }
  }
}

void itera_selective_scan_step(int64_t Bt, int64_t E, int64_t N, const float* u, int64_t ldu,
                               const float* delta, int64_t lddelta, const float* A,
                               const float* B, int64_t ldb, const float* C, int64_t ldc,
                               const float* D, const float* z, int64_t ldz,
                               const float* delta_bias, int delta_softplus, float* state,
                               float* y, int64_t ldy) {
  if (Bt <= 0 || E <= 0 || N <= 0) return;
  const SsmKernels& k = ssm_kernels();
  const ScanArgs a = make_args(Bt, 1, E, N, u, ldu, delta, lddelta, A, B, ldb, C, ldc, D, z, ldz,
                               delta_bias, delta_softplus, 1);
  const int64_t nb = (E + kBlock - 1) / kBlock;
  // About 130 ns of work per block of 16 channels at N = 16 (one vector exp per channel,
  // measured): split once each thread gets about a microsecond, since waking a spinning worker
  // costs a few hundred nanoseconds.
  const int64_t grain = std::max<int64_t>(1, (1 << 11) / (N * kBlock));
  itera::parallel_for(Bt * nb, grain, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      const int64_t b = i / nb, e0 = (i % nb) * kBlock, e1 = std::min(E, e0 + kBlock);
      k.scan_step(a, b, e0, e1, state, y, ldy);
    }
  });
}

}  // extern "C"
