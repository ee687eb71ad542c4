// Fast mixture-of-experts kernels (itera_moe_*, itera_swiglu_*): the routing, dispatch, gather,
// combine and SwiGLU-gate pieces around the per-expert GEMMs (which go through itera_sgemm).
//
// Everything here is memory-bound or tiny next to the expert GEMMs, so the code is plain C++ whose
// inner loops the compiler vectorises at the baseline ISA, threaded with itera::parallel_for over
// tokens or rows where a call moves enough data to pay for the fork; only the SwiGLU gate's
// sigmoid goes through the run-time-dispatched SIMD SiLU kernels. Each kernel's specification is
// its `_ref` twin in moe_reference.cpp.
#include <algorithm>
#include <cstdint>
#include <cstring>

#include "internal.h"
#include "itera_kernels.h"
#include "parallel.h"

namespace {

// Rows per parallel task so one task moves at least ~32 KiB: below that the fork costs more.
inline int64_t rows_grain(int64_t width) { return std::max<int64_t>(1, 8192 / std::max<int64_t>(1, width)); }

// The SwiGLU gate works in chunks of this many elements: small enough for stack buffers and L1,
// large enough to amortise one call of the SIMD SiLU kernels per chunk.
constexpr int64_t kGateChunk = 1024;

}  // namespace

extern "C" {

int itera_moe_topk(int64_t T, int64_t E, int64_t k, const float* probs, int64_t ldp, int32_t* ids,
                   float* weights) {
  if (k < 1 || k > E) return ITERA_ERR_BAD_ARGUMENT;
  itera::parallel_for(T, rows_grain(E), [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      const float* p = probs + t * ldp;  // E
      int32_t* id = ids + t * k;         // k, kept sorted by (prob desc, index asc)
      float* w = weights + t * k;        // k, holds the selected probs until renormalised
      for (int64_t j = 0; j < k; ++j) id[j] = -1;
      // One pass of insertion into a sorted top-k list. A candidate moves ahead of an entry only
      // when strictly larger, and experts arrive in index order, so ties keep the lower index.
      for (int64_t e = 0; e < E; ++e) {
        const float v = p[e];
        if (id[k - 1] >= 0 && !(v > w[k - 1])) continue;
        int64_t i = k - 1;
        while (i > 0 && (id[i - 1] < 0 || v > w[i - 1])) {
          id[i] = id[i - 1];
          w[i] = w[i - 1];
          --i;
        }
        id[i] = int32_t(e);
        w[i] = v;
      }
      double sum = 0.0;
      for (int64_t j = 0; j < k; ++j) sum += w[j];
      for (int64_t j = 0; j < k; ++j) w[j] = float(double(w[j]) / sum);
    }
  });
  return ITERA_OK;
}

int itera_moe_dispatch(int64_t T, int64_t k, int64_t E, int64_t capacity, const int32_t* ids,
                       int32_t* routed, int32_t* offsets, int32_t* slots, int32_t* perm) {
  // Serial on purpose: O(T*k + E) integer work (a few microseconds for 4096 assignments), well
  // below the cost of splitting a histogram across threads.
  const int64_t A = T * k;
  if (!itera_ids_valid(A, E, ids)) return ITERA_ERR_INDEX_OUT_OF_RANGE;
  // 1. histogram: routed[e] = assignments sent to e.
  for (int64_t e = 0; e < E; ++e) routed[e] = 0;
  for (int64_t a = 0; a < A; ++a) ++routed[ids[a]];
  // 2. exclusive prefix sum of the kept counts min(routed, capacity).
  int64_t row = 0;
  for (int64_t e = 0; e < E; ++e) {
    offsets[e] = int32_t(row);
    row += capacity > 0 ? std::min<int64_t>(routed[e], capacity) : routed[e];
  }
  offsets[E] = int32_t(row);
  for (int64_t r = row; r < A; ++r) perm[r] = -1;
  // 3. stable scatter in assignment (= token) order. routed[] is re-counted from zero as the
  //    per-expert cursor (so no workspace is needed) and ends at the same histogram; an
  //    assignment whose position within its expert reaches the kept count is dropped, so the
  //    overflow slots go in token order.
  for (int64_t e = 0; e < E; ++e) routed[e] = 0;
  for (int64_t a = 0; a < A; ++a) {
    const int32_t e = ids[a];
    const int32_t seen = routed[e]++;
    if (seen < offsets[e + 1] - offsets[e]) {
      const int32_t r = offsets[e] + seen;
      slots[a] = r;
      perm[r] = int32_t(a);
    } else {
      slots[a] = -1;
    }
  }
  return ITERA_OK;
}

void itera_moe_gather(int64_t N, int64_t D, int64_t k, const int32_t* perm, const float* x,
                      int64_t ldx, float* xp, int64_t ldxp) {
  itera::parallel_for(N, rows_grain(D), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r)
      std::memcpy(xp + r * ldxp, x + int64_t(perm[r] / k) * ldx, size_t(D) * sizeof(float));
  });
}

