// Mixture-of-experts routing, dispatch and combine on the GPU (itera_kernels.h "mixture of
// experts"; the CPU moe_reference.cpp is the specification).
//
// Dispatch is one thread block that walks the T*k assignments in token order, 1024 at a time:
// within a warp __match_any_sync groups the lanes routed to the same expert (rank = lower lanes of
// the group), per-warp expert counts are prefix-summed across the 32 warps in shared memory, and
// a running per-expert count carries over from tile to tile. That reproduces the reference's
// stable order exactly (and the capacity drop of the first `capacity` assignments per expert)
// with no sort. One block is plenty for the A = T*k of a training batch (it is a few
// microseconds per 8k assignments); the gathers and combines are the bandwidth-heavy parts.
#include "common.cuh"
#include "itera_cuda.h"

namespace {

using namespace itera_cuda;

constexpr int kMaxTopK = 32;
constexpr int kMaxExperts = 1024;  // (3 + 32) * E ints of shared memory <= 140 KB
constexpr int kDispatchThreads = 1024;
constexpr int kDispatchWarps = kDispatchThreads / 32;

__global__ void topk_kernel(int64_t T, int64_t E, int64_t k, const float* __restrict__ probs,
                            int64_t ldp, int32_t* __restrict__ ids, float* __restrict__ weights) {
  for (int64_t t = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; t < T;
       t += (int64_t)blockDim.x * gridDim.x) {
    const float* p = probs + t * ldp;
    int32_t picked[kMaxTopK];
    double sum = 0.0;
    for (int64_t j = 0; j < k; ++j) {
      int64_t best = -1;
      float bestv = 0.0f;
      for (int64_t e = 0; e < E; ++e) {
        bool taken = false;
        for (int64_t i = 0; i < j; ++i) taken = taken || picked[i] == e;
        if (taken) continue;
        const float v = p[e];
        if (best < 0 || v > bestv) {  // strict '>': ties keep the lower expert index
          best = e;
          bestv = v;
        }
      }
      picked[j] = (int32_t)best;
      sum += (double)bestv;
    }
    for (int64_t j = 0; j < k; ++j) {
      ids[t * k + j] = picked[j];
      weights[t * k + j] = (float)((double)p[picked[j]] / sum);
    }
  }
}

// Dynamic shared memory: counts[E] (routed), seen[E] (kept-or-not count so far), offsets[E],
// warp_counts[kDispatchWarps][E], plus one flag.
__global__ void __launch_bounds__(kDispatchThreads)
    dispatch_kernel(int64_t A, int64_t k, int64_t E, int64_t capacity,
                    const int32_t* __restrict__ ids, int32_t* __restrict__ routed,
                    int32_t* __restrict__ offsets, int32_t* __restrict__ slots,
                    int32_t* __restrict__ perm, int32_t* __restrict__ status) {
  extern __shared__ int32_t sm[];
  int32_t* counts = sm;
  int32_t* seen = counts + E;
  int32_t* base = seen + E;
  int32_t* wc = base + E;  // [warp][E]
  __shared__ int bad;
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  if (tid == 0) bad = 0;
  for (int64_t e = tid; e < E; e += kDispatchThreads) {
    counts[e] = 0;
    seen[e] = 0;
  }
  __syncthreads();
  // 1. validate and histogram
  for (int64_t a = tid; a < A; a += kDispatchThreads) {
    const int32_t id = ids[a];
    if (id < 0 || (int64_t)id >= E)
      bad = 1;
    else
      atomicAdd(&counts[id], 1);
  }
  __syncthreads();
  if (bad) {
    if (tid == 0 && status) *status = -1;  // ITERA_ERR_INDEX_OUT_OF_RANGE, nothing written
    return;
  }
  // 2. kept counts -> exclusive prefix sum (serial: E is small next to A)
  if (tid == 0) {
    int32_t run = 0;
    for (int64_t e = 0; e < E; ++e) {
      base[e] = run;
      offsets[e] = run;
      routed[e] = counts[e];
      const int32_t kept = (capacity > 0 && counts[e] > capacity) ? (int32_t)capacity : counts[e];
      run += kept;
    }
    offsets[E] = run;
    if (status) *status = 0;
  }
  for (int64_t a = tid; a < A; a += kDispatchThreads) perm[a] = -1;
  __syncthreads();  // perm = -1 everywhere before any row is scattered (block-wide visibility)
  // 3. stable scatter, 1024 assignments per tile
  const unsigned lt_mask = (1u << lane) - 1u;
  for (int64_t a0 = 0; a0 < A; a0 += kDispatchThreads) {
    for (int64_t i = tid; i < (int64_t)kDispatchWarps * E; i += kDispatchThreads) wc[i] = 0;
    __syncthreads();
    const int64_t a = a0 + tid;
    const int32_t id = a < A ? ids[a] : -1;
    const unsigned group = __match_any_sync(0xffffffffu, id);
    const int rank = __popc(group & lt_mask);
    if (id >= 0 && rank == 0) wc[warp * E + id] = __popc(group);
    __syncthreads();
    // per expert: exclusive prefix over warps (wc becomes the warp's start within the tile)
    for (int64_t e = tid; e < E; e += kDispatchThreads) {
      int32_t run = 0;
      for (int w = 0; w < kDispatchWarps; ++w) {
        const int32_t c = wc[w * E + e];
        wc[w * E + e] = run;
        run += c;
      }
      counts[e] = run;  // this tile's count (counts[] is free after step 2)
    }
    __syncthreads();
    if (id >= 0) {
      const int64_t pos = (int64_t)seen[id] + wc[warp * E + id] + rank;  // rank within the expert
      if (capacity <= 0 || pos < capacity) {
        const int64_t row = base[id] + pos;
        slots[a] = (int32_t)row;
        perm[row] = (int32_t)a;
      } else {
        slots[a] = -1;
      }
    }
    __syncthreads();
    for (int64_t e = tid; e < E; e += kDispatchThreads) seen[e] += counts[e];
    __syncthreads();
  }
}

// One block per permuted row: xp[r, :] = x[perm[r] / k, :].
__global__ void gather_kernel(int64_t N, int64_t D, int64_t k, const int32_t* __restrict__ perm,
                              const float* __restrict__ x, int64_t ldx, float* __restrict__ xp,
                              int64_t ldxp) {
  for (int64_t r = blockIdx.x; r < N; r += gridDim.x) {
    const int64_t t = perm[r] / k;
    for (int64_t d = threadIdx.x; d < D; d += blockDim.x) xp[r * ldxp + d] = x[t * ldx + d];
  }
}

// One block per token: dx[t, :] += sum over kept j of dxp[slots[t*k + j], :].
__global__ void gather_bwd_kernel(int64_t T, int64_t D, int64_t k,
                                  const int32_t* __restrict__ slots,
                                  const float* __restrict__ dxp, int64_t lddxp,
                                  float* __restrict__ dx, int64_t lddx) {
  for (int64_t t = blockIdx.x; t < T; t += gridDim.x) {
    for (int64_t d = threadIdx.x; d < D; d += blockDim.x) {
      float acc = 0.0f;
      for (int64_t j = 0; j < k; ++j) {
        const int32_t s = slots[t * k + j];
        if (s >= 0) acc += dxp[(int64_t)s * lddxp + d];
      }
      dx[t * lddx + d] += acc;
    }
  }
}

__global__ void combine_kernel(int64_t T, int64_t D, int64_t k, const int32_t* __restrict__ slots,
                               const float* __restrict__ weights, const float* __restrict__ yp,
                               int64_t ldyp, float* __restrict__ out, int64_t ldo) {
  for (int64_t t = blockIdx.x; t < T; t += gridDim.x) {
    for (int64_t d = threadIdx.x; d < D; d += blockDim.x) {
      float acc = 0.0f;
      for (int64_t j = 0; j < k; ++j) {
        const int32_t s = slots[t * k + j];
        if (s >= 0) acc = fmaf(weights[t * k + j], yp[(int64_t)s * ldyp + d], acc);
      }
      out[t * ldo + d] = acc;
    }
  }
}

// dyp[r, :] += weights[perm[r]] * dout[perm[r] / k, :]
__global__ void combine_bwd_data_kernel(int64_t N, int64_t D, int64_t k,
                                        const int32_t* __restrict__ perm,
                                        const float* __restrict__ weights,
                                        const float* __restrict__ dout, int64_t lddo,
                                        float* __restrict__ dyp, int64_t lddyp) {
  for (int64_t r = blockIdx.x; r < N; r += gridDim.x) {
    const int64_t a = perm[r];
    const int64_t t = a / k;
    const float w = weights[a];
    for (int64_t d = threadIdx.x; d < D; d += blockDim.x)
      dyp[r * lddyp + d] = fmaf(w, dout[t * lddo + d], dyp[r * lddyp + d]);
  }
}

// One warp per assignment: dweights[a] += <dout[a / k, :], yp[slots[a], :]> (kept a only).
__global__ void combine_bwd_weight_kernel(int64_t A, int64_t D, int64_t k,
                                          const int32_t* __restrict__ slots,
                                          const float* __restrict__ dout, int64_t lddo,
                                          const float* __restrict__ yp, int64_t ldyp,
                                          float* __restrict__ dweights) {
  const int lane = threadIdx.x & 31;
  const int64_t warps = (int64_t)gridDim.x * (blockDim.x >> 5);
  for (int64_t a = (int64_t)blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5); a < A;
       a += warps) {
    const int32_t s = slots[a];  // uniform over the warp
    if (s < 0) continue;
    const float* o = dout + (a / k) * lddo;
    const float* yr = yp + (int64_t)s * ldyp;
    float acc = 0.0f;
    for (int64_t d = lane; d < D; d += 32) acc = fmaf(o[d], yr[d], acc);
    acc = warp_sum(acc);
    if (lane == 0) dweights[a] += acc;
  }
}

