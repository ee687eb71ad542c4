// Internal dispatch table of the selective-SSM building blocks (causal conv1d, selective scan).
//
// Like dispatch.h's `Kernels`, one `SsmKernels` table per ISA level is generated from one generic
// source (simd_ssm.inc) instantiated with each level's vector type `V` (it is #included by
// kernels_scalar.cpp, avx2/kernels_avx2.cpp and avx512/kernels_avx512.cpp right after
// simd_kernels.inc, whose math helpers it reuses). The entry points in ssm.cpp split the work and
// call the table for itera_get_isa(). Kept apart from `Kernels` so the two tables evolve
// independently.
#ifndef ITERA_SSM_DISPATCH_H
#define ITERA_SSM_DISPATCH_H

#include <cstdint>

#include "itera_kernels.h"

namespace itera {

// Largest d_state the fast scan keeps on the stack (the Java API checks N <= this).
constexpr int64_t kSsmMaxState = 256;

// Arguments of one selective scan call (pointers at element 0; see itera_kernels.h).
struct ScanArgs {
  int64_t Bt, L, E, N;
  const float* u; int64_t ldu;
  const float* delta; int64_t lddelta;
  const float* A;
  const float* B; int64_t ldb;
  const float* C; int64_t ldc;
  const float* D;
  const float* z; int64_t ldz;
  const float* delta_bias;
  int softplus;
  int64_t chunk, nc;
};

// Gradient outputs of the scan backward. dB / dC point at this worker's accumulation target
// (the output itself or a private partial buffer), with their row strides.
struct ScanGrads {
  const float* dy; int64_t lddy;
  float* du; int64_t lddu;
  float* ddelta; int64_t ldddelta;
  float* dA;
  float* dB; int64_t lddb;
  float* dC; int64_t lddc;
  float* dD;
  float* dz; int64_t lddz;
  float* ddelta_bias;
};

struct SsmKernels {
  // Channels [e0, e1) of one sequence (L tokens); wT is the conv weight transposed to [K, E].
  void (*conv_fwd)(int64_t L, int64_t E, int64_t K, int64_t e0, int64_t e1, const float* x,
                   int64_t ldx, const float* wT, const float* bias, float* y, int64_t ldy);
  // Channels [e0, e1) over all Bt sequences: dx +=, dw [E, K] +=, dbias +=.
  void (*conv_bwd)(int64_t Bt, int64_t L, int64_t E, int64_t K, int64_t e0, int64_t e1,
                   const float* x, int64_t ldx, const float* wT, const float* dy, int64_t lddy,
                   float* dx, int64_t lddx, float* dw, float* dbias);
  // Channels [e0, e1) of one row: state [K, E] shifted, y written.
  void (*conv_step)(int64_t E, int64_t K, int64_t e0, int64_t e1, const float* x, float* state,
                    const float* wT, const float* bias, float* y);
  // Sequence b, channels [e0, e1) (a multiple of the vector width apart from the last block).
  void (*scan_fwd)(const ScanArgs& a, int64_t b, int64_t e0, int64_t e1, float* y, int64_t ldy,
                   float* last_state, float* chunk_states);
  // Channels [e0, e1), all sequences; scratch holds 2 * chunk * N * 16 floats.
  void (*scan_bwd)(const ScanArgs& a, int64_t e0, int64_t e1, const float* chunk_states,
                   const ScanGrads& g, float* scratch);
  // Row b of a decoding step, channels [e0, e1).
  void (*scan_step)(const ScanArgs& a, int64_t b, int64_t e0, int64_t e1, float* state, float* y,
                    int64_t ldy);
};

extern const SsmKernels kScalarSsm;
extern const SsmKernels kAvx2Ssm;
extern const SsmKernels kAvx512Ssm;

inline const SsmKernels& ssm_kernels() {
  switch (itera_get_isa()) {
    case ITERA_ISA_AVX512: return kAvx512Ssm;
    case ITERA_ISA_AVX2: return kAvx2Ssm;
    default: return kScalarSsm;
  }
}

}  // namespace itera

#endif
