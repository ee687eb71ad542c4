// Reference kernels (`itera_*_ref`): plain scalar, single-threaded loops that ARE the
// specification of every fast kernel. Clarity over speed; row sums, dot products and norms are
// accumulated in double so the reference is closer to exact than any fast path.
#include <cmath>
#include <cstdint>
#include <cstring>

#include "itera_kernels.h"
#include "internal.h"

namespace {

// op(X)[i, j] of a row-major matrix stored with row stride ld.
inline float op_at(const float* X, int64_t ld, int trans, int64_t i, int64_t j) {
  return trans ? X[j * ld + i] : X[i * ld + j];
}

double sigmoid_d(double x) { return 1.0 / (1.0 + std::exp(-x)); }

}  // namespace

extern "C" {

// ------------------------------------------------------------------ GEMM / GEMV

void itera_sgemm_strided_batched_ref(int transA, int transB, int64_t M, int64_t N, int64_t K,
                                     float alpha, const float* A, int64_t lda, int64_t strideA,
                                     const float* B, int64_t ldb, int64_t strideB, float beta,
                                     float* C, int64_t ldc, int64_t strideC, int64_t batch) {
  for (int64_t b = 0; b < batch; ++b) {
    const float* Ab = A + b * strideA;  // op(A): M x K
    const float* Bb = B + b * strideB;  // op(B): K x N
    float* Cb = C + b * strideC;        // M x N
    for (int64_t i = 0; i < M; ++i) {
      for (int64_t j = 0; j < N; ++j) {
        double acc = 0.0;
        for (int64_t k = 0; k < K; ++k)
          acc += double(op_at(Ab, lda, transA, i, k)) * double(op_at(Bb, ldb, transB, k, j));
        float* c = Cb + i * ldc + j;
        // beta == 0 overwrites C without reading it (NaN in C must not leak), as BLAS does.
        *c = beta == 0.0f ? float(alpha * acc) : float(alpha * acc + double(beta) * *c);
      }
    }
  }
}

void itera_sgemv_ref(int transW, int64_t N, int64_t K, float alpha, const float* W, int64_t ldw,
                     const float* x, float beta, float* y) {
  for (int64_t n = 0; n < N; ++n) {
    double acc = 0.0;
    for (int64_t k = 0; k < K; ++k) {
      const float w = transW ? W[n * ldw + k] : W[k * ldw + n];
      acc += double(w) * double(x[k]);
    }
    y[n] = beta == 0.0f ? float(alpha * acc) : float(alpha * acc + double(beta) * y[n]);
  }
}

// ------------------------------------------------------------------ embedding

int itera_embedding_forward_ref(int64_t T, int64_t C, int64_t V, const int32_t* ids,
                                const float* table, int64_t ldt, float* out, int64_t ldo) {
  if (!itera_ids_valid(T, V, ids)) return ITERA_ERR_INDEX_OUT_OF_RANGE;
  for (int64_t t = 0; t < T; ++t)
    for (int64_t c = 0; c < C; ++c) out[t * ldo + c] = table[int64_t(ids[t]) * ldt + c];
  return ITERA_OK;
}

int itera_embedding_backward_ref(int64_t T, int64_t C, int64_t V, const int32_t* ids,
                                 const float* dout, int64_t ldo, float* dtable, int64_t ldt) {
  if (!itera_ids_valid(T, V, ids)) return ITERA_ERR_INDEX_OUT_OF_RANGE;
  for (int64_t t = 0; t < T; ++t)
    for (int64_t c = 0; c < C; ++c) dtable[int64_t(ids[t]) * ldt + c] += dout[t * ldo + c];
  return ITERA_OK;
}

// ------------------------------------------------------------------ normalisation

void itera_rmsnorm_forward_ref(int64_t R, int64_t C, const float* x, int64_t ldx, const float* w,
                               float eps, float* y, int64_t ldy, float* rstd) {
  for (int64_t r = 0; r < R; ++r) {
    const float* xr = x + r * ldx;
    double ss = 0.0;
    for (int64_t c = 0; c < C; ++c) ss += double(xr[c]) * double(xr[c]);
    const float rs = float(1.0 / std::sqrt(ss / double(C) + double(eps)));
    rstd[r] = rs;
    for (int64_t c = 0; c < C; ++c) y[r * ldy + c] = xr[c] * rs * w[c];
  }
}

void itera_rmsnorm_backward_ref(int64_t R, int64_t C, const float* dy, int64_t lddy,
                                const float* x, int64_t ldx, const float* w, const float* rstd,
                                float* dx, int64_t lddx, float* dw) {
  // y = x * r * w with r = (mean(x^2) + eps)^-1/2, dr/dx_j = -r^3 x_j / C:
  //   dx_j += r * dy_j w_j - x_j r^3 * mean_i(dy_i w_i x_i);  dw_j += dy_j x_j r
  for (int64_t r = 0; r < R; ++r) {
    const float* dyr = dy + r * lddy;
    const float* xr = x + r * ldx;
    const double rs = rstd[r];
    double dot = 0.0;
    for (int64_t c = 0; c < C; ++c) dot += double(dyr[c]) * w[c] * xr[c];
    dot /= double(C);
    for (int64_t c = 0; c < C; ++c) {
      dx[r * lddx + c] += float(rs * dyr[c] * w[c] - double(xr[c]) * rs * rs * rs * dot);
      dw[c] += float(double(dyr[c]) * xr[c] * rs);
    }
  }
}

void itera_layernorm_forward_ref(int64_t R, int64_t C, const float* x, int64_t ldx,
                                 const float* w, const float* b, float eps, float* y, int64_t ldy,
                                 float* mean, float* rstd) {
  for (int64_t r = 0; r < R; ++r) {
    const float* xr = x + r * ldx;
    double s = 0.0;
    for (int64_t c = 0; c < C; ++c) s += xr[c];
    const double mu = s / double(C);
    double v = 0.0;
    for (int64_t c = 0; c < C; ++c) v += (xr[c] - mu) * (xr[c] - mu);
    const double rs = 1.0 / std::sqrt(v / double(C) + double(eps));
    mean[r] = float(mu);
    rstd[r] = float(rs);
    for (int64_t c = 0; c < C; ++c) y[r * ldy + c] = float((xr[c] - mu) * rs * w[c] + b[c]);
  }
}

void itera_layernorm_backward_ref(int64_t R, int64_t C, const float* dy, int64_t lddy,
                                  const float* x, int64_t ldx, const float* w, const float* mean,
                                  const float* rstd, float* dx, int64_t lddx, float* dw,
                                  float* db) {
  // g = dy*w, xh = (x - mean) * rstd: dx += rstd * (g - mean(g) - xh * mean(g*xh));
  // dw += dy * xh; db += dy.
  for (int64_t r = 0; r < R; ++r) {
    const float* dyr = dy + r * lddy;
    const float* xr = x + r * ldx;
    const double mu = mean[r], rs = rstd[r];
    double sg = 0.0, sgx = 0.0;
    for (int64_t c = 0; c < C; ++c) {
      const double g = double(dyr[c]) * w[c];
      sg += g;
      sgx += g * (xr[c] - mu) * rs;
    }
    sg /= double(C);
    sgx /= double(C);
    for (int64_t c = 0; c < C; ++c) {
      const double g = double(dyr[c]) * w[c];
      const double xh = (xr[c] - mu) * rs;
      dx[r * lddx + c] += float(rs * (g - sg - xh * sgx));
      dw[c] += float(dyr[c] * xh);
      db[c] += dyr[c];
    }
  }
}

// ------------------------------------------------------------------ softmax

void itera_softmax_forward_ref(int64_t R, int64_t C, const float* x, int64_t ldx, float* y,
                               int64_t ldy) {
  for (int64_t r = 0; r < R; ++r) {
    const float* xr = x + r * ldx;
    float mx = -INFINITY;
    for (int64_t c = 0; c < C; ++c) mx = xr[c] > mx ? xr[c] : mx;
    double s = 0.0;
    for (int64_t c = 0; c < C; ++c) s += std::exp(double(xr[c]) - mx);
    for (int64_t c = 0; c < C; ++c) y[r * ldy + c] = float(std::exp(double(xr[c]) - mx) / s);
  }
}

void itera_softmax_backward_ref(int64_t R, int64_t C, const float* y, int64_t ldy,
                                const float* dy, int64_t lddy, float* dx, int64_t lddx) {
  for (int64_t r = 0; r < R; ++r) {
    const float* yr = y + r * ldy;
    const float* dyr = dy + r * lddy;
    double s = 0.0;
    for (int64_t c = 0; c < C; ++c) s += double(dyr[c]) * yr[c];
    for (int64_t c = 0; c < C; ++c) dx[r * lddx + c] += float(yr[c] * (dyr[c] - s));
  }
}

// ------------------------------------------------------------------ cross-entropy

int itera_cross_entropy_ref(int64_t R, int64_t V, const float* logits, int64_t ldl,
                            const int32_t* targets, int32_t ignore_index, float scale,
                            float* losses, float* dlogits, int64_t lddl) {
  if (!itera_targets_valid(R, V, targets, ignore_index)) return ITERA_ERR_INDEX_OUT_OF_RANGE;
  for (int64_t r = 0; r < R; ++r) {
    const float* lr = logits + r * ldl;
    float* dr = dlogits ? dlogits + r * lddl : nullptr;  // may alias lr
    const int32_t t = targets[r];
    if (t == ignore_index) {
      losses[r] = 0.0f;
      if (dr)
        for (int64_t v = 0; v < V; ++v) dr[v] = 0.0f;
      continue;
    }
    float mx = -INFINITY;
    for (int64_t v = 0; v < V; ++v) mx = lr[v] > mx ? lr[v] : mx;
    double s = 0.0;
    for (int64_t v = 0; v < V; ++v) s += std::exp(double(lr[v]) - mx);
    const double lse = mx + std::log(s);
    losses[r] = float(lse - lr[t]);  // before dr (maybe aliasing lr) is written
    if (dr) {
      for (int64_t v = 0; v < V; ++v) {
        const double p = std::exp(double(lr[v]) - lse);
        dr[v] = float(double(scale) * (p - (v == t ? 1.0 : 0.0)));
      }
    }
  }
  return ITERA_OK;
}

int64_t itera_fused_xent_workspace(int64_t T, int64_t V, int64_t block_rows) {
  return itera_fused_xent_block_rows(T, block_rows) * (V > 0 ? V : 0);
}

int itera_fused_linear_cross_entropy_ref(int64_t T, int64_t C, int64_t V, const float* h,
                                         int64_t ldh, const float* W, int64_t ldw,
                                         const int32_t* targets, int32_t ignore_index,
                                         float scale, float* losses, float* dh, int64_t lddh,
                                         float* dW, int64_t lddw, int64_t block_rows,
                                         float* workspace) {
  if (!itera_targets_valid(T, V, targets, ignore_index)) return ITERA_ERR_INDEX_OUT_OF_RANGE;
  const int64_t rows = itera_fused_xent_block_rows(T, block_rows);
  const bool backward = dh != nullptr || dW != nullptr;
  for (int64_t t0 = 0; t0 < T; t0 += rows) {
    const int64_t bt = T - t0 < rows ? T - t0 : rows;
    // logits block: workspace[i, v] = h[t0+i, :] . W[v, :]   (bt x V, row stride V)
    for (int64_t i = 0; i < bt; ++i)
      for (int64_t v = 0; v < V; ++v) {
        double acc = 0.0;
        for (int64_t c = 0; c < C; ++c) acc += double(h[(t0 + i) * ldh + c]) * W[v * ldw + c];
        workspace[i * V + v] = float(acc);
      }
    // losses, then dlogits = scale * (p - onehot) in place of the logits.
    itera_cross_entropy_ref(bt, V, workspace, V, targets + t0, ignore_index, scale, losses + t0,
                            backward ? workspace : nullptr, V);
    if (!backward) continue;
    if (dh)  // dh[t0+i, :] += dlogits[i, :] . W   (bt x C)
      for (int64_t i = 0; i < bt; ++i)
        for (int64_t c = 0; c < C; ++c) {
          double acc = 0.0;
          for (int64_t v = 0; v < V; ++v) acc += double(workspace[i * V + v]) * W[v * ldw + c];
          dh[(t0 + i) * lddh + c] += float(acc);
        }
    if (dW)  // dW[v, :] += sum_i dlogits[i, v] * h[t0+i, :]   (V x C)
      for (int64_t v = 0; v < V; ++v)
        for (int64_t c = 0; c < C; ++c) {
          double acc = 0.0;
          for (int64_t i = 0; i < bt; ++i) acc += double(workspace[i * V + v]) * h[(t0 + i) * ldh + c];
          dW[v * lddw + c] += float(acc);
        }
  }
  return ITERA_OK;
}

// ------------------------------------------------------------------ activations

void itera_silu_forward_ref(int64_t n, const float* x, float* y) {
  for (int64_t i = 0; i < n; ++i) y[i] = float(x[i] * sigmoid_d(x[i]));
}

void itera_silu_backward_ref(int64_t n, const float* x, const float* dy, float* dx) {
  for (int64_t i = 0; i < n; ++i) {
    const double s = sigmoid_d(x[i]);
    dx[i] += float(dy[i] * s * (1.0 + x[i] * (1.0 - s)));
  }
}

namespace {
constexpr double kSqrt2OverPi = 0.79788456080286535588;
constexpr double kGeluA = 0.044715;
}  // namespace

void itera_gelu_forward_ref(int64_t n, const float* x, float* y) {
  for (int64_t i = 0; i < n; ++i) {
    const double v = x[i];
    y[i] = float(0.5 * v * (1.0 + std::tanh(kSqrt2OverPi * (v + kGeluA * v * v * v))));
  }
}

void itera_gelu_backward_ref(int64_t n, const float* x, const float* dy, float* dx) {
  for (int64_t i = 0; i < n; ++i) {
    const double v = x[i];
    const double t = std::tanh(kSqrt2OverPi * (v + kGeluA * v * v * v));
    const double du = kSqrt2OverPi * (1.0 + 3.0 * kGeluA * v * v);
    dx[i] += float(dy[i] * (0.5 * (1.0 + t) + 0.5 * v * (1.0 - t * t) * du));
  }
}

void itera_softplus_forward_ref(int64_t n, const float* x, float* y) {
  for (int64_t i = 0; i < n; ++i)
    y[i] = x[i] > 20.0f ? x[i] : float(std::log1p(std::exp(double(x[i]))));
}

void itera_softplus_backward_ref(int64_t n, const float* x, const float* dy, float* dx) {
  for (int64_t i = 0; i < n; ++i)
    dx[i] += x[i] > 20.0f ? dy[i] : float(dy[i] * sigmoid_d(x[i]));
}

// ------------------------------------------------------------------ elementwise

void itera_add_ref(int64_t n, const float* a, const float* b, float* out) {
  for (int64_t i = 0; i < n; ++i) out[i] = a[i] + b[i];
}

void itera_axpy_ref(int64_t n, float alpha, const float* x, float* y) {
  for (int64_t i = 0; i < n; ++i) y[i] += alpha * x[i];
}

void itera_scale_ref(int64_t n, float alpha, float* x) {
  for (int64_t i = 0; i < n; ++i) x[i] *= alpha;
}

double itera_sum_squares_ref(int64_t n, const float* x) {
  double s = 0.0;
  for (int64_t i = 0; i < n; ++i) s += double(x[i]) * double(x[i]);
  return s;
}

// ------------------------------------------------------------------ optimiser

void itera_adamw_ref(int64_t n, float* param, const float* grad, float* m, float* v, float lr,
                     float beta1, float beta2, float eps, float weight_decay, float grad_scale,
                     int64_t step) {
  const float bc1 = float(1.0 - std::pow(double(beta1), double(step)));
  const float bc2 = float(1.0 - std::pow(double(beta2), double(step)));
  for (int64_t i = 0; i < n; ++i) {
    const float g = grad[i] * grad_scale;
    m[i] = beta1 * m[i] + (1.0f - beta1) * g;
    v[i] = beta2 * v[i] + (1.0f - beta2) * (g * g);
    const float mhat = m[i] / bc1;
    const float vhat = v[i] / bc2;
    param[i] -= lr * (mhat / (std::sqrt(vhat) + eps) + weight_decay * param[i]);
  }
}

}  // extern "C"
