// Q8_0 / Q4_0 GEMV (decode-time products with ggml-quantised weights), y = W x.
//
// Memory is the whole story here (a 4096 x 4096 Q4_0 matrix is 9.4 MB read once per token), so
// each warp owns one weight row at a time and pulls it in with 16-byte vector loads into a
// per-warp shared-memory buffer, up to 4 x 32 quant blocks at once (a whole 4096-wide row),
// which keeps ~8 independent 16-byte loads per lane in flight. The 34- and 18-byte blocks are
// only 2-byte aligned, so the buffer keeps the row's offset modulo 16 and each lane then decodes
// its own block from shared memory (fp16 scale + packed quants) against x read as float4.
#include <cuda_fp16.h>

#include "common.cuh"
#include "itera_cuda.h"

namespace {

using namespace itera_cuda;

constexpr int kWarps = 8;
constexpr int kUnroll = 4;  // 32-block segments staged per round

template <int BS>
struct Stage {
  static constexpr int kBytes = (kUnroll * 32 * BS + 16 + 15) / 16 * 16;
};

__device__ __forceinline__ float half_at(const unsigned char* p) {
  const unsigned short bits = *reinterpret_cast<const unsigned short*>(p);
  return __half2float(__ushort_as_half(bits));
}

// Dot of one quant block (at p, in shared memory) with 32 floats of x (global, 16-byte aligned).
template <bool Q4>
__device__ __forceinline__ float block_dot(const unsigned char* p, const float* __restrict__ x) {
  const float d = half_at(p);
  const unsigned short* q = reinterpret_cast<const unsigned short*>(p + 2);
  const float4* x4 = reinterpret_cast<const float4*>(x);
  float acc = 0.0f;
  if (!Q4) {
#pragma unroll
    for (int i = 0; i < 8; ++i) {  // 4 int8 quants per step
      const unsigned short lo = q[2 * i], hi = q[2 * i + 1];
      const float4 xv = __ldg(&x4[i]);
      acc = fmaf((float)(signed char)(lo & 0xff), xv.x, acc);
      acc = fmaf((float)(signed char)(lo >> 8), xv.y, acc);
      acc = fmaf((float)(signed char)(hi & 0xff), xv.z, acc);
      acc = fmaf((float)(signed char)(hi >> 8), xv.w, acc);
    }
  } else {
    // byte j: element j (low nibble) and element j + 16 (high nibble), both stored + 8
#pragma unroll
    for (int i = 0; i < 4; ++i) {  // bytes 4i .. 4i+3
      const unsigned short lo = q[2 * i], hi = q[2 * i + 1];
      const float4 xa = __ldg(&x4[i]);      // elements 4i .. 4i+3
      const float4 xb = __ldg(&x4[i + 4]);  // elements 16 + 4i ..
      acc = fmaf((float)((int)(lo & 0xf) - 8), xa.x, acc);
      acc = fmaf((float)((int)((lo >> 8) & 0xf) - 8), xa.y, acc);
      acc = fmaf((float)((int)(hi & 0xf) - 8), xa.z, acc);
      acc = fmaf((float)((int)((hi >> 8) & 0xf) - 8), xa.w, acc);
      acc = fmaf((float)((int)((lo >> 4) & 0xf) - 8), xb.x, acc);
      acc = fmaf((float)((int)((lo >> 12) & 0xf) - 8), xb.y, acc);
      acc = fmaf((float)((int)((hi >> 4) & 0xf) - 8), xb.z, acc);
      acc = fmaf((float)((int)((hi >> 12) & 0xf) - 8), xb.w, acc);
    }
  }
  return d * acc;
}

template <int BS, bool Q4>
__global__ void __launch_bounds__(kWarps * 32)
    gemv_kernel(int64_t N, int64_t K, const unsigned char* __restrict__ W,
                const float* __restrict__ x, float* __restrict__ y) {
  __shared__ __align__(16) unsigned char stage[kWarps][Stage<BS>::kBytes];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  unsigned char* buf = stage[warp];
  const int64_t nb = K / 32;
  const int64_t row_bytes = nb * BS;
  const unsigned char* end = W + N * row_bytes;
  for (int64_t n = (int64_t)blockIdx.x * kWarps + warp; n < N; n += (int64_t)gridDim.x * kWarps) {
    const unsigned char* row = W + n * row_bytes;
    float acc = 0.0f;
    for (int64_t g0 = 0; g0 < nb; g0 += kUnroll * 32) {
      const int64_t nblk = nb - g0 < kUnroll * 32 ? nb - g0 : kUnroll * 32;
      const unsigned char* p = row + g0 * BS;
      const int off = (int)((uintptr_t)p & 15);
      const unsigned char* base = p - off;  // within this row or the previous one (W is 16-aligned)
      const int nvec = (int)((off + nblk * BS + 15) / 16);
      __syncwarp();  // the previous round's readers are done with buf
      for (int v = lane; v < nvec; v += 32) {
        const unsigned char* src = base + 16 * v;
        if (src + 16 <= end) {
          *reinterpret_cast<uint4*>(buf + 16 * v) = __ldg(reinterpret_cast<const uint4*>(src));
        } else {
          for (int i = 0; i < 16; ++i) buf[16 * v + i] = src + i < end ? src[i] : 0;
        }
      }
      __syncwarp();
#pragma unroll
      for (int u = 0; u < kUnroll; ++u) {
        const int64_t blk = (int64_t)u * 32 + lane;
        if (blk < nblk) acc += block_dot<Q4>(buf + off + blk * BS, x + (g0 + blk) * 32);
      }
    }
    acc = warp_sum(acc);
    if (lane == 0) y[n] = acc;
  }
}

template <int BS, bool Q4>
int launch_gemv(int64_t N, int64_t K, const void* W, const float* x, float* y, void* stream) {
  if (N <= 0) return (int)cudaSuccess;
  if (K <= 0 || K % 32 != 0 || K > 32768) return kInvalid;
  if (((uintptr_t)x & 15) != 0 || ((uintptr_t)W & 15) != 0) return kInvalid;
  int64_t blocks = (N + kWarps - 1) / kWarps;
  const int64_t cap = (int64_t)sm_count() * 64;
  if (blocks > cap) blocks = cap;
  gemv_kernel<BS, Q4><<<(unsigned)blocks, kWarps * 32, 0, as_stream(stream)>>>(
      N, K, static_cast<const unsigned char*>(W), x, y);
  return launch_status();
}

}  // namespace

extern "C" {

int itera_cuda_gemv_q8_0(int64_t N, int64_t K, const void* W, const float* x, float* y,
                         void* stream) {
  return launch_gemv<34, false>(N, K, W, x, y, stream);
}

int itera_cuda_gemv_q4_0(int64_t N, int64_t K, const void* W, const float* x, float* y,
                         void* stream) {
  return launch_gemv<18, true>(N, K, W, x, y, stream);
}

}  // extern "C"
