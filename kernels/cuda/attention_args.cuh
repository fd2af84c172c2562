// What the attention kernels share: their arguments and the index arithmetic of the
// layouts (see attention.cu for the layouts and masks). Used by the reference kernels
// (attention.cu) and the tensor-core kernels (attention_tensor_core.cu).
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/backend.h"
#include "kernels/cuda/float_array.cuh"

namespace molt::kernels::cuda {

// Everything a kernel needs, passed by value. Absent arrays are null / not present.
struct AttentionArgs {
  FloatArray q, k, v, out, dout, dq, dk, dv;
  float* lse = nullptr;         // [B, H, Tq]
  float* delta = nullptr;       // [B, H, Tq], backward scratch: δ_i
  const float* bias = nullptr;  // [H, Tq, Tk]
  float* dbias = nullptr;       // [H, Tq, Tk]
  const int32_t* prefix_lengths = nullptr;
  int batch, q_tokens, kv_tokens, heads, head_dim, q_stride, kv_stride;
  float scale;
  AttentionMask mask;
  // Tensor-core kernels only: q, k, v (and dout) are bf16 with rows that start on 16 bytes,
  // so a tile is staged with 16-byte loads.
  bool vector_rows = false;
};

// Query i sees keys [0, visible_limit(i)).
__device__ __forceinline__ int visible_limit(const AttentionArgs& a, int i, int prefix) {
  if (a.mask == AttentionMask::kBidirectional) return a.kv_tokens;
  int limit = i + (a.kv_tokens - a.q_tokens) + 1;
  if (a.mask == AttentionMask::kPrefix) limit = max(limit, prefix);
  return min(max(limit, 0), a.kv_tokens);
}

__device__ __forceinline__ int prefix_of(const AttentionArgs& a, int b) {
  return a.mask == AttentionMask::kPrefix ? a.prefix_lengths[b] : 0;
}

// Element offsets of (b, token, h, d = 0) in each layout.
__device__ __forceinline__ size_t q_at(const AttentionArgs& a, int b, int i, int h) {
  return (static_cast<size_t>(b) * a.q_tokens + i) * a.q_stride +
         static_cast<size_t>(h) * a.head_dim;
}
__device__ __forceinline__ size_t kv_at(const AttentionArgs& a, int b, int j, int h) {
  return (static_cast<size_t>(b) * a.kv_tokens + j) * a.kv_stride +
         static_cast<size_t>(h) * a.head_dim;
}
__device__ __forceinline__ size_t out_at(const AttentionArgs& a, int b, int i, int h) {
  return (static_cast<size_t>(b) * a.q_tokens + i) * a.heads * a.head_dim +
         static_cast<size_t>(h) * a.head_dim;
}
__device__ __forceinline__ size_t row_at(const AttentionArgs& a, int b, int h, int i) {
  return (static_cast<size_t>(b) * a.heads + h) * a.q_tokens + i;
}
__device__ __forceinline__ size_t bias_at(const AttentionArgs& a, int h, int i, int j) {
  return (static_cast<size_t>(h) * a.q_tokens + i) * a.kv_tokens + j;
}

}  // namespace molt::kernels::cuda
