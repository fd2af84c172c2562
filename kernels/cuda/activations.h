// GELU and gated GELU on the GPU (see activations.cu).
#pragma once

#include "kernels/backend.h"
#include "kernels/cuda/device_context.h"

namespace molt::kernels::cuda {

void gelu_forward(const DeviceContext& ctx, Tensor out, Tensor in);
void gelu_backward(const DeviceContext& ctx, Tensor din, Tensor dout, Tensor in);
void gated_gelu_forward(const DeviceContext& ctx, Tensor out, Tensor gate, Tensor linear);
void gated_gelu_backward(const DeviceContext& ctx, Tensor dgate, Tensor dlinear, Tensor dout,
                         Tensor gate, Tensor linear);

}  // namespace molt::kernels::cuda
