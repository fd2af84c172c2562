// Softmax cross-entropy fused with its gradient, on the GPU (see loss.cu).
#pragma once

#include "kernels/backend.h"
#include "kernels/cuda/device_context.h"

namespace molt::kernels::cuda {

void cross_entropy(const DeviceContext& ctx, Tensor logits, Tensor losses, Tensor targets, int N,
                   int V, int ignore_index, float grad_scale);

}  // namespace molt::kernels::cuda
