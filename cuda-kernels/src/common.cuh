// Helpers shared by the kernel translation units (not part of the ABI).
#ifndef ITERA_CUDA_COMMON_CUH
#define ITERA_CUDA_COMMON_CUH

#include <cuda_runtime.h>
#include <stdint.h>

namespace itera_cuda {

inline cudaStream_t as_stream(void* s) { return reinterpret_cast<cudaStream_t>(s); }

// Launch status: the launch error if any, cudaSuccess otherwise. cudaPeekAtLastError would leave a
// sticky-looking error for the next call; cudaGetLastError clears the slot.
inline int launch_status() { return (int)cudaGetLastError(); }

constexpr int kInvalid = (int)cudaErrorInvalidValue;

inline int sm_count() {
  int device = 0, sms = 0;
  if (cudaGetDevice(&device) != cudaSuccess ||
      cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device) != cudaSuccess ||
      sms <= 0) {
    cudaGetLastError();
    sms = 132;
  }
  return sms;
}

// Grid for a grid-stride loop over n items with `block` threads: enough blocks to fill the GPU.
inline unsigned grid_for(int64_t n, int block) {
  const int64_t max_blocks = (int64_t)sm_count() * (2048 / block);
  int64_t blocks = (n + block - 1) / block;
  if (blocks > max_blocks) blocks = max_blocks;
  if (blocks < 1) blocks = 1;
  return (unsigned)blocks;
}

__device__ __forceinline__ float sigmoidf_(float x) { return 1.0f / (1.0f + expf(-x)); }

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}
__device__ __forceinline__ float warp_max(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

// Block-wide sum/max for blockDim.x a multiple of 32 (<= 1024); every thread gets the result.
// `scratch` holds 32 floats; the trailing __syncthreads lets callers reuse it immediately.
__device__ __forceinline__ float block_sum(float v, float* scratch) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
  v = warp_sum(v);
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  float r = lane < nw ? scratch[lane] : 0.0f;
  r = warp_sum(r);
  __syncthreads();
  return r;
}
__device__ __forceinline__ float block_max(float v, float* scratch) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
  v = warp_max(v);
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  float r = lane < nw ? scratch[lane] : -INFINITY;
  r = warp_max(r);
  __syncthreads();
  return r;
}

}  // namespace itera_cuda

#endif
