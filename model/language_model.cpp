#include "model/language_model.h"

#include <algorithm>

namespace molt::model {

int64_t TokenBatch::counted_targets() const {
  return std::count_if(targets.begin(), targets.end(),
                       [](int32_t t) { return t != kIgnoreIndex; });
}

void report_grads_ready(const GradsReadyHook& hook, const TensorTable& table, size_t first_entry,
                        size_t end_entry) {
  if (!hook) return;
  const TensorEntry& last = table[end_entry - 1];
  hook(table[first_entry].offset, last.offset + last.count());
}

std::vector<float> download_as_f32(kernels::Backend& backend, kernels::Tensor tensor) {
  std::vector<float> host(tensor.count);
  if (tensor.dtype == kernels::DType::kF32) {
    backend.download(host.data(), tensor);
    return host;
  }
  kernels::Tensor f32 = backend.allocate(kernels::DType::kF32, tensor.count);
  backend.copy(f32, tensor);
  backend.download(host.data(), f32);
  backend.free(f32);
  return host;
}

}  // namespace molt::model
