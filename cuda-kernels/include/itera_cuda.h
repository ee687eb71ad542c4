/*
 * Itera-Lite CUDA kernels: plain C ABI, same conventions as itera_kernels.h.
 *
 * Conventions (all functions):
 *   - Sizes are int64_t counts of ELEMENTS unless the name says bytes; pointers are raw and never
 *     owned (device pointers come from itera_cuda_malloc).
 *   - Every function returns an int status: the cudaError_t value (0 = cudaSuccess). On a machine
 *     without a GPU or with a too-old driver, itera_cuda_device_count returns e.g. 35
 *     (cudaErrorInsufficientDriver) or 100 (cudaErrorNoDevice) and sets *count = 0; nothing crashes.
 *   - Kernels are launched asynchronously on the legacy default stream of the current device; the
 *     status of a kernel call reports launch errors only. itera_cuda_synchronize (or a
 *     device-to-host copy) waits for completion and reports execution errors.
 *   - The CUDA runtime is linked statically (cudart_static); only the driver's libcuda.so.1 is
 *     needed at run time, and it is dlopen'ed on first use.
 */
#ifndef ITERA_CUDA_H
#define ITERA_CUDA_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- runtime and devices */
/* CUDA runtime version this library was built with (e.g. 13000); works without a driver. */
int itera_cuda_runtime_version(int* version);
/* Newest CUDA version the installed driver supports (0 when there is no driver). */
int itera_cuda_driver_version(int* version);
/* Number of visible CUDA devices; *count = 0 on any error. */
int itera_cuda_device_count(int* count);
/*
 * Properties of one device. name receives a NUL-terminated string of at most name_capacity bytes
 * (may be NULL when name_capacity is 0). Any other out-pointer may be NULL.
 */
int itera_cuda_device_properties(int device, char* name, int64_t name_capacity, int* cc_major,
                                 int* cc_minor, int64_t* total_memory_bytes,
                                 int* multiprocessor_count);
/* Static English description of a status code (never NULL). */
const char* itera_cuda_error_string(int status);
/* Makes a device current for the calling host thread. */
int itera_cuda_set_device(int device);
int itera_cuda_get_device(int* device);

/* ---------------------------------------------------------------- memory */
/* *ptr = device allocation of bytes (bytes <= 0: *ptr = NULL, returns 0). */
int itera_cuda_malloc(int64_t bytes, void** ptr);
/* Frees an itera_cuda_malloc pointer; NULL is a no-op. */
int itera_cuda_free(void* ptr);
/* Synchronous copies of bytes (bytes <= 0 is a no-op). */
int itera_cuda_memcpy_h2d(void* dst_device, const void* src_host, int64_t bytes);
int itera_cuda_memcpy_d2h(void* dst_host, const void* src_device, int64_t bytes);
int itera_cuda_memcpy_d2d(void* dst_device, const void* src_device, int64_t bytes);
/* Every byte of a device region set to value (low 8 bits). */
int itera_cuda_memset(void* dst_device, int value, int64_t bytes);
/* Waits for all work on the current device; returns the first pending error. */
int itera_cuda_synchronize(void);

/* ---------------------------------------------------------------- elementwise kernels (device pointers) */
/* out = a + b over n floats (residual add; out may alias a or b). */
int itera_cuda_add(int64_t n, const float* a, const float* b, float* out);
/* y += alpha * x over n floats. */
int itera_cuda_axpy(int64_t n, float alpha, const float* x, float* y);

