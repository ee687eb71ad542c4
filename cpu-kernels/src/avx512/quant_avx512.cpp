// AVX-512 instantiation of the quantised-GEMV building blocks (simd_quant.inc): integer block dots
// with AVX512-VNNI's vpdpbusd (u8 x s8, four products summed into int32 without the int16
// saturation of vpmaddubsw; signed weights through the sign trick |w| . sign(x, w)), F16 through
// 512-bit vcvtph2ps and BF16 by a 16-bit shift into fp32 (vdpbf16ps would round the activations
// to bf16 as well; the shift keeps them fp32 and costs the same on a memory-bound GEMV).
// Compiled with the AVX-512 flags; quant.cpp only selects it when VNNI is present.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "quant_internal.h"

namespace itera {
namespace {

inline float hsum8(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// kNf4CodeI8 + 128: the code book already biased for vpdpbusd.
alignas(16) const uint8_t kNf4CodeU8[16] = {1, 40, 61, 78, 92, 105, 116, 128, 138, 148, 159, 171, 184, 199, 220, 255};

struct Q {
  using I = __m256i;
  using F = __m256;

  static __m256i load32(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }
  static I dot_us(__m256i u, __m256i s) { return _mm256_dpbusd_epi32(_mm256_setzero_si256(), u, s); }
  using W = __m256i;
  static constexpr int kTileM = 4;
  static constexpr int kGemvRows = 8;  // 6-8% faster GEMV than 4 rows here (32 registers)

  static W w_s8(const uint8_t* p) { return _mm256_xor_si256(load32(p), _mm256_set1_epi8(char(0x80))); }
  // 32 nibbles of 16 bytes in element order (low nibbles, then high): the 16 bytes go to both
  // 128-bit lanes and the upper lane is shifted right by 4 before masking.
  static __m256i nibbles(const uint8_t* qs) {
    const __m256i raw = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(qs)));
    return _mm256_and_si256(_mm256_srlv_epi64(raw, _mm256_setr_epi64x(0, 0, 4, 4)), _mm256_set1_epi8(15));
  }
  // Weights come out biased by +128 (unsigned) for vpdpbusd: see A.
  static W w_u4(const uint8_t* qs, int bias) {
    return _mm256_add_epi8(nibbles(qs), _mm256_set1_epi8(char(128 - bias)));
  }
  static W w_nf4(const uint8_t* qs, bool high) {
    const __m256i table = _mm256_broadcastsi128_si256(
        _mm_loadu_si128(reinterpret_cast<const __m128i*>(kNf4CodeU8)));
    const __m256i raw = load32(qs);
    const __m256i idx = high ? _mm256_srli_epi16(raw, 4) : raw;
    return _mm256_shuffle_epi8(table, _mm256_and_si256(idx, _mm256_set1_epi8(15)));
  }
  // vpdpbusd multiplies unsigned by signed bytes: the weights are biased to u = w + 128 (folded
  // into each w_* loader) and the bias is removed by starting each dot at -128 * (x summed per
  // 4-byte lane), computed once per activation block: every (weight, activation) pair then
  // costs a single vpdpbusd, with an exact int32 result.
  struct A {
    __m256i x;
    __m256i init;  // -128 * sum of each 4 consecutive x (QAct::aux, made by quantize_block)
  };
  using S = __m256;
  static A act(const quant::QAct& x, int64_t b) {
    return A{load32(x.q + b * 32), load32(x.aux + b * 8)};
  }
  static S splat(float v) { return _mm256_set1_ps(v); }
  static S mul(S a, S b) { return _mm256_mul_ps(a, b); }
  static I dot(W u, const A& a) { return _mm256_dpbusd_epi32(a.init, u, a.x); }
  static float h2f(const uint8_t* p) { return _cvtsh_ss(quant::load_u16(p)); }
  static F fzero() { return _mm256_setzero_ps(); }
  static F cvt(I v) { return _mm256_cvtepi32_ps(v); }
  static F fma(F a, S s, F acc) { return _mm256_fmadd_ps(a, s, acc); }
  static float hsum(F a) { return hsum8(a); }

  template <typename Conv>
  static float fdot(int64_t K, const uint8_t* w, const float* x, Conv conv) {
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    int64_t i = 0;
    for (; i + 64 <= K; i += 64) {
      a0 = _mm512_fmadd_ps(conv(w + 2 * i), _mm512_loadu_ps(x + i), a0);
      a1 = _mm512_fmadd_ps(conv(w + 2 * i + 32), _mm512_loadu_ps(x + i + 16), a1);
      a2 = _mm512_fmadd_ps(conv(w + 2 * i + 64), _mm512_loadu_ps(x + i + 32), a2);
      a3 = _mm512_fmadd_ps(conv(w + 2 * i + 96), _mm512_loadu_ps(x + i + 48), a3);
    }
    for (; i + 16 <= K; i += 16) a0 = _mm512_fmadd_ps(conv(w + 2 * i), _mm512_loadu_ps(x + i), a0);
    return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)));
  }
  static __m256i load16h(const uint8_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }
  static float fdot_f16(int64_t K, const uint8_t* w, const float* x) {
    float s = fdot(K, w, x, [](const uint8_t* p) { return _mm512_cvtph_ps(load16h(p)); });
    for (int64_t i = K & ~int64_t(15); i < K; ++i) s += quant::fp16_to_f32(quant::load_u16(w + 2 * i)) * x[i];
    return s;
  }
  static float fdot_bf16(int64_t K, const uint8_t* w, const float* x) {
    float s = fdot(K, w, x, [](const uint8_t* p) {
      return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(load16h(p)), 16));
    });
    for (int64_t i = K & ~int64_t(15); i < K; ++i) s += quant::bf16_to_f32(quant::load_u16(w + 2 * i)) * x[i];
    return s;
  }

  static void half_to_f32(int64_t n, const uint8_t* src, bool bf16, float* dst) {
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
      const __m256i h = load16h(src + 2 * i);
      _mm512_storeu_ps(dst + i, bf16 ? _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16))
                                     : _mm512_cvtph_ps(h));
    }
    for (; i < n; ++i) {
      const uint16_t h = quant::load_u16(src + 2 * i);
      dst[i] = bf16 ? quant::bf16_to_f32(h) : quant::fp16_to_f32(h);
    }
  }
  static void quantize_block(const float* x, int8_t* q, float* d, int32_t* aux) {
    const __m512 v0 = _mm512_loadu_ps(x), v1 = _mm512_loadu_ps(x + 16);
    const float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(v0), _mm512_abs_ps(v1)));
    const float dd = amax / 127.0f;
    const __m512 id = _mm512_set1_ps(dd != 0.0f ? 127.0f / amax : 0.0f);
    const __m512i i0 = _mm512_cvtps_epi32(_mm512_mul_ps(v0, id));
    const __m512i i1 = _mm512_cvtps_epi32(_mm512_mul_ps(v1, id));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(q), _mm512_cvtsepi32_epi8(i0));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(q + 16), _mm512_cvtsepi32_epi8(i1));
    *d = dd;
    const __m256i sums = _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_set1_epi8(1), load32(q));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(aux),
                        _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(sums, 7)));
  }
};

#include "simd_quant.inc"

}  // namespace

namespace quant {
ITERA_MAKE_QUANT_TABLE(kAvx512Quant);
}  // namespace quant

}  // namespace itera
