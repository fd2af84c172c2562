// The flat buffers a model owns: f32 master weights, f32 gradients, and the compute copy of
// the weights (bf16 on a bf16 backend; the master buffer itself when compute is f32).
// One owner for both families, so allocation and release are written once.
#pragma once

#include <cstddef>

#include "kernels/backend.h"

namespace molt::model {

class FlatParameters {
 public:
  FlatParameters(kernels::Backend& backend, size_t count);
  ~FlatParameters();
  FlatParameters(const FlatParameters&) = delete;
  FlatParameters& operator=(const FlatParameters&) = delete;

  kernels::Tensor params;   // f32 master weights
  kernels::Tensor grads;    // f32, same layout
  kernels::Tensor compute;  // compute dtype; aliases params when that is f32

 private:
  kernels::Backend& backend_;
};

}  // namespace molt::model
