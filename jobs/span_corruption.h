// Span corruption (T5's pretraining objective) on windows of the token stream.
//
// A raw window of L tokens is cut into alternating spans, starting with kept text:
//   kept₀ noise₀ kept₁ noise₁ … kept_{k−1} noise_{k−1}
// with N = round(0.15·L) noise tokens in k = round(N/3) spans (round half to even, as the
// reference's Python round). Each noise span becomes one sentinel in the encoder input, and
// the decoder's target lists each sentinel followed by the tokens it hid; both end in EOS:
//   inputs  = kept₀ S₀ kept₁ S₁ … kept_{k−1} S_{k−1} EOS      length L − N + k + 1
//   targets = S₀ noise₀ S₁ noise₁ … S_{k−1} noise_{k−1} EOS    length N + k + 1
// Sentinel S_i is id V − 1 − i at the top of the dataset's vocabulary (reserved by
// `molt prep --sentinels`). The span lengths are a uniformly random composition of N into
// k positive parts, and of L − N into k, so the mean noise span is N/k ≈ 3.
//
// Lengths: the encoder length E is configured (data.seq_len); L is the largest raw length
// whose input length is exactly E. Input length grows by 0 or 1 per extra raw token, so every
// E ≥ 4 is reached. E = 512 gives L = 568 (N = 85, k = 28) and 114 target tokens, as T5.
//
// Randomness is a pure function of (run seed, global sample index), so an example is the
// same on any world size, micro-batch split or resume.
#pragma once

#include <cstdint>
#include <vector>

namespace molt {

struct SpanCorruptionLengths {
  int raw_tokens = 0;     // L: tokens read from the stream per example
  int input_tokens = 0;   // encoder length
  int target_tokens = 0;  // decoder length
  int noise_tokens = 0;   // N
  int noise_spans = 0;    // k
};

constexpr double kNoiseDensity = 0.15;
constexpr double kMeanNoiseSpanLength = 3.0;

// The lengths that L raw tokens give.
SpanCorruptionLengths span_corruption_lengths_of_raw(int raw_tokens);

// The lengths for an encoder of `input_tokens`. Throws UserError naming data.seq_len when
// no raw length gives exactly that many (input_tokens < 4).
SpanCorruptionLengths span_corruption_lengths(int input_tokens);

struct SentinelIds {
  int64_t vocab_size = 0;      // the dataset's vocabulary
  int64_t sentinel_count = 0;  // sentinels reserved at its top
  int32_t eos_id = 1;
  int32_t sentinel(int k) const { return static_cast<int32_t>(vocab_size - 1 - k); }
};

// Corrupts `raw` (lengths.raw_tokens tokens) into inputs (lengths.input_tokens) and targets
// (lengths.target_tokens). `example_seed` picks the spans.
void corrupt_spans(const int32_t* raw, const SpanCorruptionLengths& lengths, const SentinelIds& ids,
                   uint64_t example_seed, int32_t* inputs, int32_t* targets);

// The raw window back from inputs and targets (for tests and inspection): each sentinel of
// the inputs is replaced by the tokens that follow the same sentinel in the targets.
std::vector<int32_t> uncorrupt_spans(const std::vector<int32_t>& inputs,
                                     const std::vector<int32_t>& targets, const SentinelIds& ids);

}  // namespace molt