/* ================================================================ model kernels (device pointers)
 *
 * Each function below mirrors the CPU kernel of the same name in cpu-kernels/include/itera_kernels.h
 * (itera_X -> itera_cuda_X): same argument order, same layouts, row strides and ELEMENT counts, same
 * maths, same WRITTEN-vs-ACCUMULATED (+=) semantics, so the CPU `itera_X_ref` is the specification
 * of both. Differences, all at the end of the argument list:
 *   - `void* stream`: a cudaStream_t (NULL = the legacy default stream); the kernels are launched
 *     asynchronously on it and the return value reports launch errors only (or
 *     cudaErrorInvalidValue = 1 for a size/argument combination the kernel does not support; the
 *     limits are stated per function).
 *   - Where the CPU kernel returns ITERA_ERR_INDEX_OUT_OF_RANGE for a bad token id / target, the
 *     CUDA kernel takes `int32_t* device_status` (device memory, may be NULL): it is WRITTEN with
 *     0 (ITERA_OK) or -1 (ITERA_ERR_INDEX_OUT_OF_RANGE, and then the outputs are not written) when
 *     the kernel has run; the caller reads it back after synchronising. With NULL the caller
 *     guarantees valid ids: bad ones are then skipped (dispatch: nothing written; cross-entropy:
 *     that row's loss is NaN) but never read or written out of range.
 *   - Sums run in float (the reference sums in double) and parameter gradients are reduced with
 *     float atomics, so results agree with the reference to rounding, not bit for bit, and the
 *     accumulated parameter gradients (dA, dD, ddelta_bias, conv dw/dbias, rmsnorm dw, MoE
 *     dweights) are not bitwise deterministic run to run.
 */

/* ---------------------------------------------------------------- selective SSM (Mamba-1) */
/* Supported: 1 <= N <= 64, Bt <= 65535, conv K <= 16. Scan backward: chunk_states must be the
 * forward's (same chunk; it may be NULL only when L <= chunk), and min(chunk, L) <= 1024 (it keeps
 * the state at every 8th or 16th token of a chunk in shared memory; up to ~1400 works). The
 * backward's shared memory grows with the chunk: chunk <= 256 keeps 3 blocks per SM (chunk 128
 * is what the benchmark uses). Fast paths (N % 4 == 0, N <= 16, 16-byte aligned state buffers)
 * are picked automatically; see itera_cuda_set_scan_impl. */
/* Kernel choice of the scan (process-wide; for cross-checks and benchmarks): 0 = the fastest
 * kernel that supports the shape (default), 1 = the general kernels only. Returns 1 for others. */
int itera_cuda_set_scan_impl(int impl);
int itera_cuda_causal_conv1d_forward(int64_t Bt, int64_t L, int64_t E, int64_t K, const float* x,
                                     int64_t ldx, const float* w, const float* bias, float* y,
                                     int64_t ldy, void* stream);
int itera_cuda_causal_conv1d_backward(int64_t Bt, int64_t L, int64_t E, int64_t K,
                                      const float* x, int64_t ldx, const float* w,
                                      const float* dy, int64_t lddy, float* dx, int64_t lddx,
                                      float* dw, float* dbias, void* stream);
int itera_cuda_causal_conv1d_step(int64_t Bt, int64_t E, int64_t K, const float* x, int64_t ldx,
                                  float* state, const float* w, const float* bias, float* y,
                                  int64_t ldy, void* stream);
int itera_cuda_selective_scan_forward(int64_t Bt, int64_t L, int64_t E, int64_t N,
                                      const float* u, int64_t ldu, const float* delta,
                                      int64_t lddelta, const float* A, const float* B,
                                      int64_t ldb, const float* C, int64_t ldc, const float* D,
                                      const float* z, int64_t ldz, const float* delta_bias,
                                      int delta_softplus, int64_t chunk, float* y, int64_t ldy,
                                      float* last_state, float* chunk_states, void* stream);
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
                                       float* ddelta_bias, void* stream);
int itera_cuda_selective_scan_step(int64_t Bt, int64_t E, int64_t N, const float* u,
                                   int64_t ldu, const float* delta, int64_t lddelta,
                                   const float* A, const float* B, int64_t ldb, const float* C,
                                   int64_t ldc, const float* D, const float* z, int64_t ldz,
                                   const float* delta_bias, int delta_softplus, float* state,
                                   float* y, int64_t ldy, void* stream);

/* ---------------------------------------------------------------- mixture of experts */
/* Supported: k <= 32 (top-k), E <= 1024 (dispatch; one thread block walks the assignments in
 * token order, so the permutation is the reference's stable one). */
int itera_cuda_moe_topk(int64_t T, int64_t E, int64_t k, const float* probs, int64_t ldp,
                        int32_t* ids, float* weights, void* stream);
