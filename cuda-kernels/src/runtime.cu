// Device queries and memory management: thin wrappers over the CUDA runtime API that return the
// cudaError_t value as int (see itera_cuda.h).
#include "itera_cuda.h"

#include <cuda_runtime.h>
#include <string.h>

extern "C" {

int itera_cuda_runtime_version(int* version) {
  int v = 0;
  cudaError_t err = cudaRuntimeGetVersion(&v);
  if (version) *version = v;
  return (int)err;
}

int itera_cuda_driver_version(int* version) {
  int v = 0;
  cudaError_t err = cudaDriverGetVersion(&v);
  if (version) *version = v;
  return (int)err;
}

int itera_cuda_device_count(int* count) {
  int c = 0;
  cudaError_t err = cudaGetDeviceCount(&c);
  if (err != cudaSuccess) {
    c = 0;
    cudaGetLastError();  // reset the (non-sticky) last-error slot so later calls start clean
  }
  if (count) *count = c;
  return (int)err;
}

int itera_cuda_device_properties(int device, char* name, int64_t name_capacity, int* cc_major,
                                 int* cc_minor, int64_t* total_memory_bytes,
                                 int* multiprocessor_count) {
  if (name && name_capacity > 0) name[0] = '\0';
  cudaDeviceProp prop;
  memset(&prop, 0, sizeof(prop));
  cudaError_t err = cudaGetDeviceProperties(&prop, device);
  if (err != cudaSuccess) return (int)err;
  if (name && name_capacity > 0) {
    size_t cap = (size_t)name_capacity;
    strncpy(name, prop.name, cap - 1);
    name[cap - 1] = '\0';
  }
  if (cc_major) *cc_major = prop.major;
  if (cc_minor) *cc_minor = prop.minor;
  if (total_memory_bytes) *total_memory_bytes = (int64_t)prop.totalGlobalMem;
  if (multiprocessor_count) *multiprocessor_count = prop.multiProcessorCount;
  return (int)cudaSuccess;
}

const char* itera_cuda_error_string(int status) {
  const char* s = cudaGetErrorString((cudaError_t)status);
  return s ? s : "unknown CUDA error";
}

int itera_cuda_set_device(int device) { return (int)cudaSetDevice(device); }

int itera_cuda_get_device(int* device) {
  int d = 0;
  cudaError_t err = cudaGetDevice(&d);
  if (device) *device = d;
  return (int)err;
}

int itera_cuda_malloc(int64_t bytes, void** ptr) {
  if (!ptr) return (int)cudaErrorInvalidValue;
  *ptr = NULL;
  if (bytes <= 0) return (int)cudaSuccess;
  return (int)cudaMalloc(ptr, (size_t)bytes);
}

int itera_cuda_free(void* ptr) {
  if (!ptr) return (int)cudaSuccess;
  return (int)cudaFree(ptr);
}

int itera_cuda_memcpy_h2d(void* dst_device, const void* src_host, int64_t bytes) {
  if (bytes <= 0) return (int)cudaSuccess;
  return (int)cudaMemcpy(dst_device, src_host, (size_t)bytes, cudaMemcpyHostToDevice);
}

int itera_cuda_memcpy_d2h(void* dst_host, const void* src_device, int64_t bytes) {
  if (bytes <= 0) return (int)cudaSuccess;
  return (int)cudaMemcpy(dst_host, src_device, (size_t)bytes, cudaMemcpyDeviceToHost);
}

int itera_cuda_memcpy_d2d(void* dst_device, const void* src_device, int64_t bytes) {
  if (bytes <= 0) return (int)cudaSuccess;
  return (int)cudaMemcpy(dst_device, src_device, (size_t)bytes, cudaMemcpyDeviceToDevice);
}

int itera_cuda_memset(void* dst_device, int value, int64_t bytes) {
  if (bytes <= 0) return (int)cudaSuccess;
  return (int)cudaMemset(dst_device, value, (size_t)bytes);
}

int itera_cuda_synchronize(void) { return (int)cudaDeviceSynchronize(); }

}  // extern "C"
