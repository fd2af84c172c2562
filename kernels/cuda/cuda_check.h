// Turning CUDA and cuBLAS status codes into exceptions.
//
// Every runtime and cuBLAS call in cuda/ goes through MOLT_CUDA_CHECK or MOLT_CUBLAS_CHECK,
// and every kernel launch is followed by MOLT_CUDA_CHECK_LAUNCH(), so a failure surfaces at
// the call that caused it (or, for an asynchronous fault inside a kernel, at the next
// checked call) as a std::runtime_error naming the call, the file and the line. A device
// failure is not the user's doing and is not a programmer error either: runtime_error,
// never molt::UserError, never assert.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

namespace molt::kernels::cuda {

[[noreturn]] inline void throw_cuda_error(cudaError_t status, const char* call, const char* file,
                                          int line) {
  throw std::runtime_error(std::string("CUDA error: ") + call + " failed with " +
                           cudaGetErrorName(status) + " (" + cudaGetErrorString(status) + ") at " +
                           file + ":" + std::to_string(line));
}

[[noreturn]] inline void throw_cublas_error(cublasStatus_t status, const char* call,
                                            const char* file, int line) {
  throw std::runtime_error(std::string("cuBLAS error: ") + call + " failed with " +
                           cublasGetStatusName(status) + " (" + cublasGetStatusString(status) +
                           ") at " + file + ":" + std::to_string(line));
}

}  // namespace molt::kernels::cuda

#define MOLT_CUDA_CHECK(call)                                                           \
  do {                                                                                  \
    const cudaError_t molt_status_ = (call);                                            \
    if (molt_status_ != cudaSuccess)                                                    \
      ::molt::kernels::cuda::throw_cuda_error(molt_status_, #call, __FILE__, __LINE__); \
  } while (0)

#define MOLT_CUBLAS_CHECK(call)                                                           \
  do {                                                                                    \
    const cublasStatus_t molt_status_ = (call);                                           \
    if (molt_status_ != CUBLAS_STATUS_SUCCESS)                                            \
      ::molt::kernels::cuda::throw_cublas_error(molt_status_, #call, __FILE__, __LINE__); \
  } while (0)

// A launch with a bad configuration fails silently until checked.
#define MOLT_CUDA_CHECK_LAUNCH() MOLT_CUDA_CHECK(cudaGetLastError())