int itera_cuda_moe_dispatch(int64_t T, int64_t k, int64_t E, int64_t capacity,
                            const int32_t* ids, int32_t* routed, int32_t* offsets,
                            int32_t* slots, int32_t* perm, int32_t* device_status, void* stream);
int itera_cuda_moe_gather(int64_t N, int64_t D, int64_t k, const int32_t* perm, const float* x,
                          int64_t ldx, float* xp, int64_t ldxp, void* stream);
int itera_cuda_moe_gather_backward(int64_t T, int64_t D, int64_t k, const int32_t* slots,
                                   const float* dxp, int64_t lddxp, float* dx, int64_t lddx,
                                   void* stream);
int itera_cuda_moe_combine(int64_t T, int64_t D, int64_t k, const int32_t* slots,
                           const float* weights, const float* yp, int64_t ldyp, float* out,
                           int64_t ldo, void* stream);
int itera_cuda_moe_combine_backward(int64_t T, int64_t N, int64_t D, int64_t k,
                                    const int32_t* perm, const int32_t* slots,
                                    const float* weights, const float* dout, int64_t lddo,
                                    const float* yp, int64_t ldyp, float* dyp, int64_t lddyp,
                                    float* dweights, void* stream);
int itera_cuda_swiglu_forward(int64_t n, const float* h1, const float* h3, float* out,
                              void* stream);
int itera_cuda_swiglu_backward(int64_t n, const float* h1, const float* h3, const float* dout,
                               float* dh1, float* dh3, void* stream);

/* ---------------------------------------------------------------- quantised GEMV (ggml blocks) */
/*
 * y[n] = sum_k W[n, k] * x[k], n < N, k < K (y WRITTEN). W is N rows of K/32 consecutive blocks,
 * row n starting at byte n * (K/32) * block_bytes of `W` (no padding between rows):
 *   Q8_0: {fp16 d; int8 qs[32]} = 34 bytes, W = d * qs[j];
 *   Q4_0: {fp16 d; uint8 qs[16]} = 18 bytes, element j < 16 = d * ((qs[j] & 15) - 8),
 *         element j + 16 = d * ((qs[j] >> 4) - 8).
 * Supported: K a positive multiple of 32, K <= 32768, x and W 16-byte aligned (cudaMalloc is).
 */
int itera_cuda_gemv_q8_0(int64_t N, int64_t K, const void* W, const float* x, float* y,
                         void* stream);
int itera_cuda_gemv_q4_0(int64_t N, int64_t K, const void* W, const float* x, float* y,
                         void* stream);

/* ---------------------------------------------------------------- norms, softmax, loss, optimiser */
int itera_cuda_rmsnorm_forward(int64_t R, int64_t C, const float* x, int64_t ldx, const float* w,
                               float eps, float* y, int64_t ldy, float* rstd, void* stream);
int itera_cuda_rmsnorm_backward(int64_t R, int64_t C, const float* dy, int64_t lddy,
                                const float* x, int64_t ldx, const float* w, const float* rstd,
                                float* dx, int64_t lddx, float* dw, void* stream);
int itera_cuda_softmax_forward(int64_t R, int64_t C, const float* x, int64_t ldx, float* y,
                               int64_t ldy, void* stream);
int itera_cuda_softmax_backward(int64_t R, int64_t C, const float* y, int64_t ldy,
                                const float* dy, int64_t lddy, float* dx, int64_t lddx,
                                void* stream);
/* Fused softmax cross-entropy of itera_cross_entropy (dlogits may be NULL or alias logits). */
int itera_cuda_cross_entropy(int64_t R, int64_t V, const float* logits, int64_t ldl,
                             const int32_t* targets, int32_t ignore_index, float scale,
                             float* losses, float* dlogits, int64_t lddl,
                             int32_t* device_status, void* stream);
int itera_cuda_adamw(int64_t n, float* param, const float* grad, float* m, float* v, float lr,
                     float beta1, float beta2, float eps, float weight_decay, float grad_scale,
                     int64_t step, void* stream);

#ifdef __cplusplus
}
#endif

#endif /* ITERA_CUDA_H */
