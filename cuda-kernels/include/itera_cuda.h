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

#ifdef __cplusplus
}
#endif

#endif /* ITERA_CUDA_H */
