#include "model/sampling.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

namespace molt::model {

double TokenSampler::next_unit() {
  uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  return static_cast<double>(z >> 11) * (1.0 / 9007199254740992.0);
}

int32_t TokenSampler::sample(const float* logits, int vocab_size, const SamplingOptions& options) {
  if (options.temperature <= 0.0f) {
    return static_cast<int32_t>(std::max_element(logits, logits + vocab_size) - logits);
  }
  std::vector<int32_t> ids(vocab_size);
  std::iota(ids.begin(), ids.end(), 0);
  int keep = options.top_k > 0 ? std::min(options.top_k, vocab_size) : vocab_size;
  if (keep < vocab_size) {
    std::partial_sort(ids.begin(), ids.begin() + keep, ids.end(),
                      [&](int32_t a, int32_t b) { return logits[a] > logits[b]; });
    ids.resize(keep);
  }
  // softmax(logits / temperature) over the kept ids, then invert the CDF.
  float max_logit = logits[ids[0]];
  for (int32_t id : ids) max_logit = std::max(max_logit, logits[id]);
  std::vector<double> weights(ids.size());
  double total = 0;
  for (size_t i = 0; i < ids.size(); ++i) {
    weights[i] = std::exp((logits[ids[i]] - max_logit) / options.temperature);
    total += weights[i];
  }
  double target = next_unit() * total;
  for (size_t i = 0; i < ids.size(); ++i) {
    target -= weights[i];
    if (target < 0) return ids[i];
  }
  return ids.back();
}

}  // namespace molt::model
