// Fast kernels (`itera_X`): validate what is cheap, split the work across the worker pool and run
// the SIMD building blocks of the ISA level selected at this call (dispatch.h). Every function
// here must agree with its `itera_X_ref` in reference.cpp within float rounding.
//
// Work splitting: elementwise kernels split on 16-float (64-byte) boundaries so no two threads
// share a cache line; row kernels split rows; parameter gradients summed over rows (norm dw/db,
// embedding dtable) split COLUMNS, so each output element has exactly one writer (no races, no
// scratch, deterministic). Grains keep small calls on the calling thread, where waking a worker
// would cost more than it saves.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <initializer_list>

#include "dispatch.h"
#include "internal.h"
#include "itera_kernels.h"
#include "parallel.h"

namespace {

using itera::kernels;
using itera::Kernels;

constexpr int64_t kLine = 16;              // floats per 64-byte cache line
constexpr int64_t kElemGrain = 1 << 15;    // elements per thread, at least (~128 KB)
constexpr int64_t kTranscGrain = 1 << 13;  // same for exp-heavy activations (more work each)
constexpr int64_t kRowWork = 1 << 14;      // elements of row work per thread, at least
constexpr int64_t kStreamElems = 1 << 23;  // 32 MiB of output: the L3 size of this machine class

// Runs f(i0, i1) over [0, n) split on cache-line boundaries.
template <typename F>
void parallel_elements(int64_t n, int64_t grain, const F& f) {
  const int64_t lines = (n + kLine - 1) / kLine;
  itera::parallel_for(lines, std::max<int64_t>(1, grain / kLine), [&](int64_t b0, int64_t b1) {
    const int64_t i0 = b0 * kLine;
    const int64_t i1 = std::min(n, b1 * kLine);
    if (i0 < i1) f(i0, i1);
  });
}

// Whether a kernel should write `out` (a region of out_span floats) with non-temporal stores: only
// when it is larger than the last-level cache, so its lines would not be reused from cache anyway,
// and overlaps none of the inputs (in place, the lines are already cached: plain stores win).
struct Span {
  const float* p;
  int64_t n;
};
inline bool stream_output(const float* out, int64_t out_span, std::initializer_list<Span> inputs) {
  if (out_span < kStreamElems) return false;
  for (const Span& in : inputs)
    if (in.p && !(out + out_span <= in.p || in.p + in.n <= out)) return false;
  return true;
}

// Elements spanned by R rows of C with row stride ld.
inline int64_t row_span(int64_t R, int64_t C, int64_t ld) { return R <= 0 ? 0 : (R - 1) * ld + C; }

// Rows per thread so that each thread gets at least kRowWork elements.
inline int64_t row_grain(int64_t C) { return std::max<int64_t>(1, kRowWork / std::max<int64_t>(C, 1)); }

// Runs f(c0, c1) over column ranges of [0, C) (cache-line aligned) when R x C is big enough.
template <typename F>
void parallel_columns(int64_t R, int64_t C, const F& f) {
  const int64_t lines = (C + kLine - 1) / kLine;
  const int64_t grain = std::max<int64_t>(1, kRowWork / (kLine * std::max<int64_t>(R, 1)));
  itera::parallel_for(lines, grain, [&](int64_t b0, int64_t b1) {
    const int64_t c0 = b0 * kLine;
    const int64_t c1 = std::min(C, b1 * kLine);
    if (c0 < c1) f(c0, c1);
  });
}

}  // namespace

extern "C" {

// ------------------------------------------------------------------ memory

void itera_fill_f32(int64_t n, float value, float* dst) {
  const Kernels& k = kernels();
  parallel_elements(n, kElemGrain, [&](int64_t i0, int64_t i1) { k.fill(i1 - i0, value, dst + i0); });
}

// ------------------------------------------------------------------ embedding

int itera_embedding_forward(int64_t T, int64_t C, int64_t V, const int32_t* ids,
                            const float* table, int64_t ldt, float* out, int64_t ldo) {
  if (!itera_ids_valid(T, V, ids)) return ITERA_ERR_INDEX_OUT_OF_RANGE;
  if (C <= 0) return ITERA_OK;
  itera::parallel_for(T, row_grain(C), [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t)
      std::memcpy(out + t * ldo, table + int64_t(ids[t]) * ldt, size_t(C) * sizeof(float));
  });
  return ITERA_OK;
}

int itera_embedding_backward(int64_t T, int64_t C, int64_t V, const int32_t* ids,
                             const float* dout, int64_t ldo, float* dtable, int64_t ldt) {
  if (!itera_ids_valid(T, V, ids)) return ITERA_ERR_INDEX_OUT_OF_RANGE;
  const Kernels& k = kernels();
  // Repeated ids hit the same dtable row: threads own column ranges and each walks every token,
  // so every dtable element has one writer and tokens are summed in order.
  parallel_columns(T, C, [&](int64_t c0, int64_t c1) {
    for (int64_t t = 0; t < T; ++t) {
      float* row = dtable + int64_t(ids[t]) * ldt + c0;
      k.add(c1 - c0, row, dout + t * ldo + c0, row);
    }
  });
  return ITERA_OK;
}

