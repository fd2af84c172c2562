// Buffers allocated together on a backend and freed together when the set goes: a model's
// activations for one micro-batch shape, or the state of one generation. Freeing in the
// destructor also frees them when an error (a bad token id, a full context) ends the work
// early.
#pragma once

#include <cstddef>
#include <vector>

#include "kernels/backend.h"

namespace molt::model {

class BufferSet {
 public:
  explicit BufferSet(kernels::Backend& backend) : backend_(backend) {}
  ~BufferSet() {
    for (kernels::Tensor t : owned_) backend_.free(t);
  }
  BufferSet(const BufferSet&) = delete;
  BufferSet& operator=(const BufferSet&) = delete;

  kernels::Tensor allocate(kernels::DType dtype, size_t count) {
    owned_.push_back(backend_.allocate(dtype, count));
    return owned_.back();
  }

 private:
  kernels::Backend& backend_;
  std::vector<kernels::Tensor> owned_;
};

}  // namespace molt::model
