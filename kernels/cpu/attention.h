// Multi-head attention on the CPU: GEMM-based, one (batch, head) per task, no stored
// probabilities (only the per-row log-sum-exp).
#pragma once

#include "kernels/backend.h"

namespace molt::kernels::cpu {

void attention_forward(Tensor out, Tensor lse, Tensor q, Tensor k, Tensor v, Tensor bias,
                       Tensor prefix_lengths, const AttentionShape& shape);
void attention_backward(Tensor dq, Tensor dk, Tensor dv, Tensor dbias, Tensor dout, Tensor out,
                        Tensor lse, Tensor q, Tensor k, Tensor v, Tensor bias,
                        Tensor prefix_lengths, const AttentionShape& shape);

}  // namespace molt::kernels::cpu
