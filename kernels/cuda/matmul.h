// Linear layers on cuBLAS (see matmul.cu).
#pragma once

#include "kernels/backend.h"
#include "kernels/cuda/device_context.h"

namespace molt::kernels::cuda {

void matmul_forward(const DeviceContext& ctx, Tensor out, Tensor in, Tensor weight, Tensor bias,
                    int M, int K, int N);
void matmul_backward(const DeviceContext& ctx, Tensor din, Tensor dweight, Tensor dbias,
                     Tensor dout, Tensor in, Tensor weight, int M, int K, int N);

}  // namespace molt::kernels::cuda
