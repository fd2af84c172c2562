// GELU (tanh form) and T5 v1.1's gated GELU, forward and backward.
#pragma once

#include "kernels/backend.h"

namespace molt::kernels::cpu {

void gelu_forward(Tensor out, Tensor in);
void gelu_backward(Tensor din, Tensor dout, Tensor in);
void gated_gelu_forward(Tensor out, Tensor gate, Tensor linear);
void gated_gelu_backward(Tensor dgate, Tensor dlinear, Tensor dout, Tensor gate, Tensor linear);

}  // namespace molt::kernels::cpu
