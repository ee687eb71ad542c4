// Training attention entry points (itera_causal_attention_forward / _backward) and RoPE
// (itera_rope_forward / _backward): split the work across the worker pool and call the per-ISA
// blocks of simd_attention.inc picked by itera_get_isa() at each call.
//
// Why one task per (sequence, head) and the log-sum-exp instead of the probabilities: at L = 1024
// the probabilities of one head are 4 MB (L^2 floats), per layer B*H times that, while the
// backward recomputes them from q, k and the saved per-row log-sum-exp for one extra pass of hs
// FMAs per score, already paid once in the forward; the working set of a task (K and V of one
// head, transposed and as they are, plus dk / dv rows: about 4 * L * hs floats) stays in L2.
#include <cmath>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "attention_internal.h"
#include "itera_kernels.h"
#include "parallel.h"

using itera::AttnArgs;

void itera_causal_attention_forward(int64_t Bt, int64_t L, int64_t H, int64_t KV, int64_t hs,
                                    float scale, const float* q, int64_t ldq, const float* k,
                                    int64_t ldk, const float* v, int64_t ldv, float* out,
                                    int64_t ldo, float* lse) {
  if (Bt <= 0 || L <= 0 || H <= 0 || KV <= 0 || hs <= 0 || hs > ITERA_ATTENTION_MAX_HEAD_SIZE) return;
  const AttnArgs a{Bt, L, H, KV, hs, scale, q, ldq, k, ldk, v, ldv, nullptr};
  const itera::AttnKernels& kern = itera::attn_kernels();
  itera::parallel_for(Bt * H, 1, [&](int64_t t0, int64_t t1) {
    std::vector<float> scratch(itera::attn_fwd_scratch(L, hs) + 16);
    float* s = scratch.data();
    s += (16 - (reinterpret_cast<uintptr_t>(s) / sizeof(float)) % 16) % 16;  // 64-byte aligned
    for (int64_t t = t0; t < t1; ++t) kern.fwd(a, t / H, t % H, out, ldo, lse, s);
  });
}

void itera_causal_attention_backward(int64_t Bt, int64_t L, int64_t H, int64_t KV, int64_t hs,
                                     float scale, const float* q, int64_t ldq, const float* k,
                                     int64_t ldk, const float* v, int64_t ldv, const float* lse,
                                     const float* dout, int64_t lddo, float* dq, int64_t lddq,
                                     float* dk, int64_t lddk, float* dv, int64_t lddv) {
  if (Bt <= 0 || L <= 0 || H <= 0 || KV <= 0 || hs <= 0 || hs > ITERA_ATTENTION_MAX_HEAD_SIZE) return;
  const AttnArgs a{Bt, L, H, KV, hs, scale, q, ldq, k, ldk, v, ldv, lse};
  const itera::AttnKernels& kern = itera::attn_kernels();
  itera::parallel_for(Bt * KV, 1, [&](int64_t t0, int64_t t1) {
    std::vector<float> scratch(itera::attn_bwd_scratch(L, hs) + 16);
    float* s = scratch.data();
    s += (16 - (reinterpret_cast<uintptr_t>(s) / sizeof(float)) % 16) % 16;
    for (int64_t t = t0; t < t1; ++t) kern.bwd(a, t / KV, t % KV, dout, lddo, dq, lddq, dk, lddk, dv, lddv, s);
  });
}

namespace {

// cos / sin of every (position, pair) [L][hs/2], rounded to float like the inference tables. The
// last table is cached: a training step asks for the same (L, hs) 4 times per layer, and building
// one costs a pow, a cos and a sin per entry.
std::shared_ptr<const std::vector<float>> rope_table(int64_t L, int64_t hs) {
  static std::mutex mu;
  static std::shared_ptr<const std::vector<float>> cached;
  static int64_t cached_L = -1, cached_hs = -1;
  {
    std::lock_guard<std::mutex> lock(mu);
    if (cached && cached_L == L && cached_hs == hs) return cached;
  }
  const int64_t half = hs / 2;
  auto t = std::make_shared<std::vector<float>>(2 * L * half);
  for (int64_t p = 0; p < L; ++p) {
    for (int64_t j = 0; j < half; ++j) {
      double c, s;
      itera_rope_angle(p, j, hs, &c, &s);
      (*t)[2 * (p * half + j)] = float(c);
      (*t)[2 * (p * half + j) + 1] = float(s);
    }
  }
  std::lock_guard<std::mutex> lock(mu);
  cached = t;
  cached_L = L;
  cached_hs = hs;
  return t;
}

}  // namespace

void itera_rope_forward(int64_t R, int64_t L, int64_t n_heads, int64_t hs, const float* x,
                        int64_t ldx, float* y, int64_t ldy) {
  if (R <= 0 || L <= 0 || n_heads <= 0 || hs <= 1) return;
  const auto table = rope_table(L, hs);
  const std::vector<float>& tab = *table;
  const int64_t half = hs / 2;
  itera::parallel_for(R, 64, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const float* cs = tab.data() + 2 * (r % L) * half;
      const float* xr = x + r * ldx;
      float* yr = y + r * ldy;
      for (int64_t h = 0; h < n_heads; ++h) {
        for (int64_t j = 0; j < half; ++j) {
          const int64_t o = h * hs + 2 * j;
          const float c = cs[2 * j], s = cs[2 * j + 1];
          const float x0 = xr[o], x1 = xr[o + 1];
          yr[o] = x0 * c - x1 * s;
          yr[o + 1] = x0 * s + x1 * c;
        }
      }
    }
  });
}

void itera_rope_backward(int64_t R, int64_t L, int64_t n_heads, int64_t hs, const float* dy,
                         int64_t lddy, float* dx, int64_t lddx) {
  if (R <= 0 || L <= 0 || n_heads <= 0 || hs <= 1) return;
  const auto table = rope_table(L, hs);
  const std::vector<float>& tab = *table;
  const int64_t half = hs / 2;
  itera::parallel_for(R, 64, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const float* cs = tab.data() + 2 * (r % L) * half;
      const float* gr = dy + r * lddy;
      float* dr = dx + r * lddx;
      for (int64_t h = 0; h < n_heads; ++h) {
        for (int64_t j = 0; j < half; ++j) {
          const int64_t o = h * hs + 2 * j;
          const float c = cs[2 * j], s = cs[2 * j + 1];
          const float g0 = gr[o], g1 = gr[o + 1];
          dr[o] += g0 * c + g1 * s;
          dr[o + 1] += g1 * c - g0 * s;
        }
      }
    }
  });
}
