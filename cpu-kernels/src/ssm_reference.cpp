// Reference (specification) kernels of the selective SSM: causal depthwise conv1d and the
// Mamba-1 selective scan, forward / backward / single step. Plain scalar loops, one channel at a
// time, in double where values are summed; see the "selective SSM" section of itera_kernels.h for
// the layouts and the maths (docs: kernel-facts.md §1).
#include <cmath>
#include <cstdint>
#include <vector>

#include "itera_kernels.h"

namespace {

double sigmoid_d(double x) { return 1.0 / (1.0 + std::exp(-x)); }
double softplus_d(double x) { return x > 20.0 ? x : std::log1p(std::exp(x)); }

// Effective delta of token row r, channel e, and d(delta)/d(raw delta).
struct Delta {
  double value, slope;
};
inline Delta delta_at(const float* delta, int64_t lddelta, const float* delta_bias,
                      int softplus, int64_t r, int64_t e) {
  const double raw = double(delta[r * lddelta + e]) + (delta_bias ? double(delta_bias[e]) : 0.0);
  if (!softplus || raw > 20.0) return {raw, 1.0};
  return {softplus_d(raw), sigmoid_d(raw)};
}

}  // namespace

extern "C" {

int64_t itera_ssm_num_chunks(int64_t L, int64_t chunk) {
  if (L <= 0 || chunk <= 0) return 0;
  return (L + chunk - 1) / chunk;
}

// ------------------------------------------------------------------ causal depthwise conv1d

void itera_causal_conv1d_forward_ref(int64_t Bt, int64_t L, int64_t E, int64_t K, const float* x,
                                     int64_t ldx, const float* w, const float* bias, float* y,
                                     int64_t ldy) {
  for (int64_t b = 0; b < Bt; ++b)
    for (int64_t t = 0; t < L; ++t)
      for (int64_t e = 0; e < E; ++e) {
        double acc = bias ? bias[e] : 0.0;
        for (int64_t k = 0; k < K; ++k) {
          const int64_t s = t - (K - 1) + k;  // source token; zero padding before t = 0
          if (s >= 0) acc += double(w[e * K + k]) * x[(b * L + s) * ldx + e];
        }
        y[(b * L + t) * ldy + e] = float(acc);
      }
}

void itera_causal_conv1d_backward_ref(int64_t Bt, int64_t L, int64_t E, int64_t K,
                                      const float* x, int64_t ldx, const float* w,
                                      const float* dy, int64_t lddy, float* dx, int64_t lddx,
                                      float* dw, float* dbias) {
  for (int64_t e = 0; e < E; ++e) {
    std::vector<double> gw(K, 0.0);
    double gb = 0.0;
    for (int64_t b = 0; b < Bt; ++b)
      for (int64_t t = 0; t < L; ++t) {
        const double g = dy[(b * L + t) * lddy + e];
        gb += g;
        for (int64_t k = 0; k < K; ++k) {
          const int64_t s = t - (K - 1) + k;
          if (s < 0) continue;
          gw[k] += g * x[(b * L + s) * ldx + e];
        }
        // dx[s] collects w[k] * dy[t] for every t that read s: the anti-causal correlation.
        double gx = 0.0;
        for (int64_t k = 0; k < K; ++k) {
          const int64_t tt = t + (K - 1) - k;  // output token that used x[t] with tap k
          if (tt < L) gx += double(w[e * K + k]) * dy[(b * L + tt) * lddy + e];
        }
        dx[(b * L + t) * lddx + e] += float(gx);
      }
    for (int64_t k = 0; k < K; ++k) dw[e * K + k] += float(gw[k]);
    if (dbias) dbias[e] += float(gb);
  }
}

void itera_causal_conv1d_step_ref(int64_t Bt, int64_t E, int64_t K, const float* x, int64_t ldx,
                                  float* state, const float* w, const float* bias, float* y,
                                  int64_t ldy) {
  for (int64_t b = 0; b < Bt; ++b) {
    float* s = state + b * K * E;  // [K, E], row 0 oldest
    for (int64_t k = 0; k + 1 < K; ++k)
      for (int64_t e = 0; e < E; ++e) s[k * E + e] = s[(k + 1) * E + e];
    for (int64_t e = 0; e < E; ++e) s[(K - 1) * E + e] = x[b * ldx + e];
    for (int64_t e = 0; e < E; ++e) {
      double acc = bias ? bias[e] : 0.0;
      for (int64_t k = 0; k < K; ++k) acc += double(w[e * K + k]) * s[k * E + e];
      y[b * ldy + e] = float(acc);
    }
  }
}

// ------------------------------------------------------------------ selective scan

void itera_selective_scan_forward_ref(int64_t Bt, int64_t L, int64_t E, int64_t N,
                                      const float* u, int64_t ldu, const float* delta,
                                      int64_t lddelta, const float* A, const float* B,
                                      int64_t ldb, const float* C, int64_t ldc, const float* D,
                                      const float* z, int64_t ldz, const float* delta_bias,
                                      int delta_softplus, int64_t chunk, float* y, int64_t ldy,
                                      float* last_state, float* chunk_states) {
  const int64_t nc = itera_ssm_num_chunks(L, chunk);
  std::vector<double> h(N);
  for (int64_t b = 0; b < Bt; ++b)
    for (int64_t e = 0; e < E; ++e) {
      for (int64_t n = 0; n < N; ++n) h[n] = 0.0;
      for (int64_t t = 0; t < L; ++t) {
        const int64_t r = b * L + t;
        const double d = delta_at(delta, lddelta, delta_bias, delta_softplus, r, e).value;
        const double uu = u[r * ldu + e];
        double acc = D ? double(D[e]) * uu : 0.0;
        for (int64_t n = 0; n < N; ++n) {
          h[n] = std::exp(d * A[e * N + n]) * h[n] + d * double(B[r * ldb + n]) * uu;
          acc += double(C[r * ldc + n]) * h[n];
        }
        if (z) {
          const double zz = z[r * ldz + e];
          acc *= zz * sigmoid_d(zz);
        }
        y[r * ldy + e] = float(acc);
        if (chunk_states && ((t + 1) % chunk == 0 || t == L - 1))
          for (int64_t n = 0; n < N; ++n)
            chunk_states[((b * nc + t / chunk) * E + e) * N + n] = float(h[n]);
      }
      if (last_state)
        for (int64_t n = 0; n < N; ++n) last_state[(b * E + e) * N + n] = float(h[n]);
    }
}

void itera_selective_scan_backward_ref(int64_t Bt, int64_t L, int64_t E, int64_t N,
                                       const float* u, int64_t ldu, const float* delta,
                                       int64_t lddelta, const float* A, const float* B,
                                       int64_t ldb, const float* C, int64_t ldc, const float* D,
                                       const float* z, int64_t ldz, const float* delta_bias,
                                       int delta_softplus, int64_t chunk,
                                       const float* chunk_states, const float* dy, int64_t lddy,
                                       float* du, int64_t lddu, float* ddelta, int64_t ldddelta,
                                       float* dA, float* dB, int64_t lddb, float* dC,
                                       int64_t lddc, float* dD, float* dz, int64_t lddz,
                                       float* ddelta_bias) {
  // One channel's states for the whole sequence, (L + 1) x N with row 0 = h_{-1} = 0: the spec
  // favours clarity; its memory is per channel, never L*E*N.
  std::vector<double> H((L + 1) * N), lam(N), gA(N);
  for (int64_t e = 0; e < E; ++e) {
    for (int64_t n = 0; n < N; ++n) gA[n] = 0.0;
    double gD = 0.0, gbias = 0.0;
    for (int64_t b = 0; b < Bt; ++b) {
      for (int64_t n = 0; n < N; ++n) H[n] = 0.0;
      for (int64_t t = 0; t < L; ++t) {
        const int64_t r = b * L + t;
        const double d = delta_at(delta, lddelta, delta_bias, delta_softplus, r, e).value;
        const double uu = u[r * ldu + e];
        for (int64_t n = 0; n < N; ++n)
          H[(t + 1) * N + n] =
              std::exp(d * A[e * N + n]) * H[t * N + n] + d * double(B[r * ldb + n]) * uu;
      }
      for (int64_t n = 0; n < N; ++n) lam[n] = 0.0;
      for (int64_t t = L - 1; t >= 0; --t) {
        const int64_t r = b * L + t;
        const Delta dl = delta_at(delta, lddelta, delta_bias, delta_softplus, r, e);
        const double d = dl.value;
        const double uu = u[r * ldu + e];
        const double* ht = &H[(t + 1) * N];
        const double* hp = &H[t * N];
        const double g = dy[r * lddy + e];
        double gy = g;  // gradient w.r.t. the pre-gate y
        if (z) {
          double yv = D ? double(D[e]) * uu : 0.0;
          for (int64_t n = 0; n < N; ++n) yv += double(C[r * ldc + n]) * ht[n];
          const double zz = z[r * ldz + e];
          const double s = sigmoid_d(zz);
          dz[r * lddz + e] += float(g * yv * s * (1.0 + zz * (1.0 - s)));
          gy = g * zz * s;
        }
        double gu = 0.0, gd = 0.0;
        if (D) {
          gD += gy * uu;
          gu += double(D[e]) * gy;
        }
        for (int64_t n = 0; n < N; ++n) {
          const double a = A[e * N + n];
          const double bn = B[r * ldb + n];
          const double da = std::exp(d * a);
          lam[n] += double(C[r * ldc + n]) * gy;  // lambda_t = C_t gy_t + dA_{t+1} lambda_{t+1}
          dC[r * lddc + n] += float(gy * ht[n]);
          dB[r * lddb + n] += float(lam[n] * d * uu);
          gu += lam[n] * d * bn;
          gd += lam[n] * (bn * uu + a * da * hp[n]);
          gA[n] += lam[n] * d * da * hp[n];
          lam[n] *= da;  // carried to t - 1
        }
        du[r * lddu + e] += float(gu);
        const double graw = gd * dl.slope;
        ddelta[r * ldddelta + e] += float(graw);
        gbias += graw;
      }
    }
    for (int64_t n = 0; n < N; ++n) dA[e * N + n] += float(gA[n]);
    if (dD) dD[e] += float(gD);
    if (ddelta_bias) ddelta_bias[e] += float(gbias);
  }
}

void itera_selective_scan_step_ref(int64_t Bt, int64_t E, int64_t N, const float* u,
                                   int64_t ldu, const float* delta, int64_t lddelta,
                                   const float* A, const float* B, int64_t ldb, const float* C,
                                   int64_t ldc, const float* D, const float* z, int64_t ldz,
                                   const float* delta_bias, int delta_softplus, float* state,
                                   float* y, int64_t ldy) {
  for (int64_t b = 0; b < Bt; ++b)
    for (int64_t e = 0; e < E; ++e) {
      const double d = delta_at(delta, lddelta, delta_bias, delta_softplus, b, e).value;
      const double uu = u[b * ldu + e];
      float* h = state + (b * E + e) * N;
      double acc = D ? double(D[e]) * uu : 0.0;
      for (int64_t n = 0; n < N; ++n) {
        const double hn = std::exp(d * A[e * N + n]) * h[n] + d * double(B[b * ldb + n]) * uu;
        h[n] = float(hn);
        acc += double(C[b * ldc + n]) * hn;
      }
      if (z) {
        const double zz = z[b * ldz + e];
        acc *= zz * sigmoid_d(zz);
      }
      y[b * ldy + e] = float(acc);
    }
}

}  // extern "C"
