// Multi-head attention on the GPU, flash style (see attention.cu).
#pragma once

#include "kernels/backend.h"
#include "kernels/cuda/device_context.h"

namespace molt::kernels::cuda {

// Largest head_dim the kernels accept (each lane keeps head_dim / 32 accumulators).
constexpr int kMaxAttentionHeadDim = 128;

void attention_forward(const DeviceContext& ctx, Tensor out, Tensor lse, Tensor q, Tensor k,
                       Tensor v, Tensor bias, Tensor prefix_lengths, const AttentionShape& shape);
void attention_backward(const DeviceContext& ctx, Tensor dq, Tensor dk, Tensor dv, Tensor dbias,
                        Tensor dout, Tensor out, Tensor lse, Tensor q, Tensor k, Tensor v,
                        Tensor bias, Tensor prefix_lengths, const AttentionShape& shape);

}  // namespace molt::kernels::cuda
