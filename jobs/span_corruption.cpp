#include "jobs/span_corruption.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>

#include "io/window_permutation.h"
#include "kernels/error.h"

namespace molt {
namespace {

using io::SplitMix64;  // the data order's generator: below() is exactly uniform

// Python's round(): to nearest, ties to even (std::nearbyint in the default rounding mode).
int round_half_even(double x) { return static_cast<int>(std::nearbyint(x)); }

// A uniformly random composition of `items` into `parts` positive lengths: choose parts−1
// distinct cut points among the items−1 gaps (partial Fisher–Yates), sort, take differences.
std::vector<int> random_composition(int items, int parts, SplitMix64& rng) {
  std::vector<int> gaps(items - 1);
  std::iota(gaps.begin(), gaps.end(), 1);
  for (int i = 0; i < parts - 1; ++i) {
    std::swap(gaps[i], gaps[i + rng.below(static_cast<uint64_t>(gaps.size() - i))]);
  }
  std::vector<int> cuts(gaps.begin(), gaps.begin() + (parts - 1));
  std::sort(cuts.begin(), cuts.end());
  cuts.push_back(items);
  std::vector<int> lengths;
  int previous = 0;
  for (int cut : cuts) {
    lengths.push_back(cut - previous);
    previous = cut;
  }
  return lengths;
}

}  // namespace

SpanCorruptionLengths span_corruption_lengths_of_raw(int raw_tokens) {
  SpanCorruptionLengths l;
  l.raw_tokens = raw_tokens;
  l.noise_tokens = std::clamp(round_half_even(raw_tokens * kNoiseDensity), 1, raw_tokens - 1);
  l.noise_spans = std::max(round_half_even(l.noise_tokens / kMeanNoiseSpanLength), 1);
  l.input_tokens = raw_tokens - l.noise_tokens + l.noise_spans + 1;
  l.target_tokens = l.noise_tokens + l.noise_spans + 1;
  return l;
}

SpanCorruptionLengths span_corruption_lengths(int input_tokens) {
  if (input_tokens < 4) {
    throw UserError("data.seq_len = " + std::to_string(input_tokens) +
                    " is too short for span corruption (the encoder needs at least 4 tokens)");
  }
  int raw = 2;
  while (span_corruption_lengths_of_raw(raw + 1).input_tokens <= input_tokens) ++raw;
  SpanCorruptionLengths l = span_corruption_lengths_of_raw(raw);
  if (l.input_tokens != input_tokens || raw - l.noise_tokens < l.noise_spans) {
    throw UserError("data.seq_len = " + std::to_string(input_tokens) +
                    ": no raw window length gives exactly that many span-corrupted tokens");
  }
  return l;
}

void corrupt_spans(const int32_t* raw, const SpanCorruptionLengths& lengths, const SentinelIds& ids,
                   uint64_t example_seed, int32_t* inputs, int32_t* targets) {
  if (lengths.noise_spans > ids.sentinel_count) {
    throw UserError("span corruption needs " + std::to_string(lengths.noise_spans) +
                    " sentinel ids per example but the dataset reserves " +
                    std::to_string(ids.sentinel_count) +
                    " (dataset.toml sentinel_count; `molt prep --sentinels`)");
  }
  SplitMix64 rng(example_seed);
  const int k = lengths.noise_spans;
  std::vector<int> noise = random_composition(lengths.noise_tokens, k, rng);
  std::vector<int> kept = random_composition(lengths.raw_tokens - lengths.noise_tokens, k, rng);
  const int32_t* next = raw;
  for (int i = 0; i < k; ++i) {
    inputs = std::copy(next, next + kept[i], inputs);
    next += kept[i];
    *inputs++ = ids.sentinel(i);
    *targets++ = ids.sentinel(i);
    targets = std::copy(next, next + noise[i], targets);
    next += noise[i];
  }
  *inputs = ids.eos_id;
  *targets = ids.eos_id;
}

std::vector<int32_t> uncorrupt_spans(const std::vector<int32_t>& inputs,
                                     const std::vector<int32_t>& targets, const SentinelIds& ids) {
  auto is_sentinel = [&](int32_t id) {
    return id < ids.vocab_size && id >= ids.vocab_size - ids.sentinel_count;
  };
  std::vector<int32_t> raw;
  for (size_t i = 0; i + 1 < inputs.size(); ++i) {  // the last token is the EOS
    if (!is_sentinel(inputs[i])) {
      raw.push_back(inputs[i]);
      continue;
    }
    auto at = std::find(targets.begin(), targets.end(), inputs[i]);
    for (++at; at != targets.end() && !is_sentinel(*at) && at + 1 != targets.end(); ++at) {
      raw.push_back(*at);
    }
  }
  return raw;
}

}  // namespace molt
