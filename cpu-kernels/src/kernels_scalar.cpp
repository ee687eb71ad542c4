// Portable instantiation of the generic kernels for any x86-64 (and non-x86) CPU: plain C++
// arrays as vectors, libm's expf. Compiled with the baseline flags only: no intrinsics here (the
// compiler may still auto-vectorise with SSE2).
#include <algorithm>
#include <cmath>
#include <cstdint>

#include <vector>

#include "dispatch.h"
#include "ssm_dispatch.h"

namespace itera {
namespace {

// An 8-lane "vector" of plain floats: the generic kernels keep the same accumulation shape as
// the AVX2 build (8 x 4 partial sums, so long rows stay as accurate), and the per-lane loops are
// simple enough for the compiler to turn into SSE2.
struct F8 {
  float v[8];
};

struct V {
  using R = F8;
  static constexpr int64_t W = 8;

  template <typename Op>
  static R map(Op op) {
    R r;
    for (int i = 0; i < 8; ++i) r.v[i] = op(i);
    return r;
  }
  static R zero() { return set1(0.0f); }
  static R set1(float x) { return map([&](int) { return x; }); }
  static R load(const float* p) { return map([&](int i) { return p[i]; }); }
  static void store(float* p, R r) {
    for (int i = 0; i < 8; ++i) p[i] = r.v[i];
  }
  static void stream(float* p, R r) { store(p, r); }  // no non-temporal stores in portable code
  static void fence() {}
  static R load_part(const float* p, int64_t n) { return load_part_fill(p, n, 0.0f); }
  static R load_part_fill(const float* p, int64_t n, float fill) {
    return map([&](int i) { return i < n ? p[i] : fill; });
  }
  static void store_part(float* p, R r, int64_t n) {
    for (int i = 0; i < n; ++i) p[i] = r.v[i];
  }
  static R add(R a, R b) { return map([&](int i) { return a.v[i] + b.v[i]; }); }
  static R sub(R a, R b) { return map([&](int i) { return a.v[i] - b.v[i]; }); }
  static R mul(R a, R b) { return map([&](int i) { return a.v[i] * b.v[i]; }); }
  static R div(R a, R b) { return map([&](int i) { return a.v[i] / b.v[i]; }); }
  // No FMA instruction in the baseline: multiply, round, add.
  static R fma(R a, R b, R c) { return map([&](int i) { return a.v[i] * b.v[i] + c.v[i]; }); }
  // Same NaN rule as maxps/minps: the second operand when either is NaN.
  static R max(R a, R b) { return map([&](int i) { return a.v[i] > b.v[i] ? a.v[i] : b.v[i]; }); }
  static R min(R a, R b) { return map([&](int i) { return a.v[i] < b.v[i] ? a.v[i] : b.v[i]; }); }
  static R abs(R a) { return map([&](int i) { return std::fabs(a.v[i]); }); }
  static R sqrt(R a) { return map([&](int i) { return std::sqrt(a.v[i]); }); }
  static R select_gt(R a, R b, R x, R y) {
    return map([&](int i) { return a.v[i] > b.v[i] ? x.v[i] : y.v[i]; });
  }
  static R exp(R a) { return map([&](int i) { return std::exp(a.v[i]); }); }
  static float hsum(R a) {
    // Pairwise, like the SIMD reductions.
    const float s0 = (a.v[0] + a.v[4]) + (a.v[2] + a.v[6]);
    const float s1 = (a.v[1] + a.v[5]) + (a.v[3] + a.v[7]);
    return s0 + s1;
  }
  static float hmax(R a) {
    float m = a.v[0];
    for (int i = 1; i < 8; ++i) m = a.v[i] > m ? a.v[i] : m;
    return m;
  }
  static void hsum4(R a, R b, R c, R d, float* out) {
    out[0] = hsum(a);
    out[1] = hsum(b);
    out[2] = hsum(c);
    out[3] = hsum(d);
  }
  static double sum_squares_d(int64_t n, const float* x) {
    double s[4] = {0, 0, 0, 0};
    int64_t i = 0;
    for (; i + 4 <= n; i += 4)
      for (int j = 0; j < 4; ++j) s[j] += double(x[i + j]) * double(x[i + j]);
    for (; i < n; ++i) s[0] += double(x[i]) * double(x[i]);
    return (s[0] + s[1]) + (s[2] + s[3]);
  }
};

#include "simd_kernels.inc"
#include "simd_ssm.inc"

}  // namespace

ITERA_MAKE_KERNEL_TABLE(kScalarKernels);
ITERA_MAKE_SSM_TABLE(kScalarSsm);

}  // namespace itera
