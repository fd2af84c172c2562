// One AdamW step over a contiguous range of f32 parameters.
#pragma once

#include "kernels/backend.h"

namespace molt::kernels::cpu {

void adamw(Tensor params, Tensor grads, Tensor m, Tensor v, Tensor compute_params,
           const AdamWStep& step);

}  // namespace molt::kernels::cpu
