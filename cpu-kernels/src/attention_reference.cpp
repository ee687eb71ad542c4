// Scalar specification of the training attention kernels (itera_causal_attention_*_ref) and of
// RoPE (itera_rope_*_ref): plain loops, double accumulation, std::exp / std::log, one thread.
#include <cmath>
#include <algorithm>
#include <cstdint>
#include <vector>

#include "attention_internal.h"
#include "itera_kernels.h"

void itera_causal_attention_forward_ref(int64_t Bt, int64_t L, int64_t H, int64_t KV,
                                        int64_t hs, float scale, const float* q, int64_t ldq,
                                        const float* k, int64_t ldk, const float* v, int64_t ldv,
                                        float* out, int64_t ldo, float* lse) {
  if (Bt <= 0 || L <= 0 || H <= 0 || KV <= 0 || hs <= 0) return;
  const int64_t kv_mul = H / KV;
  std::vector<double> s(L);
  for (int64_t b = 0; b < Bt; ++b) {
    for (int64_t h = 0; h < H; ++h) {
      const int64_t qo = h * hs, ko = (h / kv_mul) * hs;
      for (int64_t i = 0; i < L; ++i) {
        const float* qi = q + (b * L + i) * ldq + qo;
        double mx = -INFINITY;
        for (int64_t j = 0; j <= i; ++j) {
          const float* kj = k + (b * L + j) * ldk + ko;
          double d = 0.0;
          for (int64_t c = 0; c < hs; ++c) d += double(qi[c]) * kj[c];
          s[j] = d * scale;
          if (s[j] > mx) mx = s[j];
        }
        double sum = 0.0;
        for (int64_t j = 0; j <= i; ++j) sum += std::exp(s[j] - mx);
        const double l = mx + std::log(sum);
        lse[(b * H + h) * L + i] = float(l);
        for (int64_t j = 0; j <= i; ++j) s[j] = std::exp(s[j] - l);  // probabilities
        float* oi = out + (b * L + i) * ldo + qo;
        for (int64_t c = 0; c < hs; ++c) {
          double o = 0.0;
          for (int64_t j = 0; j <= i; ++j) o += s[j] * v[(b * L + j) * ldv + ko + c];
          oi[c] = float(o);
        }
      }
    }
  }
}

void itera_causal_attention_backward_ref(int64_t Bt, int64_t L, int64_t H, int64_t KV,
                                         int64_t hs, float scale, const float* q, int64_t ldq,
                                         const float* k, int64_t ldk, const float* v,
                                         int64_t ldv, const float* lse, const float* dout,
                                         int64_t lddo, float* dq, int64_t lddq, float* dk,
                                         int64_t lddk, float* dv, int64_t lddv) {
  if (Bt <= 0 || L <= 0 || H <= 0 || KV <= 0 || hs <= 0) return;
  const int64_t kv_mul = H / KV;
  const int64_t kvw = KV * hs;
  // Key / value gradients summed in double over every query (and every head of a group), then
  // added once, so the reference rounds each output element a single time.
  std::vector<double> gk(L * kvw), gv(L * kvw), p(L), dp(L);
  for (int64_t b = 0; b < Bt; ++b) {
    std::fill(gk.begin(), gk.end(), 0.0);
    std::fill(gv.begin(), gv.end(), 0.0);
    for (int64_t h = 0; h < H; ++h) {
      const int64_t qo = h * hs, ko = (h / kv_mul) * hs;
      for (int64_t i = 0; i < L; ++i) {
        const float* qi = q + (b * L + i) * ldq + qo;
        const float* gi = dout + (b * L + i) * lddo + qo;
        const double l = lse[(b * H + h) * L + i];
        double D = 0.0;
        for (int64_t j = 0; j <= i; ++j) {
          const float* kj = k + (b * L + j) * ldk + ko;
          const float* vj = v + (b * L + j) * ldv + ko;
          double d = 0.0, e = 0.0;
          for (int64_t c = 0; c < hs; ++c) {
            d += double(qi[c]) * kj[c];
            e += double(gi[c]) * vj[c];
          }
          p[j] = std::exp(d * scale - l);
          dp[j] = e;
          D += p[j] * e;
        }
        float* dqi = dq + (b * L + i) * lddq + qo;
        for (int64_t c = 0; c < hs; ++c) {
          double acc = 0.0;
          for (int64_t j = 0; j <= i; ++j) {
            const double ds = p[j] * (dp[j] - D) * scale;
            acc += ds * k[(b * L + j) * ldk + ko + c];
            gk[j * kvw + ko + c] += ds * qi[c];
            gv[j * kvw + ko + c] += p[j] * gi[c];
          }
          dqi[c] = float(dqi[c] + acc);
        }
      }
    }
    for (int64_t j = 0; j < L; ++j) {
      for (int64_t c = 0; c < kvw; ++c) {
        float* dkj = dk + (b * L + j) * lddk + c;
        float* dvj = dv + (b * L + j) * lddv + c;
        *dkj = float(*dkj + gk[j * kvw + c]);
        *dvj = float(*dvj + gv[j * kvw + c]);
      }
    }
  }
}

void itera_rope_forward_ref(int64_t R, int64_t L, int64_t n_heads, int64_t hs, const float* x,
                            int64_t ldx, float* y, int64_t ldy) {
  if (R <= 0 || L <= 0 || n_heads <= 0 || hs <= 1) return;
  for (int64_t r = 0; r < R; ++r) {
    const int64_t t = r % L;
    for (int64_t h = 0; h < n_heads; ++h) {
      for (int64_t j = 0; j < hs / 2; ++j) {
        double c, s;
        itera_rope_angle(t, j, hs, &c, &s);
        const int64_t o = h * hs + 2 * j;
        const double x0 = x[r * ldx + o], x1 = x[r * ldx + o + 1];
        y[r * ldy + o] = float(x0 * c - x1 * s);
        y[r * ldy + o + 1] = float(x0 * s + x1 * c);
      }
    }
  }
}

void itera_rope_backward_ref(int64_t R, int64_t L, int64_t n_heads, int64_t hs, const float* dy,
                             int64_t lddy, float* dx, int64_t lddx) {
  if (R <= 0 || L <= 0 || n_heads <= 0 || hs <= 1) return;
  for (int64_t r = 0; r < R; ++r) {
    const int64_t t = r % L;
    for (int64_t h = 0; h < n_heads; ++h) {
      for (int64_t j = 0; j < hs / 2; ++j) {
        double c, s;
        itera_rope_angle(t, j, hs, &c, &s);
        const int64_t o = h * hs + 2 * j;
        const double g0 = dy[r * lddy + o], g1 = dy[r * lddy + o + 1];
        dx[r * lddx + o] = float(dx[r * lddx + o] + (g0 * c + g1 * s));
        dx[r * lddx + o + 1] = float(dx[r * lddx + o + 1] + (g1 * c - g0 * s));
      }
    }
  }
}
