// One decode step of causal grouped-query attention over a KV cache (itera_attention_step).
// The fast path specialises small head sizes so the per-position dot products and value
// accumulations are fixed-length loops the compiler unrolls and vectorises; the AVX2 clone is
// used when the ISA level allows. The softmax is the dispatched vectorised row kernel.
#include <cmath>
#include <cstdint>
#include <immintrin.h>

#include "dispatch.h"
#include "itera_kernels.h"

using itera::kernels;
using itera::Kernels;

namespace {

// Scores of one head for head sizes that are multiples of 8: eight positions at a time, their
// dot products reduced together by a horizontal-add tree.
__attribute__((target("avx2,fma"))) void scores_avx2(const float* qh, const float* k, int64_t ldkv,
                                                     int64_t T, int64_t hs, float scale, float* a) {
  const __m256 vs = _mm256_set1_ps(scale);
  int64_t t = 0;
  for (; t + 8 <= T; t += 8) {
    __m256 p[8];
    for (int j = 0; j < 8; ++j) {
      const float* kt = k + (t + j) * ldkv;
      __m256 s = _mm256_mul_ps(_mm256_loadu_ps(qh), _mm256_loadu_ps(kt));
      for (int64_t c = 8; c < hs; c += 8) s = _mm256_add_ps(s, _mm256_mul_ps(_mm256_loadu_ps(qh + c), _mm256_loadu_ps(kt + c)));
      p[j] = s;
    }
    const __m256 h01 = _mm256_hadd_ps(p[0], p[1]);
    const __m256 h23 = _mm256_hadd_ps(p[2], p[3]);
    const __m256 h45 = _mm256_hadd_ps(p[4], p[5]);
    const __m256 h67 = _mm256_hadd_ps(p[6], p[7]);
    const __m256 h0123 = _mm256_hadd_ps(h01, h23);
    const __m256 h4567 = _mm256_hadd_ps(h45, h67);
    const __m256 lo = _mm256_permute2f128_ps(h0123, h4567, 0x20);
    const __m256 hi = _mm256_permute2f128_ps(h0123, h4567, 0x31);
    _mm256_storeu_ps(a + t, _mm256_mul_ps(_mm256_add_ps(lo, hi), vs));
  }
  for (; t < T; ++t) {
    const float* kt = k + t * ldkv;
    float s = 0.0f;
    for (int64_t i = 0; i < hs; ++i) s += qh[i] * kt[i];
    a[t] = s * scale;
  }
}

template <int HS>
__attribute__((always_inline)) inline void attention_heads(int64_t n_heads, int64_t kv_mul, int64_t hs_rt,
                                                           int64_t T, const float* q, const float* k,
                                                           const float* v, int64_t ldkv, float scale,
                                                           float* att, int64_t ldatt, float* out,
                                                           void (*softmax_row)(int64_t, const float*, float*), bool avx2_scores) {
  const int64_t hs = HS > 0 ? HS : hs_rt;
  for (int64_t h = 0; h < n_heads; ++h) {
    const float* qh = q + h * hs;
    const int64_t off = (h / kv_mul) * hs;
    float* a = att + h * ldatt;
    if (avx2_scores && hs % 8 == 0) {
      scores_avx2(qh, k + off, ldkv, T, hs, scale, a);
    } else {
      for (int64_t t = 0; t < T; ++t) {
        const float* kt = k + t * ldkv + off;
        float s = 0.0f;
        for (int64_t i = 0; i < hs; ++i) s += qh[i] * kt[i];
        a[t] = s * scale;
      }
    }
    softmax_row(T, a, a);
    float acc[HS > 0 ? HS : 1];
    float* oh = out + h * hs;
    if (HS > 0) {
      // Four independent accumulators break the add latency chain across positions.
      float acc1[HS > 0 ? HS : 1], acc2[HS > 0 ? HS : 1], acc3[HS > 0 ? HS : 1];
      for (int64_t i = 0; i < hs; ++i) acc[i] = acc1[i] = acc2[i] = acc3[i] = 0.0f;
      int64_t t = 0;
      for (; t + 4 <= T; t += 4) {
        const float* v0 = v + t * ldkv + off;
        const float* v1 = v0 + ldkv;
        const float* v2 = v1 + ldkv;
        const float* v3 = v2 + ldkv;
        const float w0 = a[t], w1 = a[t + 1], w2 = a[t + 2], w3 = a[t + 3];
        for (int64_t i = 0; i < hs; ++i) {
          acc[i] += w0 * v0[i];
          acc1[i] += w1 * v1[i];
          acc2[i] += w2 * v2[i];
          acc3[i] += w3 * v3[i];
        }
      }
      for (; t < T; ++t) {
        const float* vt = v + t * ldkv + off;
        const float w = a[t];
        for (int64_t i = 0; i < hs; ++i) acc[i] += w * vt[i];
      }
      for (int64_t i = 0; i < hs; ++i) oh[i] = (acc[i] + acc1[i]) + (acc2[i] + acc3[i]);
    } else {
      for (int64_t i = 0; i < hs; ++i) oh[i] = 0.0f;
      for (int64_t t = 0; t < T; ++t) {
        const float* vt = v + t * ldkv + off;
        const float w = a[t];
        for (int64_t i = 0; i < hs; ++i) oh[i] += w * vt[i];
      }
    }
  }
}

#define ITERA_ATTN_BODY                                                                           \
  switch (hs) {                                                                                   \
    case 8: attention_heads<8>(n_heads, kv_mul, hs, T, q, k, v, ldkv, scale, att, ldatt, out, sm, ITERA_AVX2_SCORES); break;   \
    case 16: attention_heads<16>(n_heads, kv_mul, hs, T, q, k, v, ldkv, scale, att, ldatt, out, sm, ITERA_AVX2_SCORES); break; \
    case 32: attention_heads<32>(n_heads, kv_mul, hs, T, q, k, v, ldkv, scale, att, ldatt, out, sm, ITERA_AVX2_SCORES); break; \
    case 64: attention_heads<64>(n_heads, kv_mul, hs, T, q, k, v, ldkv, scale, att, ldatt, out, sm, ITERA_AVX2_SCORES); break; \
    default: attention_heads<0>(n_heads, kv_mul, hs, T, q, k, v, ldkv, scale, att, ldatt, out, sm, ITERA_AVX2_SCORES); break;  \
  }

__attribute__((target("avx2,fma"))) void attention_avx2(int64_t n_heads, int64_t kv_mul, int64_t hs, int64_t T,
                                                        const float* q, const float* k, const float* v,
                                                        int64_t ldkv, float scale, float* att, int64_t ldatt,
                                                        float* out, void (*sm)(int64_t, const float*, float*)) {
#define ITERA_AVX2_SCORES true
  ITERA_ATTN_BODY
#undef ITERA_AVX2_SCORES
}

void attention_portable(int64_t n_heads, int64_t kv_mul, int64_t hs, int64_t T, const float* q,
                        const float* k, const float* v, int64_t ldkv, float scale, float* att,
                        int64_t ldatt, float* out, void (*sm)(int64_t, const float*, float*)) {
#define ITERA_AVX2_SCORES false
  ITERA_ATTN_BODY
#undef ITERA_AVX2_SCORES
}

}  // namespace

