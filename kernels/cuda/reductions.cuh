// Warp and block reductions shared by the row kernels (norms, cross-entropy, attention).
//
// A warp reduces with butterfly shuffles (xor), after which EVERY lane holds the result,
// and holds the same bits: at each step lane i adds v_i + v_(i^k) and lane i^k adds the
// same two numbers, and f32 addition is commutative. A block reduces each warp, parks the
// 32 partials in shared memory, and every warp then reduces those partials itself, so all
// threads get the total without a broadcast step. The leading __syncthreads lets a kernel
// call block_sum repeatedly with the same 32-float scratch.
#pragma once

#include <cuda_runtime.h>

#include <cmath>

namespace molt::kernels::cuda {

constexpr unsigned kFullWarp = 0xffffffffu;
constexpr int kWarpSize = 32;

__device__ __forceinline__ float warp_sum(float v) {
  for (int offset = kWarpSize / 2; offset > 0; offset /= 2)
    v += __shfl_xor_sync(kFullWarp, v, offset);
  return v;
}

__device__ __forceinline__ float warp_max(float v) {
  for (int offset = kWarpSize / 2; offset > 0; offset /= 2)
    v = fmaxf(v, __shfl_xor_sync(kFullWarp, v, offset));
  return v;
}

// blockDim.x must be a multiple of 32; `shared` holds 32 floats.
__device__ __forceinline__ float block_sum(float v, float* shared) {
  const int lane = threadIdx.x % kWarpSize, warp = threadIdx.x / kWarpSize;
  const int warps = blockDim.x / kWarpSize;
  v = warp_sum(v);
  __syncthreads();  // a previous call may still be reading `shared`
  if (lane == 0) shared[warp] = v;
  __syncthreads();
  return warp_sum(lane < warps ? shared[lane] : 0.0f);
}

__device__ __forceinline__ float block_max(float v, float* shared) {
  const int lane = threadIdx.x % kWarpSize, warp = threadIdx.x / kWarpSize;
  const int warps = blockDim.x / kWarpSize;
  v = warp_max(v);
  __syncthreads();
  if (lane == 0) shared[warp] = v;
  __syncthreads();
  return warp_max(lane < warps ? shared[lane] : -INFINITY);
}

}  // namespace molt::kernels::cuda
