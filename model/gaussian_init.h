// Deterministic normal samples for initialisation.
//
// std::normal_distribution's output is implementation-defined, so the same seed could give
// different models on different standard libraries; a fixed Box–Muller over splitmix64 is
// the same everywhere, which makes "same seed, same run" hold across machines.
#pragma once

#include <cstddef>
#include <cstdint>

namespace molt::model {

class GaussianStream {
 public:
  explicit GaussianStream(uint64_t seed) : state_(seed) {}
  // Fills out[i] ~ N(0, std²).
  void fill(float* out, size_t count, float stddev);

 private:
  uint64_t next_u64();
  double next_unit();  // uniform in (0, 1]
  uint64_t state_;
};

}  // namespace molt::model
