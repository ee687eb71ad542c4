// Row-wise kernels (RMSNorm, softmax, fused softmax cross-entropy) and the fused AdamW step, with
// the semantics of the CPU reference.cpp. One thread block per row with block-wide reductions
// in float; column reductions over rows (RMSNorm dw) run as a separate column-parallel kernel
// over row segments with one atomic per (segment, column).
#include "common.cuh"
#include "itera_cuda.h"

namespace {

using namespace itera_cuda;

constexpr int kRowThreads = 256;

__global__ void __launch_bounds__(kRowThreads)
    rmsnorm_fwd_kernel(int64_t R, int64_t C, const float* __restrict__ x, int64_t ldx,
                       const float* __restrict__ w, float eps, float* __restrict__ y, int64_t ldy,
                       float* __restrict__ rstd) {
  __shared__ float scratch[32];
  for (int64_t r = blockIdx.x; r < R; r += gridDim.x) {
    const float* xr = x + r * ldx;
    float ss = 0.0f;
    for (int64_t c = threadIdx.x; c < C; c += blockDim.x) ss = fmaf(xr[c], xr[c], ss);
    ss = block_sum(ss, scratch);
    const float rs = rsqrtf(ss / (float)C + eps);
    if (threadIdx.x == 0) rstd[r] = rs;
    for (int64_t c = threadIdx.x; c < C; c += blockDim.x) y[r * ldy + c] = xr[c] * rs * w[c];
  }
}

// dx += rs * dy * w - x * rs^3 * mean(dy * w * x)
__global__ void __launch_bounds__(kRowThreads)
    rmsnorm_bwd_dx_kernel(int64_t R, int64_t C, const float* __restrict__ dy, int64_t lddy,
                          const float* __restrict__ x, int64_t ldx, const float* __restrict__ w,
                          const float* __restrict__ rstd, float* __restrict__ dx, int64_t lddx) {
  __shared__ float scratch[32];
  for (int64_t r = blockIdx.x; r < R; r += gridDim.x) {
    const float* dyr = dy + r * lddy;
    const float* xr = x + r * ldx;
    const float rs = rstd[r];
    float dot = 0.0f;
    for (int64_t c = threadIdx.x; c < C; c += blockDim.x) dot = fmaf(dyr[c] * w[c], xr[c], dot);
    dot = block_sum(dot, scratch) / (float)C;
    const float k3 = rs * rs * rs * dot;
    for (int64_t c = threadIdx.x; c < C; c += blockDim.x)
      dx[r * lddx + c] += rs * dyr[c] * w[c] - xr[c] * k3;
  }
}

constexpr int kColRows = 128;  // rows per segment of the column reduction

// dw[c] += sum_r dy[r, c] * x[r, c] * rstd[r]
__global__ void rmsnorm_bwd_dw_kernel(int64_t R, int64_t C, const float* __restrict__ dy,
                                      int64_t lddy, const float* __restrict__ x, int64_t ldx,
                                      const float* __restrict__ rstd, float* __restrict__ dw) {
  const int64_t c = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  if (c >= C) return;
  const int64_t r0 = (int64_t)blockIdx.y * kColRows;
  const int64_t r1 = r0 + kColRows < R ? r0 + kColRows : R;
  float acc = 0.0f;
  for (int64_t r = r0; r < r1; ++r) acc = fmaf(dy[r * lddy + c] * x[r * ldx + c], rstd[r], acc);
  atomicAdd(&dw[c], acc);
}

__global__ void __launch_bounds__(kRowThreads)
    softmax_fwd_kernel(int64_t R, int64_t C, const float* __restrict__ x, int64_t ldx,
                       float* __restrict__ y, int64_t ldy) {
  __shared__ float scratch[32];
  for (int64_t r = blockIdx.x; r < R; r += gridDim.x) {
    const float* xr = x + r * ldx;
    float mx = -INFINITY;
    for (int64_t c = threadIdx.x; c < C; c += blockDim.x) mx = fmaxf(mx, xr[c]);
    mx = block_max(mx, scratch);
    float s = 0.0f;
    for (int64_t c = threadIdx.x; c < C; c += blockDim.x) s += expf(xr[c] - mx);
    s = block_sum(s, scratch);
    const float inv = 1.0f / s;
    for (int64_t c = threadIdx.x; c < C; c += blockDim.x) y[r * ldy + c] = expf(xr[c] - mx) * inv;
  }
}

__global__ void __launch_bounds__(kRowThreads)
    softmax_bwd_kernel(int64_t R, int64_t C, const float* __restrict__ y, int64_t ldy,
                       const float* __restrict__ dy, int64_t lddy, float* __restrict__ dx,
                       int64_t lddx) {
  __shared__ float scratch[32];
  for (int64_t r = blockIdx.x; r < R; r += gridDim.x) {
    const float* yr = y + r * ldy;
    const float* dyr = dy + r * lddy;
    float s = 0.0f;
    for (int64_t c = threadIdx.x; c < C; c += blockDim.x) s = fmaf(dyr[c], yr[c], s);
    s = block_sum(s, scratch);
    for (int64_t c = threadIdx.x; c < C; c += blockDim.x) dx[r * lddx + c] += yr[c] * (dyr[c] - s);
  }
}

__global__ void xent_validate_kernel(int64_t R, int64_t V, const int32_t* __restrict__ targets,
                                     int32_t ignore_index, int32_t* __restrict__ status) {
  for (int64_t r = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; r < R;
       r += (int64_t)blockDim.x * gridDim.x) {
    const int32_t t = targets[r];
    if (t != ignore_index && (t < 0 || (int64_t)t >= V)) *status = -1;  // ITERA_ERR_INDEX_OUT_OF_RANGE
  }
}

// logits and dlogits may alias: every element is read (max, sum, target) before the block's
// __syncthreads and then read-then-written by one thread.
__global__ void __launch_bounds__(kRowThreads)
    xent_kernel(int64_t R, int64_t V, const float* logits, int64_t ldl,
                const int32_t* __restrict__ targets, int32_t ignore_index, float scale,
                float* __restrict__ losses, float* dlogits, int64_t lddl,
                const int32_t* __restrict__ status) {
  __shared__ float scratch[32];
  if (status && *status != 0) return;  // uniform: set by the validation kernel before this one
  for (int64_t r = blockIdx.x; r < R; r += gridDim.x) {
    const float* lr = logits + r * ldl;
    float* dr = dlogits ? dlogits + r * lddl : nullptr;
    const int32_t t = targets[r];
    if (t == ignore_index) {
      if (threadIdx.x == 0) losses[r] = 0.0f;
      if (dr)
        for (int64_t v = threadIdx.x; v < V; v += blockDim.x) dr[v] = 0.0f;
      continue;
    }
    if (t < 0 || (int64_t)t >= V) {  // only reachable without device_status: never read out of range
      if (threadIdx.x == 0) losses[r] = NAN;
      continue;
    }
    float mx = -INFINITY;
    for (int64_t v = threadIdx.x; v < V; v += blockDim.x) mx = fmaxf(mx, lr[v]);
    mx = block_max(mx, scratch);
    float s = 0.0f;
    for (int64_t v = threadIdx.x; v < V; v += blockDim.x) s += expf(lr[v] - mx);
    s = block_sum(s, scratch);  // ends with __syncthreads
    const float lse = mx + logf(s);
    const float target_logit = lr[t];
    __syncthreads();  // everyone has read lr[t] before dr (maybe == lr) is written
    if (threadIdx.x == 0) losses[r] = lse - target_logit;
    if (dr) {
      for (int64_t v = threadIdx.x; v < V; v += blockDim.x) {
        const float p = expf(lr[v] - lse);
        dr[v] = scale * (p - (v == t ? 1.0f : 0.0f));
      }
    }
    __syncthreads();  // the next row's reductions reuse scratch
  }
}

__global__ void adamw_kernel(int64_t n, float* __restrict__ p, const float* __restrict__ grad,
                             float* __restrict__ m, float* __restrict__ v, float lr, float beta1,
                             float beta2, float eps, float wd, float gs, float bc1, float bc2) {
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
       i += (int64_t)blockDim.x * gridDim.x) {
    const float g = grad[i] * gs;
    const float mi = beta1 * m[i] + (1.0f - beta1) * g;
    const float vi = beta2 * v[i] + (1.0f - beta2) * (g * g);
    m[i] = mi;
    v[i] = vi;
    const float mhat = mi / bc1;
    const float vhat = vi / bc2;
    const float pi = p[i];
    p[i] = pi - lr * (mhat / (sqrtf(vhat) + eps) + wd * pi);
  }
}

