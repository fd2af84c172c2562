// Choosing the next token from logits: greedy, temperature, top-k.
//
// The uniform draws come from splitmix64 rather than <random>'s distributions, whose
// outputs differ between standard libraries; the same seed gives the same text anywhere.
#pragma once

#include <cstdint>

namespace molt::model {

struct SamplingOptions {
  float temperature = 1.0f;  // 0 means greedy (argmax)
  int top_k = 0;             // 0 means the whole vocabulary
};

class TokenSampler {
 public:
  explicit TokenSampler(uint64_t seed) : state_(seed) {}
  int32_t sample(const float* logits, int vocab_size, const SamplingOptions& options);

 private:
  double next_unit();  // uniform in [0, 1)
  uint64_t state_;
};

}  // namespace molt::model
