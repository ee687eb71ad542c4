// Host-only self-test of the harness itself (no GPU, no CUDA runtime): itera_cuda_check.cu's
// correctness section compiled as plain C++ against a mock in which "device" memory is host
// memory and every itera_cuda_* kernel is the CPU reference. Every check must then pass with
// error 0, which proves the harness's expectations (poisoned padding, accumulate-vs-write,
// in-place cross-entropy, device_status, strided slices at the target shape) are those of the
// specification, so a FAIL on a GPU is the kernel's. Built by CMake as itera_cuda_check_hostmock
// (bench/README.md); it needs the CUDA headers only.
#ifdef ITERA_CHECK_EMU
// bench/emu/run_emu_check.sh: the harness rewritten for the CPU emulator, kernels and timing
// code included (the timings are then meaningless, but every line of the harness runs)
#include ITERA_CHECK_EMU_HARNESS
#else
#define ITERA_CHECK_HOST_MOCK 1
#include "itera_cuda_check.cu"
#endif

#include <cstdlib>
#include <cstring>

// ------------------------------------------------------------------ CUDA runtime mock
extern "C" {
cudaError_t cudaMalloc(void** p, size_t n) {
  *p = std::malloc(n ? n : 1);
  return *p ? cudaSuccess : cudaErrorMemoryAllocation;
}
cudaError_t cudaFree(void* p) {
  std::free(p);
  return cudaSuccess;
}
cudaError_t cudaMemcpy(void* d, const void* s, size_t n, cudaMemcpyKind) {
  std::memmove(d, s, n);
  return cudaSuccess;
}
cudaError_t cudaMemset(void* d, int v, size_t n) {
  std::memset(d, v, n);
  return cudaSuccess;
}
cudaError_t cudaDeviceSynchronize(void) { return cudaSuccess; }
cudaError_t cudaSetDevice(int) { return cudaSuccess; }
cudaError_t cudaGetDeviceProperties(cudaDeviceProp* p, int) {
  std::memset(p, 0, sizeof(*p));
  std::strcpy(p->name, "host mock");
  p->multiProcessorCount = 1;
  p->l2CacheSize = 1 << 20;
  return cudaSuccess;
}
cudaError_t cudaMemGetInfo(size_t* f, size_t* t) {
  *f = *t = (size_t)1 << 32;
  return cudaSuccess;
}
const char* cudaGetErrorString(cudaError_t e) { return e == cudaSuccess ? "no error" : "mock error"; }
#ifdef ITERA_CHECK_EMU
cudaError_t cudaMemcpyAsync(void* d, const void* s, size_t n, cudaMemcpyKind, cudaStream_t) {
  std::memmove(d, s, n);
  return cudaSuccess;
}
cudaError_t cudaEventCreate(cudaEvent_t* e) {
  *e = reinterpret_cast<cudaEvent_t>(new char);
  return cudaSuccess;
}
cudaError_t cudaEventDestroy(cudaEvent_t e) {
  delete reinterpret_cast<char*>(e);
  return cudaSuccess;
}
cudaError_t cudaEventRecord(cudaEvent_t, cudaStream_t) { return cudaSuccess; }
cudaError_t cudaEventSynchronize(cudaEvent_t) { return cudaSuccess; }
cudaError_t cudaEventElapsedTime(float* ms, cudaEvent_t, cudaEvent_t) {
  *ms = 1.0f;  // one launch per sample
  return cudaSuccess;
}
#endif
}

extern "C" {
int itera_cuda_runtime_version(int* v) { *v = 0; return 0; }
int itera_cuda_driver_version(int* v) { *v = 0; return 0; }
int itera_cuda_device_count(int* c) { *c = 1; return 0; }
const char* itera_cuda_error_string(int) { return "mock"; }
}