void itera_attention_step(int64_t n_heads, int64_t n_kv_heads, int64_t head_size, int64_t T,
                          const float* q, const float* k, const float* v, int64_t ldkv,
                          float scale, float* att, int64_t ldatt, float* out) {
  if (n_heads <= 0 || n_kv_heads <= 0 || head_size <= 0 || T <= 0) return;
  const int64_t kv_mul = n_heads / n_kv_heads;
  const Kernels& kern = kernels();
  if (itera_get_isa() >= ITERA_ISA_AVX2) {
    attention_avx2(n_heads, kv_mul, head_size, T, q, k, v, ldkv, scale, att, ldatt, out, kern.softmax_fwd_row);
  } else {
    attention_portable(n_heads, kv_mul, head_size, T, q, k, v, ldkv, scale, att, ldatt, out, kern.softmax_fwd_row);
  }
}

// The specification: plain loops, double accumulation, std::exp.
void itera_attention_step_ref(int64_t n_heads, int64_t n_kv_heads, int64_t head_size, int64_t T,
                              const float* q, const float* k, const float* v, int64_t ldkv,
                              float scale, float* att, int64_t ldatt, float* out) {
  if (n_heads <= 0 || n_kv_heads <= 0 || head_size <= 0 || T <= 0) return;
  const int64_t kv_mul = n_heads / n_kv_heads;
  for (int64_t h = 0; h < n_heads; ++h) {
    const int64_t off = (h / kv_mul) * head_size;
    float* a = att + h * ldatt;
    double mx = -INFINITY;
    for (int64_t t = 0; t < T; ++t) {
      double s = 0.0;
      for (int64_t i = 0; i < head_size; ++i) s += (double)q[h * head_size + i] * k[t * ldkv + off + i];
      a[t] = (float)(s * scale);
      if (a[t] > mx) mx = a[t];
    }
    double sum = 0.0;
    for (int64_t t = 0; t < T; ++t) sum += std::exp((double)a[t] - mx);
    for (int64_t t = 0; t < T; ++t) a[t] = (float)(std::exp((double)a[t] - mx) / sum);
    for (int64_t i = 0; i < head_size; ++i) {
      double o = 0.0;
      for (int64_t t = 0; t < T; ++t) o += (double)a[t] * v[t * ldkv + off + i];
      out[h * head_size + i] = (float)o;
    }
  }
}
