// Selective SSM (Mamba-1) on the GPU: causal depthwise conv1d and the selective scan, forward /
// backward / decode step, with the layouts and maths of the "selective SSM" section of
// itera_kernels.h (the CPU ssm_reference.cpp is the specification).
//
// Scan design. The layout is token-major ([Bt*L, E] rows), so consecutive threads take
// consecutive channels (coalesced loads of u, delta, z, dy) and walk the tokens serially; the N
// states of a channel are split over SPLIT adjacent lanes (4 for N <= 16, 16 up to N = 64; state n
// lives on lane n % SPLIT, at most 4 states per lane), which multiplies the thread count (Bt*E
// channels alone do not fill an H100 at batch 8) and keeps
// the states in registers. B and C rows (shared by all channels) are staged in shared memory per
// tile of TS tokens, and the next tile's per-channel inputs are loaded into registers while the
// current tile is computed. The backward walks the chunks in reverse; inside a chunk it first
// recomputes the state at every TS-token sub-tile start (kept in shared memory), then, sub-tile by
// sub-tile in reverse, recomputes the TS states of the sub-tile into registers and runs the
// adjoint recurrence lambda_t = C_t gy_t + exp(d_{t+1} A) lambda_{t+1}. dB and dC (sums over
// channels) are reduced within each warp by shuffles, across warps in shared memory and then
// added to global memory with one atomic per (token, state) per block.
#include "common.cuh"
#include "itera_cuda.h"

