// One device-side accessor for buffers that hold floats as f32 or bf16.
//
// backend.h lets compute buffers be bf16 or f32 while statistics and gradients stay f32,
// and an op often mixes both (layernorm: bf16 activations, f32 mean/rstd). Rather than
// instantiate every kernel for every combination of dtypes, a FloatArray carries its dtype
// as a flag and every element goes through load() (widen to f32) and store() (round to
// nearest even when narrowing, as cpu/bf16.h does on the host). All arithmetic is f32.
// The branch is uniform across a warp and the kernels it serves are memory-bound, so it
// costs little; a profiled hot kernel may later be specialised per dtype.
#pragma once

#include <cuda_bf16.h>

#include <cstddef>

namespace molt::kernels::cuda {

struct FloatArray {
  void* data = nullptr;
  bool bf16 = false;

  __device__ __forceinline__ float load(size_t i) const {
    return bf16 ? __bfloat162float(static_cast<const __nv_bfloat16*>(data)[i])
                : static_cast<const float*>(data)[i];
  }
  __device__ __forceinline__ void store(size_t i, float value) const {
    if (bf16) {
      static_cast<__nv_bfloat16*>(data)[i] = __float2bfloat16(value);
    } else {
      static_cast<float*>(data)[i] = value;
    }
  }
  __host__ __device__ bool present() const { return data != nullptr; }
};

}  // namespace molt::kernels::cuda
