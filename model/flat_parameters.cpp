#include "model/flat_parameters.h"

namespace molt::model {

FlatParameters::FlatParameters(kernels::Backend& backend, size_t count) : backend_(backend) {
  params = backend_.allocate(kernels::DType::kF32, count);
  grads = backend_.allocate(kernels::DType::kF32, count);
  compute = backend_.compute_dtype() == kernels::DType::kF32
                ? params
                : backend_.allocate(backend_.compute_dtype(), count);
}

FlatParameters::~FlatParameters() {
  if (compute.data != params.data) backend_.free(compute);
  backend_.free(grads);
  backend_.free(params);
}

}  // namespace molt::model
