// What every CUDA op needs besides its tensors: the stream, the cuBLAS handle, scratch
// memory and the flag through which a kernel reports an index out of range.
//
// All ops of one backend run in order on ONE stream. That single fact is what makes the
// rest simple: scratch memory can be reused by the next op without events, a read of
// the error flag after a stream synchronisation sees every kernel before it, and no op
// needs to know what ran before it.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <cstddef>
#include <functional>
#include <utility>

#include "kernels/backend.h"

namespace molt::kernels::cuda {

// How the backend's own device buffers (below, and the cuBLASLt workspace in matmul.h)
// report the bytes they take and give back, for Backend::memory_usage()'s own_bytes:
// CudaBackend passes its Backend::count_own_bytes.
using CountBytes = std::function<void(size_t allocated, size_t freed)>;

// Device memory an op uses for the duration of one call (partial sums, per-row values).
// It grows to the largest request and is never shrunk; growing waits for the stream so
// the old block is no longer in use when it is freed.
class DeviceScratch {
 public:
  DeviceScratch(cudaStream_t stream, CountBytes count)
      : stream_(stream), report_(std::move(count)) {}
  ~DeviceScratch();
  DeviceScratch(const DeviceScratch&) = delete;
  DeviceScratch& operator=(const DeviceScratch&) = delete;

  // At least `bytes` of device memory, valid until the next reserve().
  void* reserve(size_t bytes);
  float* floats(size_t count) { return static_cast<float*>(reserve(count * sizeof(float))); }

 private:
  cudaStream_t stream_;
  CountBytes report_;
  void* data_ = nullptr;
  size_t bytes_ = 0;
};

// A vector of ones in f32 and one in bf16, grown on demand. A column sum is then a GEMM:
// dbias[N] += doutᵀ[N,M]·1[M], done by cuBLAS in a fixed order (deterministic).
class OnesVectors {
 public:
  OnesVectors(cudaStream_t stream, CountBytes count) : stream_(stream), report_(std::move(count)) {}
  ~OnesVectors();
  OnesVectors(const OnesVectors&) = delete;
  OnesVectors& operator=(const OnesVectors&) = delete;

  // At least `count` ones of `dtype` (kF32 or kBF16) in device memory.
  const void* get(DType dtype, size_t count);

 private:
  cudaStream_t stream_;
  CountBytes report_;
  void* data_[2] = {nullptr, nullptr};  // [0] f32, [1] bf16
  size_t count_[2] = {0, 0};
};

// What a kernel writes into the index-error flag when an id, bucket or target lies outside
// its table. The kernel skips the element; the backend throws at the next synchronising
// call (download, synchronize, sum_of_squares), naming the op.
enum IndexErrorCode : int {
  kNoIndexError = 0,
  kEmbeddingForwardIndex,
  kEmbeddingBackwardIndex,
  kPositionBiasForwardIndex,
  kPositionBiasBackwardIndex,
  kCrossEntropyTarget,
};
const char* index_error_description(int code);

class EpilogueGemmPlans;  // matmul.h

struct DeviceContext {
  cudaStream_t stream = nullptr;
  cublasHandle_t blas = nullptr;
  EpilogueGemmPlans* epilogue_gemm = nullptr;
  DeviceScratch* scratch = nullptr;
  OnesVectors* ones = nullptr;
  int* index_error = nullptr;  // device view of a host-mapped int; kNoIndexError while clean
};

// Blocks for a grid-stride loop over n elements (n > 0): enough to fill the GPU, capped
// so the grid stays small; each thread then handles several elements.
unsigned grid_stride_blocks(size_t n, int threads_per_block);

// The loop such a grid runs: for (i over this thread's share of [0, n)).
#define MOLT_GRID_STRIDE(i, n)                                            \
  for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < (n); \
       i += size_t(gridDim.x) * blockDim.x)

}  // namespace molt::kernels::cuda
