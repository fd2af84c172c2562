// Multi-head attention on the GPU, flash style (see attention.cu).
#pragma once

#include "kernels/backend.h"
#include "kernels/cuda/device_context.h"

namespace molt::kernels::cuda {

// Largest head_dim the kernels accept (each lane keeps head_dim / 32 accumulators).
constexpr int kMaxAttentionHeadDim = 128;

// Which kernels run an op. The tensor-core kernels (attention_tensor_core.cu) take ops
// whose q, k, v (and dout, for the backward) are all bf16 and whose head_dim is 16, 32, 64
// or 128; the f32 reference kernels (attention.cu) take the rest. With the environment
// variable MOLT_CUDA_ATTENTION=reference every op runs the reference kernels, to compare
// the two on a GPU; "auto" or unset is the rule above, and any other value is a UserError
// (raised when a CUDA backend is made, so before a job does any work).
enum class AttentionKernel { kReference, kTensorCore };
AttentionKernel choose_attention_kernel(bool bf16_operands, int head_dim);

void attention_forward(const DeviceContext& ctx, Tensor out, Tensor lse, Tensor q, Tensor k,
                       Tensor v, Tensor bias, Tensor prefix_lengths, const AttentionShape& shape);
void attention_backward(const DeviceContext& ctx, Tensor dq, Tensor dk, Tensor dv, Tensor dbias,
                        Tensor dout, Tensor out, Tensor lse, Tensor q, Tensor k, Tensor v,
                        Tensor bias, Tensor prefix_lengths, const AttentionShape& shape);

}  // namespace molt::kernels::cuda
