// DeviceScratch, OnesVectors and the grid-size rule (see device_context.h).
#include "kernels/cuda/device_context.h"

#include <cuda_bf16.h>

#include <algorithm>

#include "kernels/cuda/cuda_check.h"

namespace molt::kernels::cuda {
namespace {

constexpr int kThreads = 256;

__global__ void fill_ones_f32(float* out, size_t n) { MOLT_GRID_STRIDE(i, n) out[i] = 1.0f; }

__global__ void fill_ones_bf16(__nv_bfloat16* out, size_t n) {
  MOLT_GRID_STRIDE(i, n) out[i] = __float2bfloat16(1.0f);
}

}  // namespace

unsigned grid_stride_blocks(size_t n, int threads_per_block) {
  // 65536 blocks of 256 threads is far more than an H100 runs at once (132 SMs × 2048).
  constexpr size_t kMaxBlocks = 65536;
  return static_cast<unsigned>(
      std::min(kMaxBlocks, (n + threads_per_block - 1) / static_cast<size_t>(threads_per_block)));
}

DeviceScratch::~DeviceScratch() {
  if (data_ != nullptr) {
    cudaStreamSynchronize(stream_);  // destructors must not throw: errors are dropped
    cudaFree(data_);
    report_(0, bytes_);
  }
}

void* DeviceScratch::reserve(size_t bytes) {
  if (bytes <= bytes_ && data_ != nullptr) return data_;
  if (data_ != nullptr) {
    MOLT_CUDA_CHECK(cudaStreamSynchronize(stream_));
    MOLT_CUDA_CHECK(cudaFree(data_));
    report_(0, bytes_);
    data_ = nullptr;
    bytes_ = 0;
  }
  const size_t rounded = std::max<size_t>(bytes, 1 << 20);
  MOLT_CUDA_CHECK(cudaMalloc(&data_, rounded));
  report_(rounded, 0);
  bytes_ = rounded;
  return data_;
}

OnesVectors::~OnesVectors() {
  cudaStreamSynchronize(stream_);
  for (int slot = 0; slot < 2; ++slot) {
    if (data_[slot] == nullptr) continue;
    cudaFree(data_[slot]);
    report_(0, count_[slot] * dtype_bytes(slot == 0 ? DType::kF32 : DType::kBF16));
  }
}

const void* OnesVectors::get(DType dtype, size_t count) {
  const int slot = dtype == DType::kBF16 ? 1 : 0;
  if (count <= count_[slot] && data_[slot] != nullptr) return data_[slot];
  if (data_[slot] != nullptr) {
    MOLT_CUDA_CHECK(cudaStreamSynchronize(stream_));
    MOLT_CUDA_CHECK(cudaFree(data_[slot]));
    report_(0, count_[slot] * dtype_bytes(dtype));
    data_[slot] = nullptr;
    count_[slot] = 0;
  }
  const size_t n = std::max<size_t>(count, 4096);
  MOLT_CUDA_CHECK(cudaMalloc(&data_[slot], n * dtype_bytes(dtype)));
  report_(n * dtype_bytes(dtype), 0);
  if (slot == 0) {
    fill_ones_f32<<<grid_stride_blocks(n, kThreads), kThreads, 0, stream_>>>(
        static_cast<float*>(data_[slot]), n);
  } else {
    fill_ones_bf16<<<grid_stride_blocks(n, kThreads), kThreads, 0, stream_>>>(
        static_cast<__nv_bfloat16*>(data_[slot]), n);
  }
  MOLT_CUDA_CHECK_LAUNCH();
  count_[slot] = n;
  return data_[slot];
}

const char* index_error_description(int code) {
  switch (code) {
    case kEmbeddingForwardIndex:
      return "embedding_forward: a token id outside the table";
    case kEmbeddingBackwardIndex:
      return "embedding_backward: a token id outside the table";
    case kPositionBiasForwardIndex:
      return "position_bias_forward: a bucket outside the table";
    case kPositionBiasBackwardIndex:
      return "position_bias_backward: a bucket outside the table";
    case kCrossEntropyTarget:
      return "cross_entropy: a target outside [0, V) that is not ignore_index";
    default:
      return "an unknown index error";
  }
}

}  // namespace molt::kernels::cuda