__global__ void swiglu_fwd_kernel(int64_t n, const float* __restrict__ h1,
                                  const float* __restrict__ h3, float* __restrict__ out) {
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
       i += (int64_t)blockDim.x * gridDim.x) {
    const float x = h1[i];
    out[i] = x * sigmoidf_(x) * h3[i];
  }
}

__global__ void swiglu_bwd_kernel(int64_t n, const float* __restrict__ h1,
                                  const float* __restrict__ h3, const float* __restrict__ dout,
                                  float* __restrict__ dh1, float* __restrict__ dh3) {
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
       i += (int64_t)blockDim.x * gridDim.x) {
    const float x = h1[i];
    const float s = sigmoidf_(x);
    const float g = dout[i];
    dh1[i] += g * h3[i] * s * (1.0f + x * (1.0f - s));
    dh3[i] += g * x * s;
  }
}

unsigned rows_grid(int64_t rows) {
  const int64_t cap = (int64_t)sm_count() * 16;
  return (unsigned)(rows < cap ? (rows > 0 ? rows : 1) : cap);
}

int row_threads(int64_t D) { return D >= 256 ? 256 : (D >= 128 ? 128 : (D >= 64 ? 64 : 32)); }

}  // namespace

extern "C" {

int itera_cuda_moe_topk(int64_t T, int64_t E, int64_t k, const float* probs, int64_t ldp,
                        int32_t* ids, float* weights, void* stream) {
  if (k < 1 || k > E || k > kMaxTopK) return kInvalid;
  if (T <= 0) return (int)cudaSuccess;
  topk_kernel<<<grid_for(T, 128), 128, 0, as_stream(stream)>>>(T, E, k, probs, ldp, ids, weights);
  return launch_status();
}

int itera_cuda_moe_dispatch(int64_t T, int64_t k, int64_t E, int64_t capacity,
                            const int32_t* ids, int32_t* routed, int32_t* offsets,
                            int32_t* slots, int32_t* perm, int32_t* device_status, void* stream) {
  if (E < 1 || E > kMaxExperts || k < 1 || T < 0) return kInvalid;
  const size_t smem = sizeof(int32_t) * (size_t)E * (3 + kDispatchWarps);
  if (smem > 48 * 1024) {
    cudaError_t err = cudaFuncSetAttribute(dispatch_kernel,
                                           cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem);
    if (err != cudaSuccess) return (int)err;
  }
  dispatch_kernel<<<1, kDispatchThreads, smem, as_stream(stream)>>>(
      T * k, k, E, capacity, ids, routed, offsets, slots, perm, device_status);
  return launch_status();
}

int itera_cuda_moe_gather(int64_t N, int64_t D, int64_t k, const int32_t* perm, const float* x,
                          int64_t ldx, float* xp, int64_t ldxp, void* stream) {
  if (N <= 0 || D <= 0) return (int)cudaSuccess;
  gather_kernel<<<rows_grid(N), row_threads(D), 0, as_stream(stream)>>>(N, D, k, perm, x, ldx, xp,
                                                                      ldxp);
  return launch_status();
}

int itera_cuda_moe_gather_backward(int64_t T, int64_t D, int64_t k, const int32_t* slots,
                                   const float* dxp, int64_t lddxp, float* dx, int64_t lddx,
                                   void* stream) {
  if (T <= 0 || D <= 0) return (int)cudaSuccess;
  gather_bwd_kernel<<<rows_grid(T), row_threads(D), 0, as_stream(stream)>>>(T, D, k, slots, dxp,
                                                                          lddxp, dx, lddx);
  return launch_status();
}

int itera_cuda_moe_combine(int64_t T, int64_t D, int64_t k, const int32_t* slots,
                           const float* weights, const float* yp, int64_t ldyp, float* out,
                           int64_t ldo, void* stream) {
  if (T <= 0 || D <= 0) return (int)cudaSuccess;
  combine_kernel<<<rows_grid(T), row_threads(D), 0, as_stream(stream)>>>(T, D, k, slots, weights,
                                                                       yp, ldyp, out, ldo);
  return launch_status();
}

int itera_cuda_moe_combine_backward(int64_t T, int64_t N, int64_t D, int64_t k,
                                    const int32_t* perm, const int32_t* slots,
                                    const float* weights, const float* dout, int64_t lddo,
                                    const float* yp, int64_t ldyp, float* dyp, int64_t lddyp,
                                    float* dweights, void* stream) {
  if (D <= 0) return (int)cudaSuccess;
  cudaStream_t st = as_stream(stream);
  if (N > 0)
    combine_bwd_data_kernel<<<rows_grid(N), row_threads(D), 0, st>>>(N, D, k, perm, weights, dout,
                                                                     lddo, dyp, lddyp);
  const int64_t A = T * k;
  if (A > 0)
    combine_bwd_weight_kernel<<<grid_for(A * 32, 256), 256, 0, st>>>(A, D, k, slots, dout, lddo,
                                                                    yp, ldyp, dweights);
  return launch_status();
}

int itera_cuda_swiglu_forward(int64_t n, const float* h1, const float* h3, float* out,
                              void* stream) {
  if (n <= 0) return (int)cudaSuccess;
  swiglu_fwd_kernel<<<grid_for(n, 256), 256, 0, as_stream(stream)>>>(n, h1, h3, out);
  return launch_status();
}

int itera_cuda_swiglu_backward(int64_t n, const float* h1, const float* h3, const float* dout,
                               float* dh1, float* dh3, void* stream) {
  if (n <= 0) return (int)cudaSuccess;
  swiglu_bwd_kernel<<<grid_for(n, 256), 256, 0, as_stream(stream)>>>(n, h1, h3, dout, dh1, dh3);
  return launch_status();
}

}  // extern "C"
