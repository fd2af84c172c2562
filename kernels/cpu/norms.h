// LayerNorm (GPT-2) and RMSNorm (T5) over the last dimension, forward and backward.
#pragma once

#include "kernels/backend.h"

namespace molt::kernels::cpu {

void layernorm_forward(Tensor out, Tensor mean, Tensor rstd, Tensor in, Tensor weight,
                       Tensor bias, int N, int C, float eps);
void layernorm_backward(Tensor din, Tensor dweight, Tensor dbias, Tensor dout, Tensor in,
                        Tensor weight, Tensor mean, Tensor rstd, int N, int C);
void rmsnorm_forward(Tensor out, Tensor rstd, Tensor in, Tensor weight, int N, int C, float eps);
void rmsnorm_backward(Tensor din, Tensor dweight, Tensor dout, Tensor in, Tensor weight,
                      Tensor rstd, int N, int C);

}  // namespace molt::kernels::cpu
