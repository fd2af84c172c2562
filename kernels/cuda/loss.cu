// Softmax cross-entropy, fused with its gradient, one block per row.
//
// Per row x[0..V) with target t:
//   lse  = m + log Σ_j exp(x_j − m),  m = max_j x_j     (subtracting m keeps exp ≤ 1)
//   loss = lse − x_t
//   dx_j = grad_scale·(exp(x_j − lse) − [j = t])         (written over x when grad_scale ≠ 0)
// Three passes over the row (max, sum, gradient) — simple, and V·2 bytes per row is tiny
// next to the GEMM that produced it; an online max-and-sum would save one pass. The row is
// overwritten only in the last pass, after x_t has been read and a barrier (inside
// block_sum) has passed, so in-place is safe. Each thread's f32 partial sum has ≤ V/512
// terms in (0, 1], and the block then adds 16 partials, so f32 is accurate enough here
// (the CPU's double partials matter for its 256-wide vector blocks, not for this).
// Ignored rows get loss 0 and, with a gradient, a zero row. A target outside [0, V) that is
// not ignore_index is treated as ignored and sets the context's error flag.
#include "kernels/cuda/loss.h"

#include "kernels/cuda/checks.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/reductions.cuh"

namespace molt::kernels::cuda {
namespace {

constexpr int kThreads = 512;

__global__ void cross_entropy_kernel(FloatArray logits, float* losses, const int32_t* targets,
                                     int V, int ignore_index, float grad_scale, int* index_error) {
  __shared__ float shared[32];
  const size_t row = static_cast<size_t>(blockIdx.x) * V;
  const int target = targets[blockIdx.x];
  const bool ignored = target == ignore_index;
  if (!ignored && (target < 0 || target >= V)) {
    if (threadIdx.x == 0) *index_error = kCrossEntropyTarget;
  }
  if (ignored || target < 0 || target >= V) {  // uniform across the block
    if (threadIdx.x == 0) losses[blockIdx.x] = 0.0f;
    if (grad_scale != 0.0f) {
      for (int j = threadIdx.x; j < V; j += blockDim.x) logits.store(row + j, 0.0f);
    }
    return;
  }
  float m = -INFINITY;
  for (int j = threadIdx.x; j < V; j += blockDim.x) m = fmaxf(m, logits.load(row + j));
  m = block_max(m, shared);
  float sum = 0.0f;
  for (int j = threadIdx.x; j < V; j += blockDim.x) sum += expf(logits.load(row + j) - m);
  const float target_logit = logits.load(row + target);
  sum = block_sum(sum, shared);  // also the barrier before anyone overwrites x
  const float lse = m + logf(sum);
  if (threadIdx.x == 0) losses[blockIdx.x] = lse - target_logit;
  if (grad_scale == 0.0f) return;
  for (int j = threadIdx.x; j < V; j += blockDim.x) {
    const float p = expf(logits.load(row + j) - lse);
    logits.store(row + j, grad_scale * (p - (j == target ? 1.0f : 0.0f)));
  }
}

}  // namespace

void cross_entropy(const DeviceContext& ctx, Tensor logits, Tensor losses, Tensor targets, int N,
                   int V, int ignore_index, float grad_scale) {
  require(N >= 0 && V > 0, "cross_entropy: needs N ≥ 0 and V > 0");
  const FloatArray x = floats_covering(logits, product(N, V), "cross_entropy: logits");
  float* loss = f32_covering(losses, N, "cross_entropy: losses");
  const int32_t* target = i32_covering(targets, N, "cross_entropy: targets");
  if (N == 0) return;
  cross_entropy_kernel<<<N, kThreads, 0, ctx.stream>>>(x, loss, target, V, ignore_index, grad_scale,
                                                       ctx.index_error);
  MOLT_CUDA_CHECK_LAUNCH();
}

}  // namespace molt::kernels::cuda
