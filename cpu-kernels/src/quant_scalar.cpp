// Portable instantiation of the quantised-GEMV building blocks (simd_quant.inc): plain int32 and
// float loops, baseline flags only. Same arithmetic as the SIMD paths (int8 activations, int32
// block sums, float accumulation), so every ISA level computes the same quantity.
#include <algorithm>
#include <cmath>
#include <cstdint>

#include "quant_internal.h"

namespace itera {
namespace {

struct Q {
  using I = int32_t;
  using F = float;

  struct W {
    int8_t v[32];
  };
  static constexpr int kTileM = 4;
  static constexpr int kGemvRows = 4;
  // No specialised Q8_0 / Q4_0 kernels: the generic tiles serve every format.
  static constexpr decltype(quant::QuantKernels::qgemm_packed) qgemm_packed = nullptr;
  static constexpr decltype(quant::QuantKernels::q4_0_gemv_rows) q4_0_gemv_rows = nullptr;
  static constexpr decltype(quant::QuantKernels::qgemm_r16) qgemm_r16 = nullptr;
  static constexpr decltype(quant::QuantKernels::bf16_pack) bf16_pack = nullptr;
  static constexpr decltype(quant::QuantKernels::bf16_gemm) bf16_gemm = nullptr;

  static W w_s8(const uint8_t* p) {
    W w;
    for (int j = 0; j < 32; ++j) w.v[j] = int8_t(p[j]);
    return w;
  }
  static W w_u4(const uint8_t* qs, int bias) {
    W w;
    for (int j = 0; j < 16; ++j) {
      w.v[j] = int8_t((qs[j] & 15) - bias);
      w.v[16 + j] = int8_t((qs[j] >> 4) - bias);
    }
    return w;
  }
  static W w_nf4(const uint8_t* qs, bool high) {
    W w;
    for (int j = 0; j < 32; ++j) w.v[j] = quant::kNf4CodeI8[high ? qs[j] >> 4 : qs[j] & 15];
    return w;
  }
  using A = const int8_t*;
  using S = float;
  static A act(const quant::QAct& x, int64_t b) { return x.q + b * 32; }
  static S splat(float v) { return v; }
  static S mul(S a, S b) { return a * b; }
  static I dot(const W& w, const int8_t* x) {
    I s = 0;
    for (int j = 0; j < 32; ++j) s += int32_t(w.v[j]) * int32_t(x[j]);
    return s;
  }
  static float h2f(const uint8_t* p) { return quant::fp16_to_f32(quant::load_u16(p)); }
  static F fzero() { return 0.0f; }
  static F cvt(I v) { return float(v); }
  static F fma(F a, S s, F acc) { return a * s + acc; }
  static float hsum(F a) { return a; }

  // Eight partial sums, like the vector paths, so long rows round alike.
  template <typename Conv>
  static float fdot(int64_t K, const uint8_t* w, const float* x, Conv conv) {
    float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int64_t i = 0;
    for (; i + 8 <= K; i += 8)
      for (int l = 0; l < 8; ++l) acc[l] += conv(quant::load_u16(w + 2 * (i + l))) * x[i + l];
    float s = 0.0f;
    for (; i < K; ++i) s += conv(quant::load_u16(w + 2 * i)) * x[i];
    return ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7])) + s;
  }
  static float fdot_f16(int64_t K, const uint8_t* w, const float* x) {
    return fdot(K, w, x, quant::fp16_to_f32);
  }
  static float fdot_bf16(int64_t K, const uint8_t* w, const float* x) {
    return fdot(K, w, x, quant::bf16_to_f32);
  }

  static void half_to_f32(int64_t n, const uint8_t* src, bool bf16, float* dst) {
    for (int64_t i = 0; i < n; ++i) {
      const uint16_t h = quant::load_u16(src + 2 * i);
      dst[i] = bf16 ? quant::bf16_to_f32(h) : quant::fp16_to_f32(h);
    }
  }
  static void quantize_block(const float* x, int8_t* q, float* d, int32_t*) {
    float amax = 0.0f;
    for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[j]));
    const float dd = amax / 127.0f;
    const float id = dd != 0.0f ? 127.0f / amax : 0.0f;
    for (int j = 0; j < 32; ++j) {
      const int v = int(std::nearbyint(x[j] * id));  // round half to even, as vcvtps2dq
      q[j] = int8_t(v);
    }
    *d = dd;
  }
};

#include "simd_quant.inc"

}  // namespace

namespace quant {
ITERA_MAKE_QUANT_TABLE(kScalarQuant);
}  // namespace quant

}  // namespace itera
