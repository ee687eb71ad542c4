// AVX2 instantiation of the quantised-GEMV building blocks (simd_quant.inc): 32-weight blocks as
// one ymm of bytes, u8 x s8 products with vpmaddubsw + vpmaddwd (signed weights through
// ggml's sign trick: |w| . sign(x, w), no int16 saturation for |x| <= 127), F16 through F16C and
// BF16 by a 16-bit shift. Compiled with -mavx2 -mfma -mf16c; only reached when
// itera_get_isa() >= ITERA_ISA_AVX2.
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

struct Q {
  using I = __m256i;
  using F = __m256;

  static __m256i load32(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }
  // int32 sums of u8 u . s8 s over groups of 4 bytes.
  static I dot_us(__m256i u, __m256i s) {
    return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1));
  }
  using W = __m256i;
  static constexpr int kTileM = 2;
  static constexpr int kGemvRows = 4;
  // No specialised Q8_0 / Q4_0 kernels: the generic tiles serve every format.
  static constexpr decltype(quant::QuantKernels::qgemm_packed) qgemm_packed = nullptr;
  static constexpr decltype(quant::QuantKernels::q4_0_gemv_rows) q4_0_gemv_rows = nullptr;
  static constexpr decltype(quant::QuantKernels::qgemm_r16) qgemm_r16 = nullptr;
  static constexpr decltype(quant::QuantKernels::bf16_pack) bf16_pack = nullptr;
  static constexpr decltype(quant::QuantKernels::bf16_gemm) bf16_gemm = nullptr;

  static W w_s8(const uint8_t* p) { return load32(p); }
  // 32 nibbles of 16 bytes in element order (low nibbles, then high): the 16 bytes go to both
  // 128-bit lanes and the upper lane is shifted right by 4 before masking.
  static __m256i nibbles(const uint8_t* qs) {
    const __m256i raw = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(qs)));
    return _mm256_and_si256(_mm256_srlv_epi64(raw, _mm256_setr_epi64x(0, 0, 4, 4)), _mm256_set1_epi8(15));
  }
  static W w_u4(const uint8_t* qs, int bias) {
    return _mm256_sub_epi8(nibbles(qs), _mm256_set1_epi8(char(bias)));
  }
  static W w_nf4(const uint8_t* qs, bool high) {
    const __m256i table = _mm256_broadcastsi128_si256(
        _mm_loadu_si128(reinterpret_cast<const __m128i*>(quant::kNf4CodeI8)));
    const __m256i raw = load32(qs);
    const __m256i idx = high ? _mm256_srli_epi16(raw, 4) : raw;
    return _mm256_shuffle_epi8(table, _mm256_and_si256(idx, _mm256_set1_epi8(15)));
  }
  using A = __m256i;
  using S = __m256;
  static A act(const quant::QAct& x, int64_t b) { return load32(x.q + b * 32); }
  static S splat(float v) { return _mm256_set1_ps(v); }
  static S mul(S a, S b) { return _mm256_mul_ps(a, b); }
  // |w| . sign(x, w): u8 x s8 products without int16 overflow for |x| <= 127.
  static I dot(W w, A x) { return dot_us(_mm256_sign_epi8(w, w), _mm256_sign_epi8(x, w)); }
  static float h2f(const uint8_t* p) { return _cvtsh_ss(quant::load_u16(p)); }
  static F fzero() { return _mm256_setzero_ps(); }
  static F cvt(I v) { return _mm256_cvtepi32_ps(v); }
  static F fma(F a, S s, F acc) { return _mm256_fmadd_ps(a, s, acc); }
  static float hsum(F a) { return hsum8(a); }

  template <typename Conv>
  static float fdot(int64_t K, const uint8_t* w, const float* x, Conv conv) {
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    int64_t i = 0;
    for (; i + 32 <= K; i += 32) {
      a0 = _mm256_fmadd_ps(conv(w + 2 * i), _mm256_loadu_ps(x + i), a0);
      a1 = _mm256_fmadd_ps(conv(w + 2 * i + 16), _mm256_loadu_ps(x + i + 8), a1);
      a2 = _mm256_fmadd_ps(conv(w + 2 * i + 32), _mm256_loadu_ps(x + i + 16), a2);
      a3 = _mm256_fmadd_ps(conv(w + 2 * i + 48), _mm256_loadu_ps(x + i + 24), a3);
    }
    for (; i + 8 <= K; i += 8) a0 = _mm256_fmadd_ps(conv(w + 2 * i), _mm256_loadu_ps(x + i), a0);
    float s = hsum8(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
    return s;  // tail added by the callers
  }
  static __m128i load8h(const uint8_t* p) { return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p)); }
  static float fdot_f16(int64_t K, const uint8_t* w, const float* x) {
    float s = fdot(K, w, x, [](const uint8_t* p) { return _mm256_cvtph_ps(load8h(p)); });
    for (int64_t i = K & ~int64_t(7); i < K; ++i) s += quant::fp16_to_f32(quant::load_u16(w + 2 * i)) * x[i];
    return s;
  }
  static float fdot_bf16(int64_t K, const uint8_t* w, const float* x) {
    float s = fdot(K, w, x, [](const uint8_t* p) {
      return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(load8h(p)), 16));
    });
    for (int64_t i = K & ~int64_t(7); i < K; ++i) s += quant::bf16_to_f32(quant::load_u16(w + 2 * i)) * x[i];
    return s;
  }

  static void half_to_f32(int64_t n, const uint8_t* src, bool bf16, float* dst) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
      const __m128i h = load8h(src + 2 * i);
      _mm256_storeu_ps(dst + i, bf16 ? _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16))
                                     : _mm256_cvtph_ps(h));
    }
    for (; i < n; ++i) {
      const uint16_t h = quant::load_u16(src + 2 * i);
      dst[i] = bf16 ? quant::bf16_to_f32(h) : quant::fp16_to_f32(h);
    }
  }
  static void quantize_block(const float* x, int8_t* q, float* d, int32_t*) {
    const __m256 sign = _mm256_set1_ps(-0.0f);
    __m256 v0 = _mm256_loadu_ps(x), v1 = _mm256_loadu_ps(x + 8);
    __m256 v2 = _mm256_loadu_ps(x + 16), v3 = _mm256_loadu_ps(x + 24);
    __m256 m = _mm256_max_ps(_mm256_max_ps(_mm256_andnot_ps(sign, v0), _mm256_andnot_ps(sign, v1)),
                             _mm256_max_ps(_mm256_andnot_ps(sign, v2), _mm256_andnot_ps(sign, v3)));
    __m128 h = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
    h = _mm_max_ps(h, _mm_movehl_ps(h, h));
    h = _mm_max_ss(h, _mm_movehdup_ps(h));
    const float amax = _mm_cvtss_f32(h);
    const float dd = amax / 127.0f;
    const __m256 id = _mm256_set1_ps(dd != 0.0f ? 127.0f / amax : 0.0f);
    const __m256i i0 = _mm256_cvtps_epi32(_mm256_mul_ps(v0, id));
    const __m256i i1 = _mm256_cvtps_epi32(_mm256_mul_ps(v1, id));
    const __m256i i2 = _mm256_cvtps_epi32(_mm256_mul_ps(v2, id));
    const __m256i i3 = _mm256_cvtps_epi32(_mm256_mul_ps(v3, id));
    // packs work per 128-bit lane: restore element order with one cross-lane permute.
    const __m256i p = _mm256_packs_epi16(_mm256_packs_epi32(i0, i1), _mm256_packs_epi32(i2, i3));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(q),
                        _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7)));
    *d = dd;
  }
};

#include "simd_quant.inc"

}  // namespace

namespace quant {
ITERA_MAKE_QUANT_TABLE(kAvx2Quant);
}  // namespace quant

}  // namespace itera
