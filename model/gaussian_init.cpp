#include "model/gaussian_init.h"

#include <cmath>

namespace molt::model {

uint64_t GaussianStream::next_u64() {
  // splitmix64
  uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

double GaussianStream::next_unit() {
  return (static_cast<double>(next_u64() >> 11) + 1.0) * (1.0 / 9007199254740992.0);
}

void GaussianStream::fill(float* out, size_t count, float stddev) {
  constexpr double kTwoPi = 6.283185307179586;
  for (size_t i = 0; i < count; i += 2) {
    // Box–Muller: two independent normals from two uniforms.
    double radius = std::sqrt(-2.0 * std::log(next_unit()));
    double angle = kTwoPi * next_unit();
    out[i] = static_cast<float>(stddev * radius * std::cos(angle));
    if (i + 1 < count) out[i + 1] = static_cast<float>(stddev * radius * std::sin(angle));
  }
}

}  // namespace molt::model