unsigned row_grid(int64_t R) {
  const int64_t cap = (int64_t)sm_count() * 16;
  return (unsigned)(R < cap ? R : cap);
}

}  // namespace

extern "C" {

int itera_cuda_rmsnorm_forward(int64_t R, int64_t C, const float* x, int64_t ldx, const float* w,
                               float eps, float* y, int64_t ldy, float* rstd, void* stream) {
  if (R <= 0 || C <= 0) return (int)cudaSuccess;
  rmsnorm_fwd_kernel<<<row_grid(R), kRowThreads, 0, as_stream(stream)>>>(R, C, x, ldx, w, eps, y,
                                                                       ldy, rstd);
  return launch_status();
}

int itera_cuda_rmsnorm_backward(int64_t R, int64_t C, const float* dy, int64_t lddy,
                                const float* x, int64_t ldx, const float* w, const float* rstd,
                                float* dx, int64_t lddx, float* dw, void* stream) {
  if (R <= 0 || C <= 0) return (int)cudaSuccess;
  const int64_t segs = (R + kColRows - 1) / kColRows;
  if (segs > 65535) return kInvalid;
  cudaStream_t st = as_stream(stream);
  rmsnorm_bwd_dx_kernel<<<row_grid(R), kRowThreads, 0, st>>>(R, C, dy, lddy, x, ldx, w, rstd, dx,
                                                           lddx);
  const dim3 grid((unsigned)((C + 255) / 256), (unsigned)segs);
  rmsnorm_bwd_dw_kernel<<<grid, 256, 0, st>>>(R, C, dy, lddy, x, ldx, rstd, dw);
  return launch_status();
}

int itera_cuda_softmax_forward(int64_t R, int64_t C, const float* x, int64_t ldx, float* y,
                               int64_t ldy, void* stream) {
  if (R <= 0 || C <= 0) return (int)cudaSuccess;
  softmax_fwd_kernel<<<row_grid(R), kRowThreads, 0, as_stream(stream)>>>(R, C, x, ldx, y, ldy);
  return launch_status();
}

int itera_cuda_softmax_backward(int64_t R, int64_t C, const float* y, int64_t ldy,
                                const float* dy, int64_t lddy, float* dx, int64_t lddx,
                                void* stream) {
  if (R <= 0 || C <= 0) return (int)cudaSuccess;
  softmax_bwd_kernel<<<row_grid(R), kRowThreads, 0, as_stream(stream)>>>(R, C, y, ldy, dy, lddy,
                                                                       dx, lddx);
  return launch_status();
}

int itera_cuda_cross_entropy(int64_t R, int64_t V, const float* logits, int64_t ldl,
                             const int32_t* targets, int32_t ignore_index, float scale,
                             float* losses, float* dlogits, int64_t lddl,
                             int32_t* device_status, void* stream) {
  if (R <= 0) return (int)cudaSuccess;
  if (V <= 0) return kInvalid;
  cudaStream_t st = as_stream(stream);
  if (device_status) {
    cudaError_t err = cudaMemsetAsync(device_status, 0, sizeof(int32_t), st);
    if (err != cudaSuccess) return (int)err;
    xent_validate_kernel<<<grid_for(R, 256), 256, 0, st>>>(R, V, targets, ignore_index,
                                                           device_status);
  }
  xent_kernel<<<row_grid(R), kRowThreads, 0, st>>>(R, V, logits, ldl, targets, ignore_index,
                                                   scale, losses, dlogits, lddl, device_status);
  return launch_status();
}

int itera_cuda_adamw(int64_t n, float* param, const float* grad, float* m, float* v, float lr,
                     float beta1, float beta2, float eps, float weight_decay, float grad_scale,
                     int64_t step, void* stream) {
  if (n <= 0) return (int)cudaSuccess;
  if (step < 1) return kInvalid;
  // bias corrections exactly as the reference computes them (double pow, rounded to float)
  const float bc1 = (float)(1.0 - pow((double)beta1, (double)step));
  const float bc2 = (float)(1.0 - pow((double)beta2, (double)step));
  adamw_kernel<<<grid_for(n, 256), 256, 0, as_stream(stream)>>>(
      n, param, grad, m, v, lr, beta1, beta2, eps, weight_decay, grad_scale, bc1, bc2);
  return launch_status();
}

}  // extern "C"
