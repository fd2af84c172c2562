// Elementwise CUDA ops and the sum of squares (see elementwise.cu).
#pragma once

#include "kernels/backend.h"
#include "kernels/cuda/device_context.h"

namespace molt::kernels::cuda {

void fill(const DeviceContext& ctx, Tensor x, float value);
void copy(const DeviceContext& ctx, Tensor dst, Tensor src);
void scale(const DeviceContext& ctx, Tensor x, float factor);
void add(const DeviceContext& ctx, Tensor out, Tensor a, Tensor b);
void accumulate(const DeviceContext& ctx, Tensor dst, Tensor src);
double sum_of_squares(const DeviceContext& ctx, Tensor x);

}  // namespace molt::kernels::cuda
