// AVX2 + FMA instantiation of the generic kernels: 8 float lanes, vmaskmovps for tails.
// Compiled with -mavx2 -mfma -mf16c (CMakeLists.txt); only reached when itera_get_isa() says so.
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstdint>

#include <vector>

#include "dispatch.h"
#include "ssm_dispatch.h"

namespace itera {
namespace {

// 8 all-ones then 8 zeros: loading 8 ints at offset 8 - n gives a mask of the first n lanes.
alignas(64) const int32_t kMaskWindow[16] = {-1, -1, -1, -1, -1, -1, -1, -1,
                                             0,  0,  0,  0,  0,  0,  0,  0};

struct V {
  using R = __m256;
  static constexpr int64_t W = 8;

  static __m256i mask(int64_t n) {  // 0 < n <= 8
    return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(kMaskWindow + 8 - n));
  }
  static R zero() { return _mm256_setzero_ps(); }
  static R set1(float v) { return _mm256_set1_ps(v); }
  static R load(const float* p) { return _mm256_loadu_ps(p); }
  static void store(float* p, R r) { _mm256_storeu_ps(p, r); }
  static void stream(float* p, R r) { _mm256_stream_ps(p, r); }  // p 32-byte aligned
  static void fence() { _mm_sfence(); }
  // vmaskmovps never touches (or faults on) masked-off lanes.
  static R load_part(const float* p, int64_t n) { return _mm256_maskload_ps(p, mask(n)); }
  static R load_part_fill(const float* p, int64_t n, float fill) {
    const __m256i m = mask(n);
    return _mm256_blendv_ps(_mm256_set1_ps(fill), _mm256_maskload_ps(p, m), _mm256_castsi256_ps(m));
  }
  static void store_part(float* p, R r, int64_t n) { _mm256_maskstore_ps(p, mask(n), r); }
  static R add(R a, R b) { return _mm256_add_ps(a, b); }
  static R sub(R a, R b) { return _mm256_sub_ps(a, b); }
  static R mul(R a, R b) { return _mm256_mul_ps(a, b); }
  static R div(R a, R b) { return _mm256_div_ps(a, b); }
  static R fma(R a, R b, R c) { return _mm256_fmadd_ps(a, b, c); }
  static R max(R a, R b) { return _mm256_max_ps(a, b); }
  static R min(R a, R b) { return _mm256_min_ps(a, b); }
  static R abs(R a) { return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), a); }
  static R sqrt(R a) { return _mm256_sqrt_ps(a); }
  static R select_gt(R a, R b, R x, R y) {
    return _mm256_blendv_ps(y, x, _mm256_cmp_ps(a, b, _CMP_GT_OQ));
  }
  static float hsum(R a) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
  }
  static float hmax(R a) {
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    s = _mm_max_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
  }
  static void hsum4(R a, R b, R c, R d, float* out) {
    const __m256 ab = _mm256_hadd_ps(a, b);
    const __m256 cd = _mm256_hadd_ps(c, d);
    const __m256 abcd = _mm256_hadd_ps(ab, cd);
    _mm_storeu_ps(out, _mm_add_ps(_mm256_castps256_ps128(abcd), _mm256_extractf128_ps(abcd, 1)));
  }

  // e^x as in the AVX-512 version; without vscalefps, 2^n is applied as two factors 2^(n/2) and
  // 2^(n - n/2), each a normal float for n in [-150, 128], so overflow and underflow round
  // correctly to inf and 0.
  static R exp(R x) {
    x = _mm256_max_ps(_mm256_set1_ps(-104.0f), x);
    x = _mm256_min_ps(_mm256_set1_ps(89.0f), x);
    const R n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    R r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
    R p = _mm256_set1_ps(1.9875691500E-4f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507E-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073E-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894E-2f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459E-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201E-1f));
    p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
    const __m256i ni = _mm256_cvtps_epi32(n);
    const __m256i n1 = _mm256_srai_epi32(ni, 1);
    const __m256i n2 = _mm256_sub_epi32(ni, n1);
    const __m256i bias = _mm256_set1_epi32(127);
    const R f1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n1, bias), 23));
    const R f2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n2, bias), 23));
    return _mm256_mul_ps(_mm256_mul_ps(p, f1), f2);
  }

  static double sum_squares_d(int64_t n, const float* x) {
    __m256d s0 = _mm256_setzero_pd(), s1 = s0, s2 = s0, s3 = s0;
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
      const __m256d a = _mm256_cvtps_pd(_mm_loadu_ps(x + i));
      const __m256d b = _mm256_cvtps_pd(_mm_loadu_ps(x + i + 4));
      const __m256d c = _mm256_cvtps_pd(_mm_loadu_ps(x + i + 8));
      const __m256d d = _mm256_cvtps_pd(_mm_loadu_ps(x + i + 12));
      s0 = _mm256_fmadd_pd(a, a, s0);
      s1 = _mm256_fmadd_pd(b, b, s1);
      s2 = _mm256_fmadd_pd(c, c, s2);
      s3 = _mm256_fmadd_pd(d, d, s3);
    }
    __m256d s = _mm256_add_pd(_mm256_add_pd(s0, s1), _mm256_add_pd(s2, s3));
    __m128d h = _mm_add_pd(_mm256_castpd256_pd128(s), _mm256_extractf128_pd(s, 1));
    double total = _mm_cvtsd_f64(_mm_add_sd(h, _mm_unpackhi_pd(h, h)));
    for (; i < n; ++i) total += double(x[i]) * double(x[i]);
    return total;
  }
};

#include "simd_kernels.inc"
#include "simd_ssm.inc"

}  // namespace

ITERA_MAKE_KERNEL_TABLE(kAvx2Kernels);
ITERA_MAKE_SSM_TABLE(kAvx2Ssm);

}  // namespace itera
