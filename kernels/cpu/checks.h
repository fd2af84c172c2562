// Argument checks shared by the CPU kernels.
//
// A wrong dtype or a buffer too small for the shape is a programmer error (never the
// user's), so it throws std::logic_error rather than molt::UserError. The checks run on
// the calling thread before any OpenMP region: an exception must never leave a parallel
// region. Shaped ops only require that a view COVERS the elements the op touches (count
// ≥ needed), so a caller may pass a larger scratch buffer; elementwise ops, whose size IS
// the count, require equal counts.
#pragma once

#include <cstddef>
#include <stdexcept>
#include <string>

#include "kernels/backend.h"

namespace molt::kernels::cpu {

inline void require(bool ok, const std::string& what) {
  if (!ok) throw std::logic_error("cpu backend: " + what);
}

// An f32 view holding at least `needed` elements.
inline float* f32_covering(Tensor t, size_t needed, const char* what) {
  require(t.dtype == DType::kF32, std::string(what) + " must be f32");
  require(t.count >= needed, std::string(what) + " has " + std::to_string(t.count) +
                                 " elements, needs " + std::to_string(needed));
  return static_cast<float*>(t.data);
}

// As f32_covering, or nullptr when the caller passed an empty view to skip the output.
inline float* optional_f32(Tensor t, size_t needed, const char* what) {
  return t.empty() ? nullptr : f32_covering(t, needed, what);
}

inline const int32_t* i32_covering(Tensor t, size_t needed, const char* what) {
  require(t.dtype == DType::kI32, std::string(what) + " must be i32");
  require(t.count >= needed, std::string(what) + " has " + std::to_string(t.count) +
                                 " elements, needs " + std::to_string(needed));
  return static_cast<const int32_t*>(t.data);
}

inline void require_same_count(Tensor a, Tensor b, const char* what) {
  require(a.count == b.count, std::string(what) + ": element counts differ (" +
                                  std::to_string(a.count) + " vs " + std::to_string(b.count) +
                                  ")");
}

inline size_t product(int a, int b) { return static_cast<size_t>(a) * static_cast<size_t>(b); }

}  // namespace molt::kernels::cpu