// ------------------------------------------------------------------ itera_cuda_* = CPU reference
// (with -DITERA_CHECK_EMU the real kernels run in the CPU emulator instead: bench/emu/)
#ifndef ITERA_CHECK_EMU
extern "C" {
int itera_cuda_set_scan_impl(int impl) { return impl == 0 || impl == 1 ? 0 : 1; }
int itera_cuda_add(int64_t n, const float* a, const float* b, float* out) {
  itera_add_ref(n, a, b, out);
  return 0;
}
int itera_cuda_causal_conv1d_forward(int64_t Bt, int64_t L, int64_t E, int64_t K, const float* x,
                                     int64_t ldx, const float* w, const float* bias, float* y,
                                     int64_t ldy, void*) {
  itera_causal_conv1d_forward_ref(Bt, L, E, K, x, ldx, w, bias, y, ldy);
  return 0;
}
int itera_cuda_causal_conv1d_backward(int64_t Bt, int64_t L, int64_t E, int64_t K, const float* x,
                                      int64_t ldx, const float* w, const float* dy, int64_t lddy,
                                      float* dx, int64_t lddx, float* dw, float* dbias, void*) {
  itera_causal_conv1d_backward_ref(Bt, L, E, K, x, ldx, w, dy, lddy, dx, lddx, dw, dbias);
  return 0;
}
int itera_cuda_causal_conv1d_step(int64_t Bt, int64_t E, int64_t K, const float* x, int64_t ldx,
                                  float* state, const float* w, const float* bias, float* y,
                                  int64_t ldy, void*) {
  itera_causal_conv1d_step_ref(Bt, E, K, x, ldx, state, w, bias, y, ldy);
  return 0;
}
int itera_cuda_selective_scan_forward(int64_t Bt, int64_t L, int64_t E, int64_t N, const float* u,
                                      int64_t ldu, const float* delta, int64_t lddelta,
                                      const float* A, const float* B, int64_t ldb, const float* C,
                                      int64_t ldc, const float* D, const float* z, int64_t ldz,
                                      const float* delta_bias, int sp, int64_t chunk, float* y,
                                      int64_t ldy, float* last_state, float* chunk_states, void*) {
  itera_selective_scan_forward_ref(Bt, L, E, N, u, ldu, delta, lddelta, A, B, ldb, C, ldc, D, z,
                                   ldz, delta_bias, sp, chunk, y, ldy, last_state, chunk_states);
  return 0;
}
int itera_cuda_selective_scan_backward(
    int64_t Bt, int64_t L, int64_t E, int64_t N, const float* u, int64_t ldu, const float* delta,
    int64_t lddelta, const float* A, const float* B, int64_t ldb, const float* C, int64_t ldc,
    const float* D, const float* z, int64_t ldz, const float* delta_bias, int sp, int64_t chunk,
    const float* cs, const float* dy, int64_t lddy, float* du, int64_t lddu, float* ddelta,
    int64_t ldddelta, float* dA, float* dB, int64_t lddb, float* dC, int64_t lddc, float* dD,
    float* dz, int64_t lddz, float* ddelta_bias, void*) {
  itera_selective_scan_backward_ref(Bt, L, E, N, u, ldu, delta, lddelta, A, B, ldb, C, ldc, D, z,
                                    ldz, delta_bias, sp, chunk, cs, dy, lddy, du, lddu, ddelta,
                                    ldddelta, dA, dB, lddb, dC, lddc, dD, dz, lddz, ddelta_bias);
  return 0;
}
int itera_cuda_selective_scan_step(int64_t Bt, int64_t E, int64_t N, const float* u, int64_t ldu,
                                   const float* delta, int64_t lddelta, const float* A,
                                   const float* B, int64_t ldb, const float* C, int64_t ldc,
                                   const float* D, const float* z, int64_t ldz,
                                   const float* delta_bias, int sp, float* state, float* y,
                                   int64_t ldy, void*) {
  itera_selective_scan_step_ref(Bt, E, N, u, ldu, delta, lddelta, A, B, ldb, C, ldc, D, z, ldz,
                                delta_bias, sp, state, y, ldy);
  return 0;
}
int itera_cuda_moe_topk(int64_t T, int64_t E, int64_t k, const float* probs, int64_t ldp,
                        int32_t* ids, float* weights, void*) {
  return itera_moe_topk_ref(T, E, k, probs, ldp, ids, weights) == ITERA_OK ? 0 : 1;
}
int itera_cuda_moe_dispatch(int64_t T, int64_t k, int64_t E, int64_t capacity, const int32_t* ids,
                            int32_t* routed, int32_t* offsets, int32_t* slots, int32_t* perm,
                            int32_t* status, void*) {
  const int st = itera_moe_dispatch_ref(T, k, E, capacity, ids, routed, offsets, slots, perm);
  if (status) *status = st;
  return 0;
}
int itera_cuda_moe_gather(int64_t N, int64_t D, int64_t k, const int32_t* perm, const float* x,
                          int64_t ldx, float* xp, int64_t ldxp, void*) {
  itera_moe_gather_ref(N, D, k, perm, x, ldx, xp, ldxp);
  return 0;
}
int itera_cuda_moe_gather_backward(int64_t T, int64_t D, int64_t k, const int32_t* slots,
                                   const float* dxp, int64_t lddxp, float* dx, int64_t lddx,
                                   void*) {
  itera_moe_gather_backward_ref(T, D, k, slots, dxp, lddxp, dx, lddx);
  return 0;
}
int itera_cuda_moe_combine(int64_t T, int64_t D, int64_t k, const int32_t* slots,
                           const float* weights, const float* yp, int64_t ldyp, float* out,
                           int64_t ldo, void*) {
  itera_moe_combine_ref(T, D, k, slots, weights, yp, ldyp, out, ldo);
  return 0;
}
int itera_cuda_moe_combine_backward(int64_t T, int64_t N, int64_t D, int64_t k,
                                    const int32_t* perm, const int32_t* slots,
                                    const float* weights, const float* dout, int64_t lddo,
                                    const float* yp, int64_t ldyp, float* dyp, int64_t lddyp,
                                    float* dweights, void*) {
  itera_moe_combine_backward_ref(T, N, D, k, perm, slots, weights, dout, lddo, yp, ldyp, dyp,
                                 lddyp, dweights);
  return 0;
}
int itera_cuda_swiglu_forward(int64_t n, const float* h1, const float* h3, float* out, void*) {
  itera_swiglu_forward_ref(n, h1, h3, out);
  return 0;
}
int itera_cuda_swiglu_backward(int64_t n, const float* h1, const float* h3, const float* dout,
                               float* dh1, float* dh3, void*) {
  itera_swiglu_backward_ref(n, h1, h3, dout, dh1, dh3);
  return 0;
}
#ifdef ITERA_QFMT_Q4_0
int itera_cuda_gemv_q8_0(int64_t N, int64_t K, const void* W, const float* x, float* y, void*) {
  return itera_qgemv_ref(ITERA_QFMT_Q8_0, N, K, W, x, y) == ITERA_OK ? 0 : 1;
}
int itera_cuda_gemv_q4_0(int64_t N, int64_t K, const void* W, const float* x, float* y, void*) {
  return itera_qgemv_ref(ITERA_QFMT_Q4_0, N, K, W, x, y) == ITERA_OK ? 0 : 1;
}
#else
static int mock_gemv(bool q4, int64_t N, int64_t K, const void* W, const float* x, float* y) {
  const int bs = q4 ? 18 : 34;
  const unsigned char* w = static_cast<const unsigned char*>(W);
  for (int64_t n = 0; n < N; ++n) {
    double acc = 0.0;
    for (int64_t b = 0; b < K / 32; ++b) {
      const unsigned char* blk = w + (n * (K / 32) + b) * bs;
      __half h;
      std::memcpy(&h, blk, 2);
      const float d = __half2float(h);
      for (int j = 0; j < 32; ++j) {
        const int q = q4 ? (j < 16 ? (blk[2 + j] & 15) : (blk[2 + j - 16] >> 4)) - 8
                         : (int)(signed char)blk[2 + j];
        acc += (double)d * q * x[b * 32 + j];
      }
    }
    y[n] = (float)acc;
  }
  return 0;
}
int itera_cuda_gemv_q8_0(int64_t N, int64_t K, const void* W, const float* x, float* y, void*) {
  return mock_gemv(false, N, K, W, x, y);
}
int itera_cuda_gemv_q4_0(int64_t N, int64_t K, const void* W, const float* x, float* y, void*) {
  return mock_gemv(true, N, K, W, x, y);
}
#endif
int itera_cuda_rmsnorm_forward(int64_t R, int64_t C, const float* x, int64_t ldx, const float* w,
                               float eps, float* y, int64_t ldy, float* rstd, void*) {
  itera_rmsnorm_forward_ref(R, C, x, ldx, w, eps, y, ldy, rstd);
  return 0;
}
int itera_cuda_rmsnorm_backward(int64_t R, int64_t C, const float* dy, int64_t lddy,
                                const float* x, int64_t ldx, const float* w, const float* rstd,
                                float* dx, int64_t lddx, float* dw, void*) {
  itera_rmsnorm_backward_ref(R, C, dy, lddy, x, ldx, w, rstd, dx, lddx, dw);
  return 0;
}
int itera_cuda_softmax_forward(int64_t R, int64_t C, const float* x, int64_t ldx, float* y,
                               int64_t ldy, void*) {
  itera_softmax_forward_ref(R, C, x, ldx, y, ldy);
  return 0;
}
int itera_cuda_softmax_backward(int64_t R, int64_t C, const float* y, int64_t ldy,
                                const float* dy, int64_t lddy, float* dx, int64_t lddx, void*) {
  itera_softmax_backward_ref(R, C, y, ldy, dy, lddy, dx, lddx);
  return 0;
}
int itera_cuda_cross_entropy(int64_t R, int64_t V, const float* logits, int64_t ldl,
                             const int32_t* targets, int32_t ignore_index, float scale,
                             float* losses, float* dlogits, int64_t lddl, int32_t* status, void*) {
  const int st = itera_cross_entropy_ref(R, V, logits, ldl, targets, ignore_index, scale, losses,
                                         dlogits, lddl);
  if (status) *status = st;
  return 0;
}
int itera_cuda_adamw(int64_t n, float* param, const float* grad, float* m, float* v, float lr,
                     float beta1, float beta2, float eps, float wd, float gs, int64_t step, void*) {
  itera_adamw_ref(n, param, grad, m, v, lr, beta1, beta2, eps, wd, gs, step);
  return 0;
}
}
#endif  // ITERA_CHECK_EMU