// ------------------------------------------------------------------ normalisation

void itera_rmsnorm_forward(int64_t R, int64_t C, const float* x, int64_t ldx, const float* w,
                           float eps, float* y, int64_t ldy, float* rstd) {
  const Kernels& k = kernels();
  const bool stream = stream_output(y, row_span(R, C, ldy), {{x, row_span(R, C, ldx)}, {w, C}});
  itera::parallel_for(R, row_grain(C), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r)
      k.rmsnorm_fwd_row(C, x + r * ldx, w, eps, y + r * ldy, rstd + r, stream);
  });
}

void itera_rmsnorm_backward(int64_t R, int64_t C, const float* dy, int64_t lddy, const float* x,
                            int64_t ldx, const float* w, const float* rstd, float* dx,
                            int64_t lddx, float* dw) {
  const Kernels& k = kernels();
  itera::parallel_for(R, row_grain(C), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r)
      k.rmsnorm_bwd_row(C, dy + r * lddy, x + r * ldx, w, rstd[r], dx + r * lddx);
  });
  parallel_columns(R, C, [&](int64_t c0, int64_t c1) {
    k.rmsnorm_dw_cols(R, c0, c1, dy, lddy, x, ldx, rstd, dw);
  });
}

void itera_layernorm_forward(int64_t R, int64_t C, const float* x, int64_t ldx, const float* w,
                             const float* b, float eps, float* y, int64_t ldy, float* mean,
                             float* rstd) {
  const Kernels& k = kernels();
  const bool stream = stream_output(y, row_span(R, C, ldy), {{x, row_span(R, C, ldx)}, {w, C}, {b, C}});
  itera::parallel_for(R, row_grain(C), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r)
      k.layernorm_fwd_row(C, x + r * ldx, w, b, eps, y + r * ldy, mean + r, rstd + r, stream);
  });
}

void itera_layernorm_backward(int64_t R, int64_t C, const float* dy, int64_t lddy,
                              const float* x, int64_t ldx, const float* w, const float* mean,
                              const float* rstd, float* dx, int64_t lddx, float* dw, float* db) {
  const Kernels& k = kernels();
  itera::parallel_for(R, row_grain(C), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r)
      k.layernorm_bwd_row(C, dy + r * lddy, x + r * ldx, w, mean[r], rstd[r], dx + r * lddx);
  });
  parallel_columns(R, C, [&](int64_t c0, int64_t c1) {
    k.layernorm_dwdb_cols(R, c0, c1, dy, lddy, x, ldx, mean, rstd, dw, db);
  });
}

// ------------------------------------------------------------------ softmax

void itera_softmax_forward(int64_t R, int64_t C, const float* x, int64_t ldx, float* y,
                           int64_t ldy) {
  const Kernels& k = kernels();
  itera::parallel_for(R, row_grain(C) / 4 + 1, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) k.softmax_fwd_row(C, x + r * ldx, y + r * ldy);
  });
}

void itera_softmax_backward(int64_t R, int64_t C, const float* y, int64_t ldy, const float* dy,
                            int64_t lddy, float* dx, int64_t lddx) {
  const Kernels& k = kernels();
  itera::parallel_for(R, row_grain(C), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) k.softmax_bwd_row(C, y + r * ldy, dy + r * lddy, dx + r * lddx);
  });
}

// ------------------------------------------------------------------ cross-entropy

int itera_cross_entropy(int64_t R, int64_t V, const float* logits, int64_t ldl,
                        const int32_t* targets, int32_t ignore_index, float scale, float* losses,
                        float* dlogits, int64_t lddl) {
  if (!itera_targets_valid(R, V, targets, ignore_index)) return ITERA_ERR_INDEX_OUT_OF_RANGE;
  const Kernels& k = kernels();
  itera::parallel_for(R, row_grain(V) / 4 + 1, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      float* dl = dlogits ? dlogits + r * lddl : nullptr;
      if (targets[r] == ignore_index) {
        losses[r] = 0.0f;
        if (dl) k.fill(V, 0.0f, dl);
      } else {
        losses[r] = k.xent_row(V, logits + r * ldl, targets[r], scale, dl);
      }
    }
  });
  return ITERA_OK;
}

// ------------------------------------------------------------------ activations

