// Elementwise CPU ops.
//
// These are memory-bound: one pass, no temporaries. OpenMP splits a buffer across threads
// only above kParallelElements; below it the fork/join costs more than the loop itself.
// sum_of_squares accumulates in double: the global gradient norm sums ~10⁸ squares, and an
// f32 running sum would stop growing once it is 2²⁴ times larger than a term.
// copy() is the only op that converts dtype: f32 ↔ bf16 (round-to-nearest-even, see
// bf16.h) and same-dtype copies; i32 never converts to or from a float type.
#include "kernels/cpu/elementwise.h"

#include <cstdint>
#include <cstring>

#include "kernels/cpu/bf16.h"
#include "kernels/cpu/checks.h"

namespace molt::kernels::cpu {
namespace {

constexpr int64_t kParallelElements = 1 << 15;

void f32_to_bf16(uint16_t* dst, const float* src, int64_t n) {
#pragma omp parallel for if (n > kParallelElements)
  for (int64_t i = 0; i < n; ++i) dst[i] = bf16_from_f32(src[i]);
}

void bf16_to_f32(float* dst, const uint16_t* src, int64_t n) {
#pragma omp parallel for if (n > kParallelElements)
  for (int64_t i = 0; i < n; ++i) dst[i] = f32_from_bf16(src[i]);
}

}  // namespace

void fill(Tensor x, float value) {
  float* out = f32_covering(x, x.count, "fill: x");
  const int64_t n = static_cast<int64_t>(x.count);
#pragma omp parallel for if (n > kParallelElements)
  for (int64_t i = 0; i < n; ++i) out[i] = value;
}

void copy(Tensor dst, Tensor src) {
  require_same_count(dst, src, "copy");
  if (dst.count == 0) return;
  const int64_t n = static_cast<int64_t>(dst.count);
  if (dst.dtype == src.dtype) {
    std::memmove(dst.data, src.data, dst.bytes());
  } else if (dst.dtype == DType::kBF16 && src.dtype == DType::kF32) {
    f32_to_bf16(static_cast<uint16_t*>(dst.data), static_cast<const float*>(src.data), n);
  } else if (dst.dtype == DType::kF32 && src.dtype == DType::kBF16) {
    bf16_to_f32(static_cast<float*>(dst.data), static_cast<const uint16_t*>(src.data), n);
  } else {
    require(false, std::string("copy: no conversion from ") + dtype_name(src.dtype) + " to " +
                       dtype_name(dst.dtype));
  }
}

void scale(Tensor x, float factor) {
  float* data = f32_covering(x, x.count, "scale: x");
  const int64_t n = static_cast<int64_t>(x.count);
#pragma omp parallel for if (n > kParallelElements)
  for (int64_t i = 0; i < n; ++i) data[i] *= factor;
}

void add(Tensor out, Tensor a, Tensor b) {
  require_same_count(out, a, "add: out, a");
  require_same_count(out, b, "add: out, b");
  float* o = f32_covering(out, out.count, "add: out");
  const float* x = f32_covering(a, a.count, "add: a");
  const float* y = f32_covering(b, b.count, "add: b");
  const int64_t n = static_cast<int64_t>(out.count);
#pragma omp parallel for if (n > kParallelElements)
  for (int64_t i = 0; i < n; ++i) o[i] = x[i] + y[i];
}

void accumulate(Tensor dst, Tensor src) {
  require_same_count(dst, src, "accumulate");
  float* d = f32_covering(dst, dst.count, "accumulate: dst");
  const float* s = f32_covering(src, src.count, "accumulate: src");
  const int64_t n = static_cast<int64_t>(dst.count);
#pragma omp parallel for if (n > kParallelElements)
  for (int64_t i = 0; i < n; ++i) d[i] += s[i];
}

double sum_of_squares(Tensor x) {
  const float* data = f32_covering(x, x.count, "sum_of_squares: x");
  const int64_t n = static_cast<int64_t>(x.count);
  double sum = 0.0;
#pragma omp parallel for reduction(+ : sum) if (n > kParallelElements)
  for (int64_t i = 0; i < n; ++i) sum += static_cast<double>(data[i]) * data[i];
  return sum;
}

}  // namespace molt::kernels::cpu
