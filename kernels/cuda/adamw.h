// The fused AdamW step on the GPU (see adamw.cu).
#pragma once

#include "kernels/backend.h"
#include "kernels/cuda/device_context.h"

namespace molt::kernels::cuda {

void adamw(const DeviceContext& ctx, Tensor params, Tensor grads, Tensor m, Tensor v,
           Tensor compute_params, const AdamWStep& step);

}  // namespace molt::kernels::cuda
