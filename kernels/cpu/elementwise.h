// Elementwise CPU ops: fill, copy (with dtype conversion), scale, add, accumulate, and the
// squared norm used for gradient clipping.
#pragma once

#include "kernels/backend.h"

namespace molt::kernels::cpu {

void fill(Tensor x, float value);
void copy(Tensor dst, Tensor src);
void scale(Tensor x, float factor);
void add(Tensor out, Tensor a, Tensor b);
void accumulate(Tensor dst, Tensor src);
double sum_of_squares(Tensor x);

}  // namespace molt::kernels::cpu
