// Argument checks shared by the CUDA ops, run on the host before any launch.
//
// They mirror cpu/checks.h: a wrong dtype or a buffer too small for the shape is a
// programmer error and throws std::logic_error; shaped ops only require that a view
// COVERS what they touch; elementwise ops require equal counts. What differs is the dtype
// rule (backend.h): a "compute" buffer may be f32 or bf16 and is passed to kernels as a
// FloatArray, while statistics, master weights, gradients, moments, losses, lse and the
// attention bias must be f32. Index VALUES (token ids, targets, buckets) live on the
// device and cannot be checked here; kernels flag them instead (device_context.h).
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "kernels/backend.h"
#include "kernels/cuda/float_array.cuh"

namespace molt::kernels::cuda {

inline void require(bool ok, const std::string& what) {
  if (!ok) throw std::logic_error("cuda backend: " + what);
}

inline void require_count(Tensor t, size_t needed, const char* what) {
  require(t.count >= needed, std::string(what) + " has " + std::to_string(t.count) +
                                 " elements, needs " + std::to_string(needed));
}

// A compute buffer (f32 or bf16) holding at least `needed` elements.
inline FloatArray floats_covering(Tensor t, size_t needed, const char* what) {
  require(t.dtype == DType::kF32 || t.dtype == DType::kBF16,
          std::string(what) + " must be f32 or bf16, not " + dtype_name(t.dtype));
  require_count(t, needed, what);
  return FloatArray{t.data, t.dtype == DType::kBF16};
}

// As floats_covering, or an absent array when the caller passed an empty view.
inline FloatArray optional_floats(Tensor t, size_t needed, const char* what) {
  return t.empty() ? FloatArray{} : floats_covering(t, needed, what);
}

inline float* f32_covering(Tensor t, size_t needed, const char* what) {
  require(t.dtype == DType::kF32, std::string(what) + " must be f32, not " + dtype_name(t.dtype));
  require_count(t, needed, what);
  return static_cast<float*>(t.data);
}

inline float* optional_f32(Tensor t, size_t needed, const char* what) {
  return t.empty() ? nullptr : f32_covering(t, needed, what);
}

inline const int32_t* i32_covering(Tensor t, size_t needed, const char* what) {
  require(t.dtype == DType::kI32, std::string(what) + " must be i32, not " + dtype_name(t.dtype));
  require_count(t, needed, what);
  return static_cast<const int32_t*>(t.data);
}

inline void require_same_count(Tensor a, Tensor b, const char* what) {
  require(a.count == b.count, std::string(what) + ": element counts differ (" +
                                  std::to_string(a.count) + " vs " + std::to_string(b.count) + ")");
}

inline size_t product(int a, int b) { return static_cast<size_t>(a) * static_cast<size_t>(b); }

}  // namespace molt::kernels::cuda
