// Reference mixture-of-experts kernels (`itera_moe_*_ref`, `itera_swiglu_*_ref`): plain scalar,
// single-threaded loops that are the specification of the fast versions in moe.cpp. They are
// written the obvious way on purpose (dispatch scans the assignments once per expert instead of
// histogramming) so that the fast path is checked against an independent formulation.
#include <cmath>
#include <cstdint>

#include "internal.h"
#include "itera_kernels.h"

namespace {

double sigmoid_d(double x) { return 1.0 / (1.0 + std::exp(-x)); }

}  // namespace

extern "C" {

int itera_moe_topk_ref(int64_t T, int64_t E, int64_t k, const float* probs, int64_t ldp,
                       int32_t* ids, float* weights) {
  if (k < 1 || k > E) return ITERA_ERR_BAD_ARGUMENT;
  for (int64_t t = 0; t < T; ++t) {
    const float* p = probs + t * ldp;  // E
    double sum = 0.0;
    for (int64_t j = 0; j < k; ++j) {
      // The j-th pick: the largest probability not picked yet; a strict '>' keeps the lower index
      // on ties. "Not picked yet" is checked against the earlier picks of this token.
      int64_t best = -1;
      for (int64_t e = 0; e < E; ++e) {
        bool taken = false;
        for (int64_t i = 0; i < j; ++i) taken = taken || ids[t * k + i] == e;
        if (taken) continue;
        if (best < 0 || p[e] > p[best]) best = e;
      }
      ids[t * k + j] = int32_t(best);
      sum += p[best];
    }
    for (int64_t j = 0; j < k; ++j) weights[t * k + j] = float(double(p[ids[t * k + j]]) / sum);
  }
  return ITERA_OK;
}

int itera_moe_dispatch_ref(int64_t T, int64_t k, int64_t E, int64_t capacity, const int32_t* ids,
                           int32_t* routed, int32_t* offsets, int32_t* slots, int32_t* perm) {
  const int64_t A = T * k;
  if (!itera_ids_valid(A, E, ids)) return ITERA_ERR_INDEX_OUT_OF_RANGE;
  for (int64_t a = 0; a < A; ++a) {
    slots[a] = -1;
    perm[a] = -1;
  }
  // Expert by expert, walk the assignments in token order; the first `capacity` are kept.
  int64_t row = 0;
  for (int64_t e = 0; e < E; ++e) {
    offsets[e] = int32_t(row);
    int64_t seen = 0;
    for (int64_t a = 0; a < A; ++a) {
      if (ids[a] != e) continue;
      if (capacity <= 0 || seen < capacity) {
        slots[a] = int32_t(row);
        perm[row] = int32_t(a);
        ++row;
      }
      ++seen;
    }
    routed[e] = int32_t(seen);
  }
  offsets[E] = int32_t(row);
  return ITERA_OK;
}

void itera_moe_gather_ref(int64_t N, int64_t D, int64_t k, const int32_t* perm, const float* x,
                          int64_t ldx, float* xp, int64_t ldxp) {
  for (int64_t r = 0; r < N; ++r) {
    const int64_t t = perm[r] / k;
    for (int64_t d = 0; d < D; ++d) xp[r * ldxp + d] = x[t * ldx + d];
  }
}

void itera_moe_gather_backward_ref(int64_t T, int64_t D, int64_t k, const int32_t* slots,
                                   const float* dxp, int64_t lddxp, float* dx, int64_t lddx) {
  for (int64_t t = 0; t < T; ++t)
    for (int64_t d = 0; d < D; ++d) {
      double acc = 0.0;
      for (int64_t j = 0; j < k; ++j) {
        const int32_t s = slots[t * k + j];
        if (s >= 0) acc += dxp[int64_t(s) * lddxp + d];
      }
      dx[t * lddx + d] += float(acc);
    }
}

void itera_moe_combine_ref(int64_t T, int64_t D, int64_t k, const int32_t* slots,
                           const float* weights, const float* yp, int64_t ldyp, float* out,
                           int64_t ldo) {
  for (int64_t t = 0; t < T; ++t)
    for (int64_t d = 0; d < D; ++d) {
      double acc = 0.0;
      for (int64_t j = 0; j < k; ++j) {
        const int32_t s = slots[t * k + j];
        if (s >= 0) acc += double(weights[t * k + j]) * yp[int64_t(s) * ldyp + d];
      }
      out[t * ldo + d] = float(acc);
    }
}

void itera_moe_combine_backward_ref(int64_t T, int64_t N, int64_t D, int64_t k,
                                    const int32_t* perm, const int32_t* slots,
                                    const float* weights, const float* dout, int64_t lddo,
                                    const float* yp, int64_t ldyp, float* dyp, int64_t lddyp,
                                    float* dweights) {
  for (int64_t r = 0; r < N; ++r) {
    const int64_t a = perm[r];
    const int64_t t = a / k;
    for (int64_t d = 0; d < D; ++d)
      dyp[r * lddyp + d] += float(double(weights[a]) * dout[t * lddo + d]);
  }
  for (int64_t a = 0; a < T * k; ++a) {
    const int32_t s = slots[a];
    if (s < 0) continue;
    const int64_t t = a / k;
    double dot = 0.0;
    for (int64_t d = 0; d < D; ++d) dot += double(dout[t * lddo + d]) * yp[int64_t(s) * ldyp + d];
    dweights[a] += float(dot);
  }
}

void itera_swiglu_forward_ref(int64_t n, const float* h1, const float* h3, float* out) {
  for (int64_t i = 0; i < n; ++i) {
    const double x = h1[i];
    out[i] = float(x * sigmoid_d(x) * h3[i]);
  }
}

void itera_swiglu_backward_ref(int64_t n, const float* h1, const float* h3, const float* dout,
                               float* dh1, float* dh3) {
  for (int64_t i = 0; i < n; ++i) {
    const double x = h1[i];
    const double s = sigmoid_d(x);
    dh1[i] += float(double(dout[i]) * h3[i] * s * (1.0 + x * (1.0 - s)));
    dh3[i] += float(double(dout[i]) * x * s);
  }
}

}  // extern "C"
