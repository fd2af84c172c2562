// A Backend that only counts memory, for planning a job's device memory without the device
// (`molt memory`). allocate() hands out distinct addresses that must never be touched and
// counts their bytes (Backend::memory_usage), so a model built on it, its optimizer and its
// activations for a micro-batch (LanguageModel::reserve) take no memory and no time, even at
// billions of parameters. compute_dtype() is whatever the planned job computes in (bf16 on
// a GPU), so the sizes are the real backend's. upload() and fill() have nothing to write and
// return; every other op throws std::logic_error: sizing runs no arithmetic.
#pragma once

#include <memory>

#include "kernels/backend.h"

namespace molt::kernels {

std::unique_ptr<Backend> make_sizing_backend(DType compute_dtype);

}  // namespace molt::kernels
