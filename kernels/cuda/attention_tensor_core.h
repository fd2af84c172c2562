// Attention on tensor cores for bf16 runs (see attention_tensor_core.cu). attention.cu
// decides which kernels run an op and calls these only when they fit.
#pragma once

#include "kernels/cuda/attention_args.cuh"
#include "kernels/cuda/device_context.h"

namespace molt::kernels::cuda {

// The head sizes the tensor-core kernels are built for: 16, 32, 64, 128. They also need
// q, k, v (and, for the backward, dout) in bf16.
bool tensor_core_head_dim(int head_dim);

// Same contract as attention_forward: writes a.out and a.lse.
void tensor_core_attention_forward(const DeviceContext& ctx, const AttentionArgs& a);

// Floats of device scratch the backward needs besides a.delta: the per-group partial sums
// of dbias (0 without dbias, or when one group fills the GPU).
size_t tensor_core_backward_scratch_floats(const AttentionArgs& a);

// Same contract as attention_backward, with a.delta (δ_i = Σ_d dO_id·O_id) already filled:
// adds into whichever of a.dq, a.dk, a.dv, a.dbias are present. `scratch` holds
// tensor_core_backward_scratch_floats(a) floats, apart from a.delta.
void tensor_core_attention_backward(const DeviceContext& ctx, const AttentionArgs& a,
                                    float* scratch);

}  // namespace molt::kernels::cuda
