// LayerNorm and RMSNorm on the GPU (see norms.cu).
#pragma once

#include "kernels/backend.h"
#include "kernels/cuda/device_context.h"

namespace molt::kernels::cuda {

void layernorm_forward(const DeviceContext& ctx, Tensor out, Tensor mean, Tensor rstd, Tensor in,
                       Tensor weight, Tensor bias, int N, int C, float eps);
void layernorm_backward(const DeviceContext& ctx, Tensor din, Tensor dweight, Tensor dbias,
                        Tensor dout, Tensor in, Tensor weight, Tensor mean, Tensor rstd, int N,
                        int C);
void rmsnorm_forward(const DeviceContext& ctx, Tensor out, Tensor rstd, Tensor in, Tensor weight,
                     int N, int C, float eps);
void rmsnorm_backward(const DeviceContext& ctx, Tensor din, Tensor dweight, Tensor dout, Tensor in,
                      Tensor weight, Tensor rstd, int N, int C);

}  // namespace molt::kernels::cuda
