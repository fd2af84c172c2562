// Softmax cross-entropy with the gradient written over the logits.
#pragma once

#include "kernels/backend.h"

namespace molt::kernels::cpu {

void cross_entropy(Tensor logits, Tensor losses, Tensor targets, int N, int V, int ignore_index,
                   float grad_scale);

}  // namespace molt::kernels::cpu
