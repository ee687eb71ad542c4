// A small CPU emulator of the CUDA execution model, enough to run this project's kernels on a
// machine without a GPU (bench/emu/README.md): every thread of a block is a ucontext coroutine
// on one OS thread, scheduled round-robin; __syncthreads is a block barrier; warp collectives
// (__shfl*_sync, __match_any_sync, __syncwarp) are two warp barriers around an exchange buffer;
// __shared__ variables are statics (blocks run one after another); atomics are plain updates
// (one OS thread). It checks logic (indexing, barriers, lane exchanges, reductions), not speed,
// memory-model subtleties or the compiler's code generation for the GPU.
#ifndef ITERA_CUDA_EMU_H
#define ITERA_CUDA_EMU_H

#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <vector>

#undef __global__
#define __global__
#undef __device__
#define __device__
#undef __host__
#define __host__
#undef __forceinline__
#define __forceinline__ inline
#undef __launch_bounds__
#define __launch_bounds__(...)
#undef __shared__
#define __shared__ static

namespace itera_emu {

extern uint3 threadIdx_, blockIdx_;
extern dim3 blockDim_, gridDim_;
void sync_block();
void sync_warp();
unsigned exchange(unsigned v, int src_lane);  // value of src_lane's v (lane of this warp)
unsigned match_any(unsigned v);
void* dynamic_smem();
void launch(dim3 grid, dim3 block, size_t smem, const std::function<void()>& body);

}  // namespace itera_emu

#define threadIdx ::itera_emu::threadIdx_
#define blockIdx ::itera_emu::blockIdx_
#define blockDim ::itera_emu::blockDim_
#define gridDim ::itera_emu::gridDim_

inline void __syncthreads() { itera_emu::sync_block(); }
inline void __syncwarp(unsigned = 0xffffffffu) { itera_emu::sync_warp(); }
inline unsigned emu_bits(float v) { unsigned u; std::memcpy(&u, &v, 4); return u; }
inline float emu_float(unsigned u) { float v; std::memcpy(&v, &u, 4); return v; }
inline float __shfl_sync(unsigned, float v, int src, int = 32) {
  return emu_float(itera_emu::exchange(emu_bits(v), src & 31));
}
inline int __shfl_sync(unsigned, int v, int src, int = 32) {
  return (int)itera_emu::exchange((unsigned)v, src & 31);
}
inline float __shfl_xor_sync(unsigned, float v, int m, int = 32) {
  return emu_float(itera_emu::exchange(emu_bits(v), (int)((threadIdx.x & 31) ^ (unsigned)m)));
}
inline unsigned __match_any_sync(unsigned, int v) { return itera_emu::match_any((unsigned)v); }
inline int __popc(unsigned v) { return __builtin_popcount(v); }
inline float atomicAdd(float* p, float v) { const float o = *p; *p = o + v; return o; }
inline int atomicAdd(int* p, int v) { const int o = *p; *p = o + v; return o; }
template <class T>
inline T __ldg(const T* p) { return *p; }
inline float rsqrtf(float x) { return 1.0f / std::sqrt(x); }
template <class T>  // nvcc's C++ overload for kernel pointers
inline cudaError_t cudaFuncSetAttribute(T*, cudaFuncAttribute, int) { return cudaSuccess; }

// kernel<<<grid, block, smem, stream>>>(args) is rewritten by bench/emu/emulate.py into
// EMU_LAUNCH(kernel, grid, block, smem, stream)(args)
#define EMU_LAUNCH(kernel, ...) ::itera_emu::Launcher(__VA_ARGS__).bind(kernel)
namespace itera_emu {
struct Launcher {
  dim3 grid, block;
  size_t smem;
  Launcher(dim3 g, dim3 b, size_t s = 0, cudaStream_t = nullptr) : grid(g), block(b), smem(s) {}
  template <class F>
  auto bind(F* kernel) {
    return [=](auto... args) { launch(grid, block, smem, [=]() { kernel(args...); }); };
  }
};
}  // namespace itera_emu

#endif
