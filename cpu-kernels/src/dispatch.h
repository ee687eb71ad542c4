// Internal dispatch table of the fast kernels.
//
// Every ISA level (scalar baseline, AVX2+FMA, AVX-512) provides one `Kernels` table of
// single-threaded building blocks that work on one contiguous range, one row or one range of
// output columns. The public `itera_X` entry points (kernels.cpp, gemm.cpp) validate, split the
// work across the worker pool and call the table picked by itera_get_isa() at that call, so
// itera_set_isa() takes effect immediately and a process never executes an instruction its CPU
// lacks.
//
// The three tables are generated from one generic source (simd_kernels.inc) instantiated with a
// different vector type per translation unit; see kernels_scalar.cpp, avx2/, avx512/.
#ifndef ITERA_DISPATCH_H
#define ITERA_DISPATCH_H

#include <cstdint>

#include "itera_kernels.h"

namespace itera {

// AdamW constants, computed once per call (bias corrections in double, then rounded).
struct AdamwConsts {
  float lr, beta1, beta2, one_minus_beta1, one_minus_beta2, eps, weight_decay, grad_scale;
  float bc1, bc2;  // 1 - beta^step
};

struct Kernels {
  // ---- contiguous elementwise ranges (n elements)
  void (*fill)(int64_t n, float value, float* dst);
  void (*add)(int64_t n, const float* a, const float* b, float* out);  // out may alias a or b
  void (*add_stream)(int64_t n, const float* a, const float* b, float* out);  // out disjoint from a, b
  void (*axpy)(int64_t n, float alpha, const float* x, float* y);
  void (*scale)(int64_t n, float alpha, float* x);
  double (*sum_squares)(int64_t n, const float* x);
  void (*silu_fwd)(int64_t n, const float* x, float* y, bool stream);
  void (*silu_bwd)(int64_t n, const float* x, const float* dy, float* dx);
  void (*gelu_fwd)(int64_t n, const float* x, float* y, bool stream);
  void (*gelu_bwd)(int64_t n, const float* x, const float* dy, float* dx);
  void (*softplus_fwd)(int64_t n, const float* x, float* y, bool stream);
  void (*softplus_bwd)(int64_t n, const float* x, const float* dy, float* dx);
  void (*adamw)(int64_t n, float* param, const float* grad, float* m, float* v,
                const AdamwConsts& c);

  // ---- one row of C (or V) elements
  // stream: write y with non-temporal stores (outputs far larger than the caches)
  void (*rmsnorm_fwd_row)(int64_t C, const float* x, const float* w, float eps, float* y,
                          float* rstd_out, bool stream);
  void (*rmsnorm_bwd_row)(int64_t C, const float* dy, const float* x, const float* w, float rstd,
                          float* dx);  // dx += ...
  void (*layernorm_fwd_row)(int64_t C, const float* x, const float* w, const float* b, float eps,
                            float* y, float* mean_out, float* rstd_out, bool stream);
  void (*layernorm_bwd_row)(int64_t C, const float* dy, const float* x, const float* w,
                            float mean, float rstd, float* dx);  // dx += ...
  void (*softmax_fwd_row)(int64_t C, const float* x, float* y);
  void (*softmax_bwd_row)(int64_t C, const float* y, const float* dy, float* dx);  // dx += ...
  // Loss of one row whose target is valid and not ignored; writes dlogits (may be null or
  // alias logits) = scale * (softmax - onehot).
  float (*xent_row)(int64_t V, const float* logits, int32_t target, float scale, float* dlogits);

  // ---- column ranges [c0, c1) summed over all R rows (parameter gradients of the norms)
  void (*rmsnorm_dw_cols)(int64_t R, int64_t c0, int64_t c1, const float* dy, int64_t lddy,
                          const float* x, int64_t ldx, const float* rstd, float* dw);
  void (*layernorm_dwdb_cols)(int64_t R, int64_t c0, int64_t c1, const float* dy, int64_t lddy,
                              const float* x, int64_t ldx, const float* mean, const float* rstd,
                              float* dw, float* db);

  // ---- GEMV over an output range [n0, n1) (see itera_sgemv for the layouts)
  void (*gemv_t)(int64_t n0, int64_t n1, int64_t K, float alpha, const float* W, int64_t ldw,
                 const float* x, float beta, float* y);  // W is N x K
  void (*gemv_n)(int64_t n0, int64_t n1, int64_t K, float alpha, const float* W, int64_t ldw,
                 const float* x, float beta, float* y);  // W is K x N
};

extern const Kernels kScalarKernels;
extern const Kernels kAvx2Kernels;
extern const Kernels kAvx512Kernels;

// The table for the ISA level selected right now.
inline const Kernels& kernels() {
  switch (itera_get_isa()) {
    case ITERA_ISA_AVX512: return kAvx512Kernels;
    case ITERA_ISA_AVX2: return kAvx2Kernels;
    default: return kScalarKernels;
  }
}

}  // namespace itera

#endif