namespace {

using namespace itera_cuda;

constexpr int kThreads = 128;  // per block; kThreads / SPLIT channels
constexpr int kMaxS = 4;       // states per lane: SPLIT = 4 lanes per channel for N <= 16, 16 above
constexpr float kLog2e = 1.4426950408889634f;

// 0: fastest kernel that supports the shape; 1: the general kernels only (cross-check).
int g_scan_impl = 0;

struct DeltaVal {
  float value, slope;
};
__device__ __forceinline__ DeltaVal delta_eff(float raw, int softplus) {
  if (!softplus || raw > 20.0f) return {raw, 1.0f};
  return {log1pf(expf(raw)), sigmoidf_(raw)};
}

// Sum over the SPLIT lanes of one channel (adjacent lanes).
template <int SPLIT>
__device__ __forceinline__ float split_sum(float v) {
#pragma unroll
  for (int o = 1; o < SPLIT; o <<= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}
// Sum over the channels of one warp (lanes with the same position within their channel).
template <int SPLIT>
__device__ __forceinline__ float channel_sum(float v) {
#pragma unroll
  for (int o = SPLIT; o < 32; o <<= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

struct ScanArgs {
  int64_t Bt, L, E, N;
  const float* u;
  int64_t ldu;
  const float* delta;
  int64_t lddelta;
  const float* A;
  const float* B;
  int64_t ldb;
  const float* C;
  int64_t ldc;
  const float* D;
  const float* z;
  int64_t ldz;
  const float* delta_bias;
  int softplus;
  int64_t chunk, nc;
};

// ------------------------------------------------------------------ forward

constexpr int kFwdTile = 16;
constexpr int kMaxN = 64;
// B/C values of one tile handled per thread when staging: 2 * tile * kMaxN / kThreads.
constexpr int kFwdStage = 2 * kFwdTile * kMaxN / kThreads;

template <int SPLIT, int MAXS>
__global__ void __launch_bounds__(kThreads)
    scan_fwd_kernel(ScanArgs a, float* __restrict__ y, int64_t ldy, float* __restrict__ last_state,
                    float* __restrict__ chunk_states) {
  __shared__ float sBC[2][2 * kFwdTile * kMaxN];  // [buf][B tile | C tile], row i at i*N
  const int tid = threadIdx.x;
  const int sub = tid % SPLIT;
  const int64_t e = (int64_t)blockIdx.x * (kThreads / SPLIT) + tid / SPLIT;
  const int64_t b = blockIdx.y;
  const int64_t N = a.N, L = a.L, E = a.E;
  const bool valid = e < E;
  const int tileElems = (int)(kFwdTile * N);  // B (or C) values per tile

  float a2[MAXS], h[MAXS];
#pragma unroll
  for (int j = 0; j < MAXS; ++j) {
    const int64_t n = sub + (int64_t)SPLIT * j;
    a2[j] = (valid && n < N) ? a.A[e * N + n] * kLog2e : 0.0f;
    h[j] = 0.0f;
  }
  const float Dv = (valid && a.D) ? a.D[e] : 0.0f;
  const float bias = (valid && a.delta_bias) ? a.delta_bias[e] : 0.0f;

  auto load_scalars = [&](int64_t t0, float* uu, float* dd, float* zz) {
#pragma unroll
    for (int i = 0; i < kFwdTile; ++i) {
      const int64_t t = t0 + i;
      const bool ok = valid && t < L;
      const int64_t r = b * L + t;
      uu[i] = ok ? a.u[r * a.ldu + e] : 0.0f;
      dd[i] = ok ? a.delta[r * a.lddelta + e] : 0.0f;
      zz[i] = (ok && a.z) ? a.z[r * a.ldz + e] : 0.0f;
    }
  };
  auto load_bc = [&](int64_t t0, float* st) {
#pragma unroll
    for (int s = 0; s < kFwdStage; ++s) {
      const int idx = tid + s * kThreads;  // in [0, 2*tileElems)
      float v = 0.0f;
      if (idx < 2 * tileElems) {
        const int which = idx / tileElems, rem = idx % tileElems;
        const int64_t t = t0 + rem / N, n = rem % N;
        if (t < L) v = which == 0 ? a.B[(b * L + t) * a.ldb + n] : a.C[(b * L + t) * a.ldc + n];
      }
      st[s] = v;
    }
  };
  auto store_bc = [&](int buf, const float* st) {
#pragma unroll
    for (int s = 0; s < kFwdStage; ++s) {
      const int idx = tid + s * kThreads;
      if (idx < 2 * tileElems) sBC[buf][idx] = st[s];
    }
  };

  const int64_t ntiles = (L + kFwdTile - 1) / kFwdTile;
  int64_t next_save = (a.chunk < L ? a.chunk : L) - 1, chunk_idx = 0;
  float cu[kFwdTile], cd[kFwdTile], cz[kFwdTile], st[kFwdStage];
  load_scalars(0, cu, cd, cz);
  load_bc(0, st);
  store_bc(0, st);
  __syncthreads();

  for (int64_t tile = 0; tile < ntiles; ++tile) {
    const int64_t t0 = tile * kFwdTile;
    const bool more = tile + 1 < ntiles;
    float nu[kFwdTile], nd[kFwdTile], nz[kFwdTile];
    if (more) {
      load_scalars(t0 + kFwdTile, nu, nd, nz);
      load_bc(t0 + kFwdTile, st);
    }
    const float* sB = sBC[tile & 1];
    const float* sC = sB + tileElems;
#pragma unroll
    for (int i = 0; i < kFwdTile; ++i) {
      const int64_t t = t0 + i;
      if (t < L) {  // uniform over the block
        const float d = delta_eff(cd[i] + bias, a.softplus).value;
        const float du = d * cu[i];
        float acc = 0.0f;
#pragma unroll
        for (int j = 0; j < MAXS; ++j) {
          const int n = sub + SPLIT * j;
          if (n < N) {
            h[j] = fmaf(exp2f(d * a2[j]), h[j], du * sB[i * N + n]);
            acc = fmaf(sC[i * N + n], h[j], acc);
          }
        }
        acc = split_sum<SPLIT>(acc);
        const int64_t r = b * L + t;
        if (valid && sub == 0) {
          float out = fmaf(Dv, cu[i], acc);
          if (a.z) out *= cz[i] * sigmoidf_(cz[i]);
          y[r * ldy + e] = out;
        }
        const bool save = t == next_save;  // end of a chunk or of the sequence (no 64-bit modulo)
        if (save) next_save = next_save + a.chunk < L ? next_save + a.chunk : L - 1;
        if (valid && chunk_states && save) {
          float* cs = chunk_states + ((b * a.nc + chunk_idx) * E + e) * N;
#pragma unroll
          for (int j = 0; j < MAXS; ++j) {
            const int n = sub + SPLIT * j;
            if (n < N) cs[n] = h[j];
          }
        }
        if (save) ++chunk_idx;
      }
    }
    if (more) store_bc((tile + 1) & 1, st);
    __syncthreads();
    if (more) {
#pragma unroll
      for (int i = 0; i < kFwdTile; ++i) {
        cu[i] = nu[i];
        cd[i] = nd[i];
        cz[i] = nz[i];
      }
    }
  }
  if (valid && last_state) {
#pragma unroll
    for (int j = 0; j < MAXS; ++j) {
      const int n = sub + SPLIT * j;
      if (n < N) last_state[(b * E + e) * N + n] = h[j];
    }
  }
}

// Fast forward for N <= 16 with N % 4 == 0 (Mamba's d_state = 16): 4 lanes per channel, lane
// `sub` holds the CONTIGUOUS states n = 4*sub .. 4*sub+3, so each token's B and C slices are one
// 16-byte shared-memory load each. The per-token scalar work is not repeated on the 4 lanes: in a
// tile of kFastTile tokens, lane `sub` owns tokens i with i % 4 == sub (it loads their u, delta
// and z, computes softplus(delta + bias) and, at the end of the tile, the gated output) and the
// other lanes get d and u by shuffle. This cuts the loads per lane by 4 and the softplus / SiLU
// work by 4 against scan_fwd_kernel, which stays as the general path (any N <= 64) and as the
// cross-check (itera_cuda_set_scan_impl(1)).
constexpr int kFastTile = 32;             // tokens per tile
constexpr int kOwn = kFastTile / 4;       // tokens per lane per tile
constexpr int kFastStage = 8;             // B/C values staged per thread (4 of B, 4 of C)
static_assert(kThreads / 4 == kFastTile, "one staging thread per (token, 4 states)");

__global__ void __launch_bounds__(kThreads)
    scan_fwd_fast_kernel(ScanArgs a, float* __restrict__ y, int64_t ldy,
                         float* __restrict__ last_state, float* __restrict__ chunk_states) {
  __shared__ __align__(16) float sBC[2][2 * kFastTile * 16];  // [buf][B tile | C tile]
  const int tid = threadIdx.x;
  const int lane = tid & 31;
  const int sub = tid & 3;
  const int base_lane = lane & ~3;
  const int64_t e = (int64_t)blockIdx.x * (kThreads / 4) + (tid >> 2);
  const int64_t b = blockIdx.y;
  const int64_t L = a.L, E = a.E;
  const int N = (int)a.N;
  const bool valid = e < E;
  const bool has_states = 4 * sub < N;  // N % 4 == 0: all four states or none
  const int tileElems = kFastTile * N;

  float a2[4], h[4];
#pragma unroll
  for (int j = 0; j < 4; ++j) {
    a2[j] = (valid && has_states) ? a.A[e * N + 4 * sub + j] * kLog2e : 0.0f;
    h[j] = 0.0f;
  }
  const float Dv = (valid && a.D) ? a.D[e] : 0.0f;
  const float bias = (valid && a.delta_bias) ? a.delta_bias[e] : 0.0f;

  auto load_own = [&](int64_t t0, float* uu, float* dd, float* zz) {
#pragma unroll
    for (int q = 0; q < kOwn; ++q) {
      const int64_t t = t0 + sub + 4 * q;
      const bool ok = valid && t < L;
      const int64_t r = b * L + t;
      uu[q] = ok ? a.u[r * a.ldu + e] : 0.0f;
      dd[q] = ok ? a.delta[r * a.lddelta + e] : 0.0f;
      zz[q] = (ok && a.z) ? a.z[r * a.ldz + e] : 0.0f;
    }
  };
  // B/C staging without divisions: thread tid stages token tid / 4 of the tile, states
  // 4 * (tid % 4) .. +3 of B (st[0..3]) and of C (st[4..7]); rows are [token][N] in shared memory.
  const int stage_t = tid >> 2, stage_n = 4 * (tid & 3);
  auto load_bc = [&](int64_t t0, float* st) {
    const int64_t t = t0 + stage_t;
    const bool ok = t < L && stage_n < N;
    const float* bp = a.B + (b * L + t) * a.ldb + stage_n;
    const float* cp = a.C + (b * L + t) * a.ldc + stage_n;
#pragma unroll
    for (int k = 0; k < 4; ++k) {
      st[k] = ok ? bp[k] : 0.0f;
      st[4 + k] = ok ? cp[k] : 0.0f;
    }
  };
  auto store_bc = [&](int buf, const float* st) {
    if (stage_n < N) {
      float* sb = &sBC[buf][stage_t * N + stage_n];
      float* sc = sb + tileElems;
      *reinterpret_cast<float4*>(sb) = make_float4(st[0], st[1], st[2], st[3]);
      *reinterpret_cast<float4*>(sc) = make_float4(st[4], st[5], st[6], st[7]);
    }
  };

  const int64_t ntiles = (L + kFastTile - 1) / kFastTile;
  int64_t next_save = (a.chunk < L ? a.chunk : L) - 1, chunk_idx = 0;
  float cu[kOwn], cd[kOwn], cz[kOwn], st[kFastStage];
  load_own(0, cu, cd, cz);
  load_bc(0, st);
  store_bc(0, st);
  __syncthreads();

  for (int64_t tile = 0; tile < ntiles; ++tile) {
    const int64_t t0 = tile * kFastTile;
    const bool more = tile + 1 < ntiles;
    float nu[kOwn], nd[kOwn], nz[kOwn];
    if (more) {
      load_own(t0 + kFastTile, nu, nd, nz);
      load_bc(t0 + kFastTile, st);
    }
    float dq[kOwn], acc_own[kOwn];
#pragma unroll
    for (int q = 0; q < kOwn; ++q) {
      dq[q] = delta_eff(cd[q] + bias, a.softplus).value;
      acc_own[q] = 0.0f;
    }
    const float* sB = sBC[tile & 1];
    const float* sC = sB + tileElems;
#pragma unroll
    for (int i = 0; i < kFastTile; ++i) {
      const int64_t t = t0 + i;
      if (t < L) {  // uniform over the block
        const int src = base_lane | (i & 3);
        const float d = __shfl_sync(0xffffffffu, dq[i >> 2], src);
        const float uu = __shfl_sync(0xffffffffu, cu[i >> 2], src);
        const float du = d * uu;
        float acc = 0.0f;
        if (has_states) {
          const float4 b4 = *reinterpret_cast<const float4*>(&sB[i * N + 4 * sub]);
          const float4 c4 = *reinterpret_cast<const float4*>(&sC[i * N + 4 * sub]);
          h[0] = fmaf(exp2f(d * a2[0]), h[0], du * b4.x);
          h[1] = fmaf(exp2f(d * a2[1]), h[1], du * b4.y);
          h[2] = fmaf(exp2f(d * a2[2]), h[2], du * b4.z);
          h[3] = fmaf(exp2f(d * a2[3]), h[3], du * b4.w);
          acc = fmaf(c4.x, h[0], fmaf(c4.y, h[1], fmaf(c4.z, h[2], c4.w * h[3])));
        }
        acc += __shfl_xor_sync(0xffffffffu, acc, 1);
        acc += __shfl_xor_sync(0xffffffffu, acc, 2);
        if ((i & 3) == sub) acc_own[i >> 2] = acc;
        const bool save = t == next_save;  // end of a chunk or of the sequence (no 64-bit modulo)
        if (save) next_save = next_save + a.chunk < L ? next_save + a.chunk : L - 1;
        if (valid && has_states && chunk_states && save) {
          float* cs = chunk_states + ((b * a.nc + chunk_idx) * E + e) * N + 4 * sub;
          *reinterpret_cast<float4*>(cs) = make_float4(h[0], h[1], h[2], h[3]);
        }
        if (save) ++chunk_idx;
      }
    }
    // gated outputs of the tokens this lane owns
#pragma unroll
    for (int q = 0; q < kOwn; ++q) {
      const int64_t t = t0 + sub + 4 * q;
      if (valid && t < L) {
        float out = fmaf(Dv, cu[q], acc_own[q]);
        if (a.z) out *= cz[q] * sigmoidf_(cz[q]);
        y[(b * L + t) * ldy + e] = out;
      }
    }
    if (more) store_bc((tile + 1) & 1, st);
    __syncthreads();
    if (more) {
#pragma unroll
      for (int q = 0; q < kOwn; ++q) {
        cu[q] = nu[q];
        cd[q] = nd[q];
        cz[q] = nz[q];
      }
    }
  }
  if (valid && has_states && last_state) {
    float* ls = last_state + (b * E + e) * N + 4 * sub;
    *reinterpret_cast<float4*>(ls) = make_float4(h[0], h[1], h[2], h[3]);
  }
}

// ------------------------------------------------------------------ backward

struct ScanGrads {
  const float* chunk_states;
  const float* dy;
  int64_t lddy;
  float* du;
  int64_t lddu;
  float* ddelta;
  int64_t ldddelta;
  float* dA;
  float* dB;
  int64_t lddb;
  float* dC;
  int64_t lddc;
  float* dD;
  float* dz;
  int64_t lddz;
  float* ddelta_bias;
};

// Shared memory of the backward: B and C of one sub-tile (TS x N each), their dB/dC partial sums
// (TS x N each) and the sub-tile start states of one chunk (nsub x MAXS x kThreads).
inline size_t bwd_smem_bytes(int ts, int maxs, int64_t N, int64_t chunk) {
  const int64_t nsub = (chunk + ts - 1) / ts;
  return sizeof(float) * (size_t)(4 * ts * N + nsub * maxs * kThreads);
}

// Sums the 2*MAXS per-lane values v (dB partials of this lane's states, then dC partials) over
// the channels of the warp (lanes with equal `sub`) by a butterfly reduce-scatter: at each level
// a lane keeps half of its values and trades the other half with its partner, so the 3 levels of
// the 4-lane split cost 4 + 2 + 1 shuffles instead of 3 per value (24). Afterwards lane holds
// the totals of values [first, first + 2*MAXS / channels_per_warp) in v[0..).
template <int SPLIT, int MAXS>
__device__ __forceinline__ int channel_reduce_scatter(float (&v)[2 * MAXS], int lane) {
  int first = 0;
  int h = MAXS;  // half of the values still held
#pragma unroll
  for (int o = SPLIT; o < 32; o <<= 1) {
    const bool upper = (lane & o) != 0;
#pragma unroll
    for (int k = 0; k < 2 * MAXS; ++k) {
      if (k < h) {
        const float send = upper ? v[k] : v[k + h];
        const float keep = upper ? v[k + h] : v[k];
        v[k] = keep + __shfl_xor_sync(0xffffffffu, send, o);
      }
    }
    if (upper) first += h;
    h >>= 1;
  }
  return first;
}

template <int SPLIT, int MAXS, int TS, bool kButterfly>
__global__ void __launch_bounds__(kThreads) scan_bwd_kernel(ScanArgs a, ScanGrads g) {
  extern __shared__ float smem[];
  const int64_t N = a.N, L = a.L, E = a.E;
  float* sB = smem;              // TS x N
  float* sC = sB + TS * N;       // TS x N
  float* sdB = sC + TS * N;      // TS x N
  float* sdC = sdB + TS * N;     // TS x N
  float* ckpt = sdC + TS * N;    // [nsub][MAXS][kThreads]

  const int tid = threadIdx.x;
  const int lane = tid & 31;
  const int sub = tid % SPLIT;
  const int64_t e = (int64_t)blockIdx.x * (kThreads / SPLIT) + tid / SPLIT;
  const int64_t b = blockIdx.y;
  const bool valid = e < E;

  float a2[MAXS], lam[MAXS], gA[MAXS];
#pragma unroll
  for (int j = 0; j < MAXS; ++j) {
    const int64_t n = sub + (int64_t)SPLIT * j;
    a2[j] = (valid && n < N) ? a.A[e * N + n] * kLog2e : 0.0f;
    lam[j] = 0.0f;
    gA[j] = 0.0f;
  }
  const float Dv = (valid && a.D) ? a.D[e] : 0.0f;
  const float bias = (valid && a.delta_bias) ? a.delta_bias[e] : 0.0f;
  float gD = 0.0f, gbias = 0.0f;

  for (int idx = tid; idx < 2 * TS * N; idx += kThreads) sdB[idx] = 0.0f;  // sdB and sdC

  for (int64_t c = a.nc - 1; c >= 0; --c) {
    const int64_t c0 = c * a.chunk;
    const int64_t c1 = c0 + a.chunk < L ? c0 + a.chunk : L;
    const int64_t nsub = (c1 - c0 + TS - 1) / TS;

    // 1. states at every sub-tile start, from the state at the end of the previous chunk.
    float h[MAXS];
#pragma unroll
    for (int j = 0; j < MAXS; ++j) {
      const int64_t n = sub + (int64_t)SPLIT * j;
      h[j] = (c > 0 && valid && n < N) ? g.chunk_states[((b * a.nc + c - 1) * E + e) * N + n] : 0.0f;
    }
    for (int64_t s = 0; s < nsub; ++s) {
#pragma unroll
      for (int j = 0; j < MAXS; ++j) ckpt[(s * MAXS + j) * kThreads + tid] = h[j];
      if (s + 1 == nsub) break;  // the state after the chunk's last sub-tile is not needed
      for (int i = 0; i < TS; ++i) {
        const int64_t t = c0 + s * TS + i;  // < c1: every sub-tile but the last is full
        const int64_t r = b * L + t;
        const float uu = valid ? a.u[r * a.ldu + e] : 0.0f;
        const float d = delta_eff((valid ? a.delta[r * a.lddelta + e] : 0.0f) + bias, a.softplus).value;
        const float du = d * uu;
#pragma unroll
        for (int j = 0; j < MAXS; ++j) {
          const int n = sub + SPLIT * j;
          if (n < N) h[j] = fmaf(exp2f(d * a2[j]), h[j], du * a.B[r * a.ldb + n]);
        }
      }
    }

    // 2. sub-tiles in reverse.
    for (int64_t s = nsub - 1; s >= 0; --s) {
      const int64_t t0 = c0 + s * TS;
      const int cnt = (int)(c1 - t0 < TS ? c1 - t0 : TS);
      __syncthreads();  // previous users of sB/sC are done
      for (int idx = tid; idx < TS * N; idx += kThreads) {
        const int i = idx / (int)N, n = idx % (int)N;
        float vb = 0.0f, vc = 0.0f;
        if (i < cnt) {
          const int64_t r = b * L + t0 + i;
          vb = a.B[r * a.ldb + n];
          vc = a.C[r * a.ldc + n];
        }
        sB[idx] = vb;
        sC[idx] = vc;
      }
      __syncthreads();

      float uu[TS], dv[TS], hist[TS][MAXS], h0[MAXS];
#pragma unroll
      for (int j = 0; j < MAXS; ++j) {
        h0[j] = ckpt[(s * MAXS + j) * kThreads + tid];
        h[j] = h0[j];
      }
#pragma unroll
      for (int i = 0; i < TS; ++i) {
        const bool ok = valid && i < cnt;
        const int64_t r = b * L + t0 + i;
        uu[i] = ok ? a.u[r * a.ldu + e] : 0.0f;
        dv[i] = ok ? a.delta[r * a.lddelta + e] : 0.0f;
      }
#pragma unroll
      for (int i = 0; i < TS; ++i) {
        const float d = delta_eff(dv[i] + bias, a.softplus).value;
        const float du = d * uu[i];
#pragma unroll
        for (int j = 0; j < MAXS; ++j) {
          const int n = sub + SPLIT * j;
          if (n < N) h[j] = fmaf(exp2f(d * a2[j]), h[j], du * sB[i * N + n]);
          hist[i][j] = h[j];
        }
      }

#pragma unroll
      for (int i = TS - 1; i >= 0; --i) {
        if (i < cnt) {  // uniform over the block
          const int64_t r = b * L + t0 + i;
          const DeltaVal dl = delta_eff(dv[i] + bias, a.softplus);
          const float d = dl.value;
          const float gout = valid ? g.dy[r * g.lddy + e] : 0.0f;
          float gy = gout;
          if (a.z) {
            float yp = 0.0f;
#pragma unroll
            for (int j = 0; j < MAXS; ++j) {
              const int n = sub + SPLIT * j;
              if (n < N) yp = fmaf(sC[i * N + n], hist[i][j], yp);
            }
            yp = split_sum<SPLIT>(yp) + Dv * uu[i];
            const float zz = valid ? a.z[r * a.ldz + e] : 0.0f;
            const float sg = sigmoidf_(zz);
            if (valid && sub == 0) g.dz[r * g.lddz + e] += gout * yp * sg * (1.0f + zz * (1.0f - sg));
            gy = gout * zz * sg;
          }
          float gu = 0.0f, gd = 0.0f;
          float part[2 * MAXS];  // dB partials of this lane's states, then dC partials
#pragma unroll
          for (int j = 0; j < MAXS; ++j) {
            const int n = sub + SPLIT * j;
            float pB = 0.0f, pC = 0.0f;
            if (n < N) {
              const float bn = sB[i * N + n];
              const float hp = i > 0 ? hist[i > 0 ? i - 1 : 0][j] : h0[j];
              const float dA = exp2f(d * a2[j]);
              const float aa = a2[j] * (1.0f / kLog2e);
              lam[j] = fmaf(sC[i * N + n], gy, lam[j]);
              pC = gy * hist[i][j];
              pB = lam[j] * d * uu[i];
              gu = fmaf(lam[j] * d, bn, gu);
              gd = fmaf(lam[j], fmaf(bn, uu[i], aa * dA * hp), gd);
              gA[j] = fmaf(lam[j] * d * dA, hp, gA[j]);
              lam[j] *= dA;
            }
            part[j] = pB;
            part[MAXS + j] = pC;
          }
          // sum over the channels of this warp (lanes with the same sub), then over the warps of
          // the block in shared memory
          if (kButterfly) {
            const int first = channel_reduce_scatter<SPLIT, MAXS>(part, lane);
            constexpr int kLeft = 2 * MAXS * SPLIT / 32;  // values per lane after the scatter
#pragma unroll
            for (int r = 0; r < kLeft; ++r) {
              const int idx = first + r;
              const int n = sub + SPLIT * (idx % MAXS);
              if (n < N) atomicAdd(&(idx < MAXS ? sdB : sdC)[i * N + n], part[r]);
            }
          } else {
#pragma unroll
            for (int j = 0; j < MAXS; ++j) {
              const int n = sub + SPLIT * j;
              const float pB = channel_sum<SPLIT>(part[j]);
              const float pC = channel_sum<SPLIT>(part[MAXS + j]);
              if (lane < SPLIT && n < N) {
                atomicAdd(&sdB[i * N + n], pB);
                atomicAdd(&sdC[i * N + n], pC);
              }
            }
          }
          gu = split_sum<SPLIT>(gu);
          gd = split_sum<SPLIT>(gd);
          if (valid && sub == 0) {
            gu = fmaf(Dv, gy, gu);
            gD = fmaf(gy, uu[i], gD);
            const float graw = gd * dl.slope;
            g.du[r * g.lddu + e] += gu;
            g.ddelta[r * g.ldddelta + e] += graw;
            gbias += graw;
          }
        }
      }
      __syncthreads();
      for (int idx = tid; idx < TS * N; idx += kThreads) {
        const int i = idx / (int)N, n = idx % (int)N;
        if (i < cnt) {
          const int64_t r = b * L + t0 + i;
          atomicAdd(&g.dB[r * g.lddb + n], sdB[idx]);
          atomicAdd(&g.dC[r * g.lddc + n], sdC[idx]);
        }
        sdB[idx] = 0.0f;
        sdC[idx] = 0.0f;
      }
      // the next sub-tile's first __syncthreads orders these resets before new atomics
    }
  }
  if (valid) {
#pragma unroll
    for (int j = 0; j < MAXS; ++j) {
      const int n = sub + SPLIT * j;
      if (n < N) atomicAdd(&g.dA[e * N + n], gA[j]);
    }
    if (sub == 0) {
      if (g.dD) atomicAdd(&g.dD[e], gD);
      if (g.ddelta_bias) atomicAdd(&g.ddelta_bias[e], gbias);
    }
  }
}

// Fast backward for N <= 16 with N % 4 == 0: the lane layout of scan_fwd_fast_kernel (4 lanes
// per channel, contiguous states n = 4*sub .. 4*sub+3 read as float4) and the per-token scalar
// work (softplus and its slope, the SiLU gate, the du / ddelta / dz read-modify-writes) done once
// per token by its owner lane (token i of a sub-tile belongs to lane i % 4) instead of on all 4
// lanes; d, u and the gated output gradient reach the other lanes by shuffle. The per-state sums
// are refactored so each state costs ~11 operations: with su = sum lam*B and
// w = lam*exp(d A)*h_prev, du = d*su (+ D gy), d(delta) = u*su + sum A*w, dA += d*w.
// 8-token sub-tiles keep the kernel at <= 168 registers (3 blocks of 128 threads per SM), so the
// 8 x 1536-channel problem runs in one wave on 132 SMs.
constexpr int kBwdTile = 8;
constexpr int kOwnB = kBwdTile / 4;  // tokens per lane per sub-tile

inline size_t bwd_fast_smem_bytes(int64_t N, int64_t chunk) {
  const int64_t nsub = (chunk + kBwdTile - 1) / kBwdTile;
  return sizeof(float) * (size_t)(4 * kBwdTile * N) + sizeof(float4) * (size_t)(nsub * kThreads);
}

__global__ void __launch_bounds__(kThreads, 3) scan_bwd_fast_kernel(ScanArgs a, ScanGrads g) {
  extern __shared__ float4 smem4[];
  const int N = (int)a.N;
  const int64_t L = a.L, E = a.E;
  float* sB = reinterpret_cast<float*>(smem4);  // [TS][N]
  float* sC = sB + kBwdTile * N;                 // [TS][N]
  float* sdB = sC + kBwdTile * N;                // [TS][N]
  float* sdC = sdB + kBwdTile * N;               // [TS][N]
  float4* ckpt = reinterpret_cast<float4*>(sdC + kBwdTile * N);  // [nsub][kThreads]

  const int tid = threadIdx.x;
  const int lane = tid & 31;
  const int sub = tid & 3;
  const int base_lane = lane & ~3;
  const int64_t e = (int64_t)blockIdx.x * (kThreads / 4) + (tid >> 2);
  const int64_t b = blockIdx.y;
  const bool valid = e < E;
  const bool has_states = 4 * sub < N;

  float a2[4], aa[4], lam[4], gA[4];
#pragma unroll
  for (int j = 0; j < 4; ++j) {
    aa[j] = (valid && has_states) ? a.A[e * N + 4 * sub + j] : 0.0f;
    a2[j] = aa[j] * kLog2e;
    lam[j] = 0.0f;
    gA[j] = 0.0f;
  }
  const float Dv = (valid && a.D) ? a.D[e] : 0.0f;
  const float bias = (valid && a.delta_bias) ? a.delta_bias[e] : 0.0f;
  float gD = 0.0f, gbias = 0.0f;
  // B/C staging: thread tid < 4*TS stages token tid / 4, states 4 * (tid % 4) .. +3
  const int stage_i = tid >> 2, stage_n = 4 * (tid & 3);
  const bool stager = stage_i < kBwdTile && stage_n < N;

  for (int idx = tid; idx < 2 * kBwdTile * N; idx += kThreads) sdB[idx] = 0.0f;  // sdB and sdC

  for (int64_t c = a.nc - 1; c >= 0; --c) {
    const int64_t c0 = c * a.chunk;
    const int64_t c1 = c0 + a.chunk < L ? c0 + a.chunk : L;
    const int64_t nsub = (c1 - c0 + kBwdTile - 1) / kBwdTile;

    // 1. states at every sub-tile start, from the state at the end of the previous chunk
    float h[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    if (c > 0 && valid && has_states) {
      const float4 v = *reinterpret_cast<const float4*>(
          g.chunk_states + ((b * a.nc + c - 1) * E + e) * N + 4 * sub);
      h[0] = v.x; h[1] = v.y; h[2] = v.z; h[3] = v.w;
    }
    for (int64_t s = 0; s < nsub; ++s) {
      ckpt[s * kThreads + tid] = make_float4(h[0], h[1], h[2], h[3]);
      if (s + 1 == nsub) break;  // the state after the chunk's last sub-tile is not needed
      const int64_t t0 = c0 + s * kBwdTile;  // a full sub-tile: every one but the last is
      float dq[kOwnB], uq[kOwnB];
#pragma unroll
      for (int q = 0; q < kOwnB; ++q) {
        const int64_t r = b * L + t0 + sub + 4 * q;
        uq[q] = valid ? a.u[r * a.ldu + e] : 0.0f;
        dq[q] = delta_eff((valid ? a.delta[r * a.lddelta + e] : 0.0f) + bias, a.softplus).value;
      }
#pragma unroll
      for (int i = 0; i < kBwdTile; ++i) {
        const int src = base_lane | (i & 3);
        const float d = __shfl_sync(0xffffffffu, dq[i >> 2], src);
        const float du = d * __shfl_sync(0xffffffffu, uq[i >> 2], src);
        if (has_states) {
          const float* bp = a.B + (b * L + t0 + i) * a.ldb + 4 * sub;
#pragma unroll
          for (int j = 0; j < 4; ++j) h[j] = fmaf(exp2f(d * a2[j]), h[j], du * bp[j]);
        }
      }
    }

    // 2. sub-tiles in reverse
    for (int64_t s = nsub - 1; s >= 0; --s) {
      const int64_t t0 = c0 + s * kBwdTile;
      const int cnt = (int)(c1 - t0 < kBwdTile ? c1 - t0 : kBwdTile);
      __syncthreads();  // previous readers of sB / sC are done
      if (stager) {
        float vb[4] = {0.0f, 0.0f, 0.0f, 0.0f}, vc[4] = {0.0f, 0.0f, 0.0f, 0.0f};
        if (stage_i < cnt) {
          const int64_t r = b * L + t0 + stage_i;
#pragma unroll
          for (int k = 0; k < 4; ++k) {
            vb[k] = a.B[r * a.ldb + stage_n + k];
            vc[k] = a.C[r * a.ldc + stage_n + k];
          }
        }
        *reinterpret_cast<float4*>(&sB[stage_i * N + stage_n]) = make_float4(vb[0], vb[1], vb[2], vb[3]);
        *reinterpret_cast<float4*>(&sC[stage_i * N + stage_n]) = make_float4(vc[0], vc[1], vc[2], vc[3]);
      }

      // the owner's scalar work for tokens sub, sub + 4, ...
      float uq[kOwnB], dq[kOwnB], slq[kOwnB], gyq[kOwnB], fzq[kOwnB];
#pragma unroll
      for (int q = 0; q < kOwnB; ++q) {
        const int i = sub + 4 * q;
        const bool ok = valid && i < cnt;
        const int64_t r = b * L + t0 + i;
        uq[q] = ok ? a.u[r * a.ldu + e] : 0.0f;
        const DeltaVal dl = delta_eff((ok ? a.delta[r * a.lddelta + e] : 0.0f) + bias, a.softplus);
        dq[q] = dl.value;
        slq[q] = dl.slope;
        const float gout = ok ? g.dy[r * g.lddy + e] : 0.0f;
        if (a.z) {
          const float zz = ok ? a.z[r * a.ldz + e] : 0.0f;
          const float sg = sigmoidf_(zz);
          gyq[q] = gout * zz * sg;
          fzq[q] = gout * sg * (1.0f + zz * (1.0f - sg));  // dz = fz * (pre-gate y)
        } else {
          gyq[q] = gout;
          fzq[q] = 0.0f;
        }
      }
      float d_all[kBwdTile], u_all[kBwdTile], gy_all[kBwdTile];
#pragma unroll
      for (int i = 0; i < kBwdTile; ++i) {
        const int src = base_lane | (i & 3);
        d_all[i] = __shfl_sync(0xffffffffu, dq[i >> 2], src);
        u_all[i] = __shfl_sync(0xffffffffu, uq[i >> 2], src);
        gy_all[i] = __shfl_sync(0xffffffffu, gyq[i >> 2], src);
      }
      __syncthreads();  // sB / sC staged

      // recompute the sub-tile's states
      float hist[kBwdTile][4], h0[4];
      {
        const float4 v = ckpt[s * kThreads + tid];
        h0[0] = v.x; h0[1] = v.y; h0[2] = v.z; h0[3] = v.w;
      }
#pragma unroll
      for (int j = 0; j < 4; ++j) h[j] = h0[j];
#pragma unroll
      for (int i = 0; i < kBwdTile; ++i) {
        const float d = d_all[i];
        const float du = d * u_all[i];
        float4 b4 = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
        if (has_states) b4 = *reinterpret_cast<const float4*>(&sB[i * N + 4 * sub]);
        h[0] = fmaf(exp2f(d * a2[0]), h[0], du * b4.x);
        h[1] = fmaf(exp2f(d * a2[1]), h[1], du * b4.y);
        h[2] = fmaf(exp2f(d * a2[2]), h[2], du * b4.z);
        h[3] = fmaf(exp2f(d * a2[3]), h[3], du * b4.w);
#pragma unroll
        for (int j = 0; j < 4; ++j) hist[i][j] = h[j];
      }

      float own_gu[kOwnB], own_gd[kOwnB], own_yp[kOwnB];
#pragma unroll
      for (int q = 0; q < kOwnB; ++q) own_gu[q] = own_gd[q] = own_yp[q] = 0.0f;
#pragma unroll
      for (int i = kBwdTile - 1; i >= 0; --i) {
        if (i < cnt) {  // uniform over the block
          const float d = d_all[i], uu = u_all[i], gy = gy_all[i];
          float bn[4] = {0.0f, 0.0f, 0.0f, 0.0f}, cn[4] = {0.0f, 0.0f, 0.0f, 0.0f};
          if (has_states) {
            const float4 b4 = *reinterpret_cast<const float4*>(&sB[i * N + 4 * sub]);
            const float4 c4 = *reinterpret_cast<const float4*>(&sC[i * N + 4 * sub]);
            bn[0] = b4.x; bn[1] = b4.y; bn[2] = b4.z; bn[3] = b4.w;
            cn[0] = c4.x; cn[1] = c4.y; cn[2] = c4.z; cn[3] = c4.w;
          }
          float yp = 0.0f;
          if (a.z) {
            yp = fmaf(cn[0], hist[i][0], fmaf(cn[1], hist[i][1], fmaf(cn[2], hist[i][2], cn[3] * hist[i][3])));
            yp = split_sum<4>(yp);
          }
          float part[8];  // dB partials of this lane's 4 states, then dC partials
          float su = 0.0f, sg = 0.0f;
#pragma unroll
          for (int j = 0; j < 4; ++j) {
            const float dA = exp2f(d * a2[j]);
            const float hp = i > 0 ? hist[i > 0 ? i - 1 : 0][j] : h0[j];
            lam[j] = fmaf(cn[j], gy, lam[j]);
            part[4 + j] = gy * hist[i][j];
            part[j] = lam[j] * d * uu;
            su = fmaf(lam[j], bn[j], su);
            const float w = lam[j] * (dA * hp);
            gA[j] = fmaf(d, w, gA[j]);
            sg = fmaf(aa[j], w, sg);
            lam[j] *= dA;
          }
          const int first = channel_reduce_scatter<4, 4>(part, lane);
          {
            const int n = 4 * sub + (first & 3);  // one value per lane after 3 levels
            if (n < N) atomicAdd(&(first < 4 ? sdB : sdC)[i * N + n], part[0]);
          }
          const float gu = split_sum<4>(d * su);
          const float gd = split_sum<4>(fmaf(uu, su, sg));
          if ((i & 3) == sub) {
            own_gu[i >> 2] = gu;
            own_gd[i >> 2] = gd;
            own_yp[i >> 2] = yp;
          }
        }
      }
      // the owner's read-modify-writes of du, ddelta, dz
#pragma unroll
      for (int q = 0; q < kOwnB; ++q) {
        const int i = sub + 4 * q;
        if (valid && i < cnt) {
          const int64_t r = b * L + t0 + i;
          g.du[r * g.lddu + e] += fmaf(Dv, gyq[q], own_gu[q]);
          const float graw = own_gd[q] * slq[q];
          g.ddelta[r * g.ldddelta + e] += graw;
          gbias += graw;
          gD = fmaf(gyq[q], uq[q], gD);
          if (a.z) g.dz[r * g.lddz + e] += fzq[q] * fmaf(Dv, uq[q], own_yp[q]);
        }
      }
      __syncthreads();
      for (int idx = tid; idx < kBwdTile * N; idx += kThreads) {
        const int i = idx / N, n = idx - i * N;
        if (i < cnt) {
          const int64_t r = b * L + t0 + i;
          atomicAdd(&g.dB[r * g.lddb + n], sdB[idx]);
          atomicAdd(&g.dC[r * g.lddc + n], sdC[idx]);
        }
        sdB[idx] = 0.0f;
        sdC[idx] = 0.0f;
      }
      // the next sub-tile's first __syncthreads orders these resets before new atomics
    }
  }
  gD = split_sum<4>(gD);
  gbias = split_sum<4>(gbias);
  if (valid) {
    if (has_states) {
#pragma unroll
      for (int j = 0; j < 4; ++j) atomicAdd(&g.dA[e * N + 4 * sub + j], gA[j]);
    }
    if (sub == 0) {
      if (g.dD) atomicAdd(&g.dD[e], gD);
      if (g.ddelta_bias) atomicAdd(&g.ddelta_bias[e], gbias);
    }
  }
}

// ------------------------------------------------------------------ step

__global__ void scan_step_kernel(ScanArgs a, float* __restrict__ state, float* __restrict__ y,
                                 int64_t ldy) {
  const int64_t total = a.Bt * a.E;
  for (int64_t idx = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; idx < total;
       idx += (int64_t)blockDim.x * gridDim.x) {
    const int64_t b = idx / a.E, e = idx % a.E, N = a.N;
    const float raw = a.delta[b * a.lddelta + e] + (a.delta_bias ? a.delta_bias[e] : 0.0f);
    const float d = delta_eff(raw, a.softplus).value;
    const float uu = a.u[b * a.ldu + e];
    float* h = state + (b * a.E + e) * N;
    float acc = a.D ? a.D[e] * uu : 0.0f;
    for (int64_t n = 0; n < N; ++n) {
      const float hn = fmaf(expf(d * a.A[e * N + n]), h[n], d * a.B[b * a.ldb + n] * uu);
      h[n] = hn;
      acc = fmaf(a.C[b * a.ldc + n], hn, acc);
    }
    if (a.z) {
      const float zz = a.z[b * a.ldz + e];
      acc *= zz * sigmoidf_(zz);
    }
    y[b * ldy + e] = acc;
  }
}

// ------------------------------------------------------------------ causal conv1d

constexpr int kMaxK = 16;
constexpr int kConvRows = 256;  // rows of the flattened Bt*L per block

// Thread = channel, block = kConvRows consecutive rows (of the flattened Bt*L): the last KW
// inputs of the channel slide through registers, so each x element is read once. Taps are
// right-aligned in the window (tap k of K at slot KW - K + k) so every index is a compile-time
// constant; KW = 4 covers Mamba's K = 4 without wasted FMAs.
template <int KW>
__global__ void conv_fwd_kernel(int64_t Bt, int64_t L, int64_t E, int64_t K,
                                const float* __restrict__ x, int64_t ldx,
                                const float* __restrict__ w, const float* __restrict__ bias,
                                float* __restrict__ y, int64_t ldy) {
  const int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  if (e >= E) return;
  const int64_t rows = Bt * L;
  const int64_t r0 = (int64_t)blockIdx.y * kConvRows;
  const int64_t r1 = r0 + kConvRows < rows ? r0 + kConvRows : rows;
  float wk[KW], win[KW];
#pragma unroll
  for (int j = 0; j < KW; ++j) {
    const int64_t k = j - (KW - K);  // tap of slot j, < 0: unused
    wk[j] = k >= 0 ? w[e * K + k] : 0.0f;
    win[j] = 0.0f;
  }
  const float bv = bias ? bias[e] : 0.0f;
  int64_t t = r0 % L;
  // the K - 1 inputs before r0 that belong to the same sequence; the loop shifts them down one
  // slot before reading row r0 into the last slot
#pragma unroll
  for (int j = 1; j < KW; ++j) {
    const int64_t back = KW - j;  // slot j holds the input `back` rows before r0
    win[j] = (back < K && back <= t) ? x[(r0 - back) * ldx + e] : 0.0f;
  }
  for (int64_t row = r0; row < r1; ++row) {
    if (t == 0) {
#pragma unroll
      for (int j = 0; j < KW; ++j) win[j] = 0.0f;  // a new sequence: zero padding
    }
#pragma unroll
    for (int j = 0; j + 1 < KW; ++j) win[j] = win[j + 1];
    win[KW - 1] = x[row * ldx + e];
    float acc = bv;
#pragma unroll
    for (int j = 0; j < KW; ++j) acc = fmaf(wk[j], win[j], acc);
    y[row * ldy + e] = acc;
    if (++t == L) t = 0;
  }
}


// Thread = channel; block = kConvRows consecutive rows. dx is exclusive per thread; dw and dbias
// are reduced over the block's rows in registers and added with one atomic each.
__global__ void conv_bwd_kernel(int64_t Bt, int64_t L, int64_t E, int64_t K,
                                const float* __restrict__ x, int64_t ldx,
                                const float* __restrict__ w, const float* __restrict__ dy,
                                int64_t lddy, float* __restrict__ dx, int64_t lddx,
                                float* __restrict__ dw, float* __restrict__ dbias) {
  const int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  if (e >= E) return;
  const int64_t rows = Bt * L;
  const int64_t r0 = (int64_t)blockIdx.y * kConvRows;
  const int64_t r1 = r0 + kConvRows < rows ? r0 + kConvRows : rows;
  float wk[kMaxK], gw[kMaxK];
#pragma unroll
  for (int k = 0; k < kMaxK; ++k) {
    wk[k] = k < K ? w[e * K + k] : 0.0f;
    gw[k] = 0.0f;
  }
  float gb = 0.0f;
  int64_t t = r0 % L;
  for (int64_t row = r0; row < r1; ++row, t = t + 1 == L ? 0 : t + 1) {
    const float gv = dy[row * lddy + e];
    gb += gv;
    float gx = 0.0f;
#pragma unroll
    for (int k = 0; k < kMaxK; ++k) {
      if (k < K) {
        const int64_t s = t - (K - 1) + k;
        if (s >= 0) gw[k] = fmaf(gv, x[(row - (K - 1) + k) * ldx + e], gw[k]);
        const int64_t tt = t + (K - 1) - k;
        if (tt < L) gx = fmaf(wk[k], dy[(row + (K - 1) - k) * lddy + e], gx);
      }
    }
    dx[row * lddx + e] += gx;
  }
#pragma unroll
  for (int k = 0; k < kMaxK; ++k)
    if (k < K) atomicAdd(&dw[e * K + k], gw[k]);
  if (dbias) atomicAdd(&dbias[e], gb);
}

__global__ void conv_step_kernel(int64_t Bt, int64_t E, int64_t K, const float* __restrict__ x,
                                 int64_t ldx, float* __restrict__ state,
                                 const float* __restrict__ w, const float* __restrict__ bias,
                                 float* __restrict__ y, int64_t ldy) {
  const int64_t total = Bt * E;
  for (int64_t idx = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; idx < total;
       idx += (int64_t)blockDim.x * gridDim.x) {
    const int64_t b = idx / E, e = idx % E;
    float* s = state + b * K * E;
    for (int64_t k = 0; k + 1 < K; ++k) s[k * E + e] = s[(k + 1) * E + e];
    s[(K - 1) * E + e] = x[b * ldx + e];
    float acc = bias ? bias[e] : 0.0f;
    for (int64_t k = 0; k < K; ++k) acc = fmaf(w[e * K + k], s[k * E + e], acc);
    y[b * ldy + e] = acc;
  }
}

ScanArgs make_args(int64_t Bt, int64_t L, int64_t E, int64_t N, const float* u, int64_t ldu,
                   const float* delta, int64_t lddelta, const float* A, const float* B,
                   int64_t ldb, const float* C, int64_t ldc, const float* D, const float* z,
                   int64_t ldz, const float* delta_bias, int delta_softplus, int64_t chunk) {
  ScanArgs a;
  a.Bt = Bt; a.L = L; a.E = E; a.N = N;
  a.u = u; a.ldu = ldu; a.delta = delta; a.lddelta = lddelta; a.A = A;
  a.B = B; a.ldb = ldb; a.C = C; a.ldc = ldc; a.D = D; a.z = z; a.ldz = ldz;
  a.delta_bias = delta_bias; a.softplus = delta_softplus;
  a.chunk = chunk;
  a.nc = (L > 0 && chunk > 0) ? (L + chunk - 1) / chunk : 0;
  return a;
}

template <int SPLIT, int MAXS, int TS, bool kButterfly>
int launch_bwd(const ScanArgs& a, const ScanGrads& g, cudaStream_t st) {
  const size_t smem = bwd_smem_bytes(TS, MAXS, a.N, a.chunk < a.L ? a.chunk : a.L);
  if (smem > 200 * 1024) return kInvalid;
  if (smem > 48 * 1024) {
    cudaError_t err = cudaFuncSetAttribute(scan_bwd_kernel<SPLIT, MAXS, TS, kButterfly>,
                                           cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem);
    if (err != cudaSuccess) return (int)err;
  }
  constexpr int channels = kThreads / SPLIT;
  const dim3 grid((unsigned)((a.E + channels - 1) / channels), (unsigned)a.Bt);
  scan_bwd_kernel<SPLIT, MAXS, TS, kButterfly><<<grid, kThreads, smem, st>>>(a, g);
  return launch_status();
}

}  // namespace

extern "C" {

int itera_cuda_set_scan_impl(int impl) {
  if (impl < 0 || impl > 1) return kInvalid;
  g_scan_impl = impl;
  return (int)cudaSuccess;
}

int itera_cuda_causal_conv1d_forward(int64_t Bt, int64_t L, int64_t E, int64_t K, const float* x,
                                     int64_t ldx, const float* w, const float* bias, float* y,
                                     int64_t ldy, void* stream) {
  if (Bt <= 0 || L <= 0 || E <= 0) return (int)cudaSuccess;
  if (K < 1 || K > kMaxK) return kInvalid;
  const int64_t segs = (Bt * L + kConvRows - 1) / kConvRows;
  if (segs > 65535) return kInvalid;
  const dim3 grid((unsigned)((E + 127) / 128), (unsigned)segs);
  if (K <= 4)
    conv_fwd_kernel<4><<<grid, 128, 0, as_stream(stream)>>>(Bt, L, E, K, x, ldx, w, bias, y, ldy);
  else
    conv_fwd_kernel<kMaxK><<<grid, 128, 0, as_stream(stream)>>>(Bt, L, E, K, x, ldx, w, bias, y, ldy);
  return launch_status();
}

int itera_cuda_causal_conv1d_backward(int64_t Bt, int64_t L, int64_t E, int64_t K,
                                      const float* x, int64_t ldx, const float* w,
                                      const float* dy, int64_t lddy, float* dx, int64_t lddx,
                                      float* dw, float* dbias, void* stream) {
  if (Bt <= 0 || L <= 0 || E <= 0) return (int)cudaSuccess;
  if (K < 1 || K > kMaxK) return kInvalid;
  const int64_t segs = (Bt * L + kConvRows - 1) / kConvRows;
  if (segs > 65535) return kInvalid;
  const dim3 grid((unsigned)((E + 127) / 128), (unsigned)segs);
  conv_bwd_kernel<<<grid, 128, 0, as_stream(stream)>>>(Bt, L, E, K, x, ldx, w, dy, lddy, dx, lddx,
                                                       dw, dbias);
  return launch_status();
}

int itera_cuda_causal_conv1d_step(int64_t Bt, int64_t E, int64_t K, const float* x, int64_t ldx,
                                  float* state, const float* w, const float* bias, float* y,
                                  int64_t ldy, void* stream) {
  if (Bt <= 0 || E <= 0) return (int)cudaSuccess;
  if (K < 1) return kInvalid;
  conv_step_kernel<<<grid_for(Bt * E, 256), 256, 0, as_stream(stream)>>>(Bt, E, K, x, ldx, state,
                                                                        w, bias, y, ldy);
  return launch_status();
}

int itera_cuda_selective_scan_forward(int64_t Bt, int64_t L, int64_t E, int64_t N,
                                      const float* u, int64_t ldu, const float* delta,
                                      int64_t lddelta, const float* A, const float* B,
                                      int64_t ldb, const float* C, int64_t ldc, const float* D,
                                      const float* z, int64_t ldz, const float* delta_bias,
                                      int delta_softplus, int64_t chunk, float* y, int64_t ldy,
                                      float* last_state, float* chunk_states, void* stream) {
  if (Bt <= 0 || L <= 0 || E <= 0) return (int)cudaSuccess;
  if (N < 1 || N > kMaxN || chunk < 1 || Bt > 65535) return kInvalid;
  const ScanArgs a = make_args(Bt, L, E, N, u, ldu, delta, lddelta, A, B, ldb, C, ldc, D, z, ldz,
                               delta_bias, delta_softplus, chunk);
  cudaStream_t st = as_stream(stream);
  // float4 chunk/last-state stores need 16-byte aligned rows: N % 4 == 0 and aligned bases
  const bool aligned = ((uintptr_t)chunk_states % 16 == 0) && ((uintptr_t)last_state % 16 == 0);
  if (g_scan_impl == 0 && N <= 16 && N % 4 == 0 && aligned) {
    const dim3 grid((unsigned)((E + 31) / 32), (unsigned)Bt);
    scan_fwd_fast_kernel<<<grid, kThreads, 0, st>>>(a, y, ldy, last_state, chunk_states);
  } else if (N <= 4 * kMaxS) {
    const dim3 grid((unsigned)((E + 31) / 32), (unsigned)Bt);
    scan_fwd_kernel<4, kMaxS><<<grid, kThreads, 0, st>>>(a, y, ldy, last_state, chunk_states);
  } else {
    const dim3 grid((unsigned)((E + 7) / 8), (unsigned)Bt);
    scan_fwd_kernel<16, kMaxS><<<grid, kThreads, 0, st>>>(a, y, ldy, last_state, chunk_states);
  }
  return launch_status();
}

int itera_cuda_selective_scan_backward(int64_t Bt, int64_t L, int64_t E, int64_t N,
                                       const float* u, int64_t ldu, const float* delta,
                                       int64_t lddelta, const float* A, const float* B,
                                       int64_t ldb, const float* C, int64_t ldc, const float* D,
                                       const float* z, int64_t ldz, const float* delta_bias,
                                       int delta_softplus, int64_t chunk,
                                       const float* chunk_states, const float* dy, int64_t lddy,
                                       float* du, int64_t lddu, float* ddelta, int64_t ldddelta,
                                       float* dA, float* dB, int64_t lddb, float* dC,
                                       int64_t lddc, float* dD, float* dz, int64_t lddz,
                                       float* ddelta_bias, void* stream) {
  if (Bt <= 0 || L <= 0 || E <= 0) return (int)cudaSuccess;
  if (N < 1 || N > kMaxN || chunk < 1 || Bt > 65535) return kInvalid;
  if (!chunk_states && L > chunk) return kInvalid;
  const ScanArgs a = make_args(Bt, L, E, N, u, ldu, delta, lddelta, A, B, ldb, C, ldc, D, z, ldz,
                               delta_bias, delta_softplus, chunk);
  ScanGrads g;
  g.chunk_states = chunk_states; g.dy = dy; g.lddy = lddy; g.du = du; g.lddu = lddu;
  g.ddelta = ddelta; g.ldddelta = ldddelta; g.dA = dA; g.dB = dB; g.lddb = lddb; g.dC = dC;
  g.lddc = lddc; g.dD = dD; g.dz = dz; g.lddz = lddz; g.ddelta_bias = ddelta_bias;
  cudaStream_t st = as_stream(stream);
  if (g_scan_impl == 0 && N <= 16 && N % 4 == 0 && (uintptr_t)chunk_states % 16 == 0) {
    const size_t smem = bwd_fast_smem_bytes(N, chunk < L ? chunk : L);
    if (smem <= 200 * 1024) {
      if (smem > 48 * 1024) {
        cudaError_t err = cudaFuncSetAttribute(
            scan_bwd_fast_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem);
        if (err != cudaSuccess) return (int)err;
      }
      const dim3 grid((unsigned)((E + 31) / 32), (unsigned)Bt);
      scan_bwd_fast_kernel<<<grid, kThreads, smem, st>>>(a, g);
      return launch_status();
    }
  }
  // 16 tokens x 4 states of history per lane; 4 lanes per channel up to N = 16, 16 above
  // (the general kernels of impl 1 reduce dB / dC with plain per-value shuffles)
  if (N <= 4 * kMaxS)
    return g_scan_impl == 0 ? launch_bwd<4, kMaxS, 16, true>(a, g, st)
                            : launch_bwd<4, kMaxS, 16, false>(a, g, st);
  return g_scan_impl == 0 ? launch_bwd<16, kMaxS, 16, true>(a, g, st)
                          : launch_bwd<16, kMaxS, 16, false>(a, g, st);
}

int itera_cuda_selective_scan_step(int64_t Bt, int64_t E, int64_t N, const float* u,
                                   int64_t ldu, const float* delta, int64_t lddelta,
                                   const float* A, const float* B, int64_t ldb, const float* C,
                                   int64_t ldc, const float* D, const float* z, int64_t ldz,
                                   const float* delta_bias, int delta_softplus, float* state,
                                   float* y, int64_t ldy, void* stream) {
  if (Bt <= 0 || E <= 0) return (int)cudaSuccess;
  if (N < 1) return kInvalid;
  const ScanArgs a = make_args(Bt, 1, E, N, u, ldu, delta, lddelta, A, B, ldb, C, ldc, D, z, ldz,
                               delta_bias, delta_softplus, 1);
  scan_step_kernel<<<grid_for(Bt * E, 128), 128, 0, as_stream(stream)>>>(a, state, y, ldy);
  return launch_status();
}

}  // extern "C"
