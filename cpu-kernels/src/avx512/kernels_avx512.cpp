// AVX-512 (F/DQ/BW/VL) instantiation of the generic kernels: 16 float lanes, mask registers for
// tails, vscalefps for an exp that is exact at the edges of the float range.
// Compiled with the AVX-512 flags (CMakeLists.txt); only reached when itera_get_isa() says so.
// gcc 12's AVX-512 headers trip its own uninitialised-variable warnings (_mm512_undefined_*
// placeholders inside the reductions); the code is fine, so silence them for this file only.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstdint>

#include <vector>

#include "dispatch.h"
#include "ssm_dispatch.h"

namespace itera {
namespace {

struct V {
  using R = __m512;
  static constexpr int64_t W = 16;

  static __mmask16 mask(int64_t n) { return __mmask16((1u << n) - 1u); }  // 0 < n <= 16
  static R zero() { return _mm512_setzero_ps(); }
  static R set1(float v) { return _mm512_set1_ps(v); }
  static R load(const float* p) { return _mm512_loadu_ps(p); }
  static void store(float* p, R r) { _mm512_storeu_ps(p, r); }
  static void stream(float* p, R r) { _mm512_stream_ps(p, r); }  // p 64-byte aligned
  static void fence() { _mm_sfence(); }
  static R load_part(const float* p, int64_t n) { return _mm512_maskz_loadu_ps(mask(n), p); }
  static R load_part_fill(const float* p, int64_t n, float fill) {
    return _mm512_mask_loadu_ps(_mm512_set1_ps(fill), mask(n), p);
  }
  static void store_part(float* p, R r, int64_t n) { _mm512_mask_storeu_ps(p, mask(n), r); }
  static R add(R a, R b) { return _mm512_add_ps(a, b); }
  static R sub(R a, R b) { return _mm512_sub_ps(a, b); }
  static R mul(R a, R b) { return _mm512_mul_ps(a, b); }
  static R div(R a, R b) { return _mm512_div_ps(a, b); }
  static R fma(R a, R b, R c) { return _mm512_fmadd_ps(a, b, c); }
  static R max(R a, R b) { return _mm512_max_ps(a, b); }
  static R min(R a, R b) { return _mm512_min_ps(a, b); }
  static R abs(R a) { return _mm512_abs_ps(a); }
  static R sqrt(R a) { return _mm512_sqrt_ps(a); }
  static R select_gt(R a, R b, R x, R y) {
    return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(a, b, _CMP_GT_OQ), y, x);
  }
  static float hsum(R a) { return _mm512_reduce_add_ps(a); }
  static float hmax(R a) { return _mm512_reduce_max_ps(a); }
  // Four horizontal sums at once (one transpose-and-add tree instead of four reductions).
  static void hsum4(R a, R b, R c, R d, float* out) {
    // 512 -> 256: add the halves of each, pack a|b and c|d.
    __m256 a8 = _mm256_add_ps(_mm512_castps512_ps256(a), _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(a), 1)));
    __m256 b8 = _mm256_add_ps(_mm512_castps512_ps256(b), _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(b), 1)));
    __m256 c8 = _mm256_add_ps(_mm512_castps512_ps256(c), _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(c), 1)));
    __m256 d8 = _mm256_add_ps(_mm512_castps512_ps256(d), _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(d), 1)));
    __m256 ab = _mm256_hadd_ps(a8, b8);  // a01 a23 b01 b23 | a45 a67 b45 b67
    __m256 cd = _mm256_hadd_ps(c8, d8);
    __m256 abcd = _mm256_hadd_ps(ab, cd);  // a b c d | a b c d (partial)
    __m128 r = _mm_add_ps(_mm256_castps256_ps128(abcd), _mm256_extractf128_ps(abcd, 1));
    _mm_storeu_ps(out, r);
  }

  // e^x: n = round(x log2 e), r = x - n ln2 (two-constant Cody-Waite), degree-6 polynomial
  // (Cephes expf, rel. error ~1e-7), then vscalefps multiplies by 2^n with correct overflow to
  // inf and underflow to 0. max/min keep a NaN input (second operand) NaN.
  static R exp(R x) {
    x = _mm512_max_ps(_mm512_set1_ps(-104.0f), x);
    x = _mm512_min_ps(_mm512_set1_ps(89.0f), x);
    const R n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                     _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    R r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
    R p = _mm512_set1_ps(1.9875691500E-4f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507E-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073E-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894E-2f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459E-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201E-1f));
    p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
    return _mm512_scalef_ps(p, n);
  }

  // sum x^2 with the products accumulated in double (8 lanes per half vector).
  static double sum_squares_d(int64_t n, const float* x) {
    __m512d s0 = _mm512_setzero_pd(), s1 = s0, s2 = s0, s3 = s0;
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
      const __m512d a = _mm512_cvtps_pd(_mm256_loadu_ps(x + i));
      const __m512d b = _mm512_cvtps_pd(_mm256_loadu_ps(x + i + 8));
      const __m512d c = _mm512_cvtps_pd(_mm256_loadu_ps(x + i + 16));
      const __m512d d = _mm512_cvtps_pd(_mm256_loadu_ps(x + i + 24));
      s0 = _mm512_fmadd_pd(a, a, s0);
      s1 = _mm512_fmadd_pd(b, b, s1);
      s2 = _mm512_fmadd_pd(c, c, s2);
      s3 = _mm512_fmadd_pd(d, d, s3);
    }
    for (; i < n; i += 8) {
      const int64_t lanes = n - i < 8 ? n - i : 8;
      const __m512d a = _mm512_cvtps_pd(_mm256_maskz_loadu_ps(__mmask8((1u << lanes) - 1u), x + i));
      s0 = _mm512_fmadd_pd(a, a, s0);
    }
    return _mm512_reduce_add_pd(_mm512_add_pd(_mm512_add_pd(s0, s1), _mm512_add_pd(s2, s3)));
  }
};

#include "simd_kernels.inc"
#include "simd_ssm.inc"

}  // namespace

ITERA_MAKE_KERNEL_TABLE(kAvx512Kernels);
ITERA_MAKE_SSM_TABLE(kAvx512Ssm);

}  // namespace itera
