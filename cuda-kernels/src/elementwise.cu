// Elementwise kernels: grid-stride loops over int64 sizes, launched on the default stream.
#include "itera_cuda.h"

#include <cuda_runtime.h>

namespace {

constexpr int kBlock = 256;

__global__ void add_kernel(int64_t n, const float* __restrict__ a, const float* __restrict__ b,
                           float* out) {
  // no __restrict__ on out: it may alias a or b (each element is read before it is written)
  const int64_t stride = (int64_t)blockDim.x * gridDim.x;
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
    out[i] = a[i] + b[i];
  }
}

__global__ void axpy_kernel(int64_t n, float alpha, const float* __restrict__ x,
                            float* __restrict__ y) {
  const int64_t stride = (int64_t)blockDim.x * gridDim.x;
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
    y[i] = fmaf(alpha, x[i], y[i]);
  }
}

// Enough blocks to fill every SM several times over; the grid-stride loop covers the rest.
// The attribute query is cheap (cached by the driver) and follows the caller's current device.
int grid_for(int64_t n) {
  int device = 0, sms = 0;
  if (cudaGetDevice(&device) != cudaSuccess ||
      cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device) != cudaSuccess ||
      sms <= 0) {
    cudaGetLastError();
    sms = 132;  // H100 SXM; a failed query shows up again as the launch error
  }
  const int64_t max_blocks = (int64_t)sms * 8;  // 8 x 256 threads = 2048 per SM on sm_80/sm_90
  const int64_t blocks = (n + kBlock - 1) / kBlock;
  return (int)(blocks < max_blocks ? blocks : max_blocks);
}

}  // namespace

extern "C" {

int itera_cuda_add(int64_t n, const float* a, const float* b, float* out) {
  if (n <= 0) return (int)cudaSuccess;
  add_kernel<<<grid_for(n), kBlock>>>(n, a, b, out);
  return (int)cudaGetLastError();
}

int itera_cuda_axpy(int64_t n, float alpha, const float* x, float* y) {
  if (n <= 0) return (int)cudaSuccess;
  axpy_kernel<<<grid_for(n), kBlock>>>(n, alpha, x, y);
  return (int)cudaGetLastError();
}

}  // extern "C"