void itera_moe_gather_backward(int64_t T, int64_t D, int64_t k, const int32_t* slots,
                               const float* dxp, int64_t lddxp, float* dx, int64_t lddx) {
  // Token-parallel: each token owns its dx row, so the scatter-add has no write conflicts.
  itera::parallel_for(T, rows_grain(D * k), [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      float* o = dx + t * lddx;  // D
      for (int64_t j = 0; j < k; ++j) {
        const int32_t s = slots[t * k + j];
        if (s < 0) continue;
        const float* g = dxp + int64_t(s) * lddxp;  // D
        for (int64_t d = 0; d < D; ++d) o[d] += g[d];
      }
    }
  });
}

void itera_moe_combine(int64_t T, int64_t D, int64_t k, const int32_t* slots,
                       const float* weights, const float* yp, int64_t ldyp, float* out,
                       int64_t ldo) {
  itera::parallel_for(T, rows_grain(D * k), [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      float* o = out + t * ldo;  // D
      bool written = false;
      for (int64_t j = 0; j < k; ++j) {
        const int32_t s = slots[t * k + j];
        if (s < 0) continue;
        const float w = weights[t * k + j];
        const float* y = yp + int64_t(s) * ldyp;  // D
        if (!written) {
          for (int64_t d = 0; d < D; ++d) o[d] = w * y[d];
          written = true;
        } else {
          for (int64_t d = 0; d < D; ++d) o[d] += w * y[d];
        }
      }
      if (!written) std::memset(o, 0, size_t(D) * sizeof(float));
    }
  });
}

void itera_moe_combine_backward(int64_t T, int64_t N, int64_t D, int64_t k, const int32_t* perm,
                                const int32_t* slots, const float* weights, const float* dout,
                                int64_t lddo, const float* yp, int64_t ldyp, float* dyp,
                                int64_t lddyp, float* dweights) {
  // Data gradient: row-parallel gather (each permuted row written by one task).
  itera::parallel_for(N, rows_grain(D), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t a = perm[r];
      const float w = weights[a];
      const float* g = dout + (a / k) * lddo;  // D
      float* o = dyp + r * lddyp;              // D
      for (int64_t d = 0; d < D; ++d) o[d] += w * g[d];
    }
  });
  // Weight gradient: one dot product per kept assignment. Eight partial sums let the compiler
  // vectorise the reduction without reassociating on its own.
  itera::parallel_for(T * k, rows_grain(D), [&](int64_t a0, int64_t a1) {
    for (int64_t a = a0; a < a1; ++a) {
      const int32_t s = slots[a];
      if (s < 0) continue;
      const float* g = dout + (a / k) * lddo;   // D
      const float* y = yp + int64_t(s) * ldyp;  // D
      float part[8] = {0, 0, 0, 0, 0, 0, 0, 0};
      int64_t d = 0;
      for (; d + 8 <= D; d += 8)
        for (int i = 0; i < 8; ++i) part[i] += g[d + i] * y[d + i];
      double dot = 0.0;
      for (; d < D; ++d) dot += double(g[d]) * y[d];
      for (int i = 0; i < 8; ++i) dot += part[i];
      dweights[a] += float(dot);
    }
  });
}

// The sigmoid is the expensive part, so the gate reuses the run-time-dispatched SIMD SiLU kernels
// (itera_silu_forward / itera_silu_backward, AVX-512 / AVX2 / portable) on L1-sized chunks and
// does the products in plain loops while the chunk is hot. Inside a parallel_for task the nested
// SiLU call runs serially on that thread (parallel.h), so the threads split the chunks.
void itera_swiglu_forward(int64_t n, const float* h1, const float* h3, float* out) {
  const int64_t chunks = (n + kGateChunk - 1) / kGateChunk;
  itera::parallel_for(chunks, 16, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      const int64_t i0 = c * kGateChunk;
      const int64_t len = std::min(kGateChunk, n - i0);
      float* o = out + i0;                // len
      itera_silu_forward(len, h1 + i0, o);  // o = silu(h1)
      const float* g = h3 + i0;           // len
      for (int64_t i = 0; i < len; ++i) o[i] *= g[i];
    }
  });
}

void itera_swiglu_backward(int64_t n, const float* h1, const float* h3, const float* dout,
                           float* dh1, float* dh3) {
  const int64_t chunks = (n + kGateChunk - 1) / kGateChunk;
  itera::parallel_for(chunks, 16, [&](int64_t c0, int64_t c1) {
    float tmp[kGateChunk];  // dout * h3, then silu(h1), for one chunk
    for (int64_t c = c0; c < c1; ++c) {
      const int64_t i0 = c * kGateChunk;
      const int64_t len = std::min(kGateChunk, n - i0);
      const float* g = dout + i0;  // len
      const float* b = h3 + i0;    // len
      // dh1 += silu'(h1) * (dout * h3)
      for (int64_t i = 0; i < len; ++i) tmp[i] = g[i] * b[i];
      itera_silu_backward(len, h1 + i0, tmp, dh1 + i0);
      // dh3 += dout * silu(h1)
      itera_silu_forward(len, h1 + i0, tmp);
      float* d3 = dh3 + i0;  // len
      for (int64_t i = 0; i < len; ++i) d3[i] += g[i] * tmp[i];
    }
  });
}

}  // extern "C"
