// Linear layers on the CPU: y = x·Wᵀ + b with W stored [out, in] as torch.nn.Linear.
#pragma once

#include "kernels/backend.h"

namespace molt::kernels::cpu {

void matmul_forward(Tensor out, Tensor in, Tensor weight, Tensor bias, int M, int K, int N);
void matmul_backward(Tensor din, Tensor dweight, Tensor dbias, Tensor dout, Tensor in,
                     Tensor weight, int M, int K, int N, Din din_mode);

}  // namespace molt::kernels::cpu