void itera_silu_forward(int64_t n, const float* x, float* y) {
  const Kernels& k = kernels();
  const bool stream = stream_output(y, n, {{x, n}});
  parallel_elements(n, kTranscGrain, [&](int64_t i0, int64_t i1) { k.silu_fwd(i1 - i0, x + i0, y + i0, stream); });
}
void itera_silu_backward(int64_t n, const float* x, const float* dy, float* dx) {
  const Kernels& k = kernels();
  parallel_elements(n, kTranscGrain, [&](int64_t i0, int64_t i1) { k.silu_bwd(i1 - i0, x + i0, dy + i0, dx + i0); });
}
void itera_gelu_forward(int64_t n, const float* x, float* y) {
  const Kernels& k = kernels();
  const bool stream = stream_output(y, n, {{x, n}});
  parallel_elements(n, kTranscGrain, [&](int64_t i0, int64_t i1) { k.gelu_fwd(i1 - i0, x + i0, y + i0, stream); });
}
void itera_gelu_backward(int64_t n, const float* x, const float* dy, float* dx) {
  const Kernels& k = kernels();
  parallel_elements(n, kTranscGrain, [&](int64_t i0, int64_t i1) { k.gelu_bwd(i1 - i0, x + i0, dy + i0, dx + i0); });
}
void itera_softplus_forward(int64_t n, const float* x, float* y) {
  const Kernels& k = kernels();
  const bool stream = stream_output(y, n, {{x, n}});
  parallel_elements(n, kTranscGrain, [&](int64_t i0, int64_t i1) { k.softplus_fwd(i1 - i0, x + i0, y + i0, stream); });
}
void itera_softplus_backward(int64_t n, const float* x, const float* dy, float* dx) {
  const Kernels& k = kernels();
  parallel_elements(n, kTranscGrain, [&](int64_t i0, int64_t i1) { k.softplus_bwd(i1 - i0, x + i0, dy + i0, dx + i0); });
}

// ------------------------------------------------------------------ elementwise

void itera_add(int64_t n, const float* a, const float* b, float* out) {
  const Kernels& k = kernels();
  const bool stream = stream_output(out, n, {{a, n}, {b, n}});
  const auto add = stream ? k.add_stream : k.add;
  parallel_elements(n, kElemGrain, [&](int64_t i0, int64_t i1) { add(i1 - i0, a + i0, b + i0, out + i0); });
}

void itera_axpy(int64_t n, float alpha, const float* x, float* y) {
  const Kernels& k = kernels();
  parallel_elements(n, kElemGrain, [&](int64_t i0, int64_t i1) { k.axpy(i1 - i0, alpha, x + i0, y + i0); });
}

void itera_scale(int64_t n, float alpha, float* x) {
  const Kernels& k = kernels();
  parallel_elements(n, kElemGrain, [&](int64_t i0, int64_t i1) { k.scale(i1 - i0, alpha, x + i0); });
}

double itera_sum_squares(int64_t n, const float* x) {
  if (n <= 0) return 0.0;
  const Kernels& k = kernels();
  // A fixed number of parts, summed in order afterwards: the result depends only on n and the
  // thread count, never on timing.
  constexpr int kMaxParts = 64;
  const int64_t lines = (n + kLine - 1) / kLine;
  const int64_t by_size = (lines * kLine + kElemGrain - 1) / kElemGrain;
  const int parts = int(std::max<int64_t>(1, std::min<int64_t>({by_size, itera::num_threads(), kMaxParts})));
  double partial[kMaxParts] = {};
  itera::parallel_for(parts, 1, [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      const int64_t i0 = std::min(n, lines * p / parts * kLine);
      const int64_t i1 = std::min(n, lines * (p + 1) / parts * kLine);
      partial[p] = k.sum_squares(i1 - i0, x + i0);
    }
  });
  double s = 0.0;
  for (int p = 0; p < parts; ++p) s += partial[p];
  return s;
}

// ------------------------------------------------------------------ optimiser

void itera_adamw(int64_t n, float* param, const float* grad, float* m, float* v, float lr,
                 float beta1, float beta2, float eps, float weight_decay, float grad_scale,
                 int64_t step) {
  itera::AdamwConsts c;
  c.lr = lr;
  c.beta1 = beta1;
  c.beta2 = beta2;
  c.one_minus_beta1 = 1.0f - beta1;
  c.one_minus_beta2 = 1.0f - beta2;
  c.eps = eps;
  c.weight_decay = weight_decay;
  c.grad_scale = grad_scale;
  c.bc1 = float(1.0 - std::pow(double(beta1), double(step)));
  c.bc2 = float(1.0 - std::pow(double(beta2), double(step)));
  const Kernels& k = kernels();
  parallel_elements(n, kElemGrain / 2, [&](int64_t i0, int64_t i1) {
    k.adamw(i1 - i0, param + i0, grad + i0, m + i0, v + i0, c);
  });
}

}  // extern "C"
