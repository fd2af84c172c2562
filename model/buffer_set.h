// Buffers allocated together on a backend and freed together when the set goes: a model's
// activations for one micro-batch shape, or the state of one generation. Freeing in the
// destructor also frees them when an error (a bad token id, a full context) ends the work
// early.
//
// A model's activations are carved from one block: a dry run of the same requests
// (BufferSet(backend, kMeasure)) says how many bytes the shape needs, and the set then takes
// over the block of the set before it if that is large enough, or replaces it with one that
// is. Buffers start 256 bytes apart and are zeroed, as fresh allocations are. A model whose
// micro-batch shape changes every step (the encoder-decoder on the prefix-LM task: the
// split point moves) thus stops freeing and allocating its activations each step: on the
// CPU that cost a page fault for every fresh page (a quarter of the step's time on the
// structure ladder's shapes), on a GPU a synchronising cudaFree per buffer. The block is as
// large as the largest shape so far, which is also what the old allocations peaked at.
#pragma once

#include <cstddef>
#include <vector>

#include "kernels/backend.h"

namespace molt::model {

class BufferSet {
 public:
  // One allocation per buffer.
  explicit BufferSet(kernels::Backend& backend) : backend_(backend) {}
  // A dry run: allocates nothing, hands out views without memory, counts bytes().
  struct Measure {};
  static constexpr Measure kMeasure{};
  BufferSet(kernels::Backend& backend, Measure) : backend_(backend), measuring_(true) {}
  // Buffers carved from `block` (an earlier set's, or empty), first replaced by a block of
  // `bytes` if it is smaller.
  BufferSet(kernels::Backend& backend, kernels::Tensor block, size_t bytes) : backend_(backend) {
    const size_t floats = (bytes + sizeof(float) - 1) / sizeof(float);
    if (block.count < floats) {
      if (!block.empty()) backend_.free(block);
      block = backend_.allocate(kernels::DType::kF32, floats);
      fresh_ = true;  // allocate() zeroed it
    }
    block_ = block;
  }
  ~BufferSet() {
    for (kernels::Tensor t : owned_) backend_.free(t);
    if (!block_.empty()) backend_.free(block_);
  }
  BufferSet(const BufferSet&) = delete;
  BufferSet& operator=(const BufferSet&) = delete;

  kernels::Tensor allocate(kernels::DType dtype, size_t count) {
    const size_t bytes = (count * kernels::dtype_bytes(dtype) + 255) / 256 * 256;
    bytes_ += bytes;
    if (measuring_) return kernels::Tensor{nullptr, dtype, count};
    if (count > 0 && bytes_ <= block_.bytes()) {
      kernels::Tensor carved =
          block_.slice((bytes_ - bytes) / sizeof(float), bytes / sizeof(float));
      if (!fresh_) backend_.fill(carved, 0.0f);
      carved.dtype = dtype;
      carved.count = count;
      return carved;
    }
    // Beyond the block (not after a dry run of the same requests): one of its own.
    owned_.push_back(backend_.allocate(dtype, count));
    return owned_.back();
  }

  // What the requests so far take, each rounded up to 256 bytes.
  size_t bytes() const { return bytes_; }

  // The block, for the set that follows this one (this set keeps, and frees, the rest).
  kernels::Tensor take_block() {
    kernels::Tensor block = block_;
    block_ = kernels::Tensor{};
    return block;
  }

 private:
  kernels::Backend& backend_;
  bool measuring_ = false;
  bool fresh_ = false;  // the block comes from allocate(), already zero
  std::vector<kernels::Tensor> owned_;
  kernels::Tensor block_;
  size_t bytes_ = 0;
};

}  // namespace molt::model
