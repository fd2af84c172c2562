// Span corruption: T5's length arithmetic, exact shapes, noise density, sentinel order,
// determinism per (seed, sample), and that inputs + targets give back the raw window.
// Also the encdec batches that objective.cpp builds from loader windows.
#include "jobs/span_corruption.h"

#include <gtest/gtest.h>

#include <numeric>
#include <set>

#include "jobs/objective.h"
#include "kernels/error.h"

namespace molt {
namespace {

SentinelIds Ids() {
  SentinelIds ids;
  ids.vocab_size = 1000, ids.sentinel_count = 100, ids.eos_id = 1;
  return ids;
}

std::vector<int32_t> Window(int n, uint64_t seed) {
  std::vector<int32_t> w(n);
  uint64_t s = seed;
  for (auto& t : w) {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    t = 4 + static_cast<int32_t>((s >> 33) % 800);  // never a sentinel, EOS or pad
  }
  return w;
}

TEST(SpanCorruptionLengths, EncoderLength512IsT5s568RawAnd114Targets) {
  SpanCorruptionLengths l = span_corruption_lengths(512);
  EXPECT_EQ(l.raw_tokens, 568);
  EXPECT_EQ(l.input_tokens, 512);
  EXPECT_EQ(l.target_tokens, 114);
  EXPECT_EQ(l.noise_tokens, 85);
  EXPECT_EQ(l.noise_spans, 28);
  EXPECT_EQ(span_corruption_lengths(64).raw_tokens, 70);  // round(10.5) = 10: half to even
}

TEST(SpanCorruptionLengths, EveryEncoderLengthFromFourIsReachedExactly) {
  for (int e = 4; e <= 2048; ++e) {
    SpanCorruptionLengths l = span_corruption_lengths(e);
    ASSERT_EQ(l.input_tokens, e);
    // L is the largest raw length that fits.
    ASSERT_GT(span_corruption_lengths_of_raw(l.raw_tokens + 1).input_tokens, e);
  }
  EXPECT_THROW(span_corruption_lengths(3), UserError);
}

TEST(SpanCorruption, ShapesSentinelOrderAndReconstruction) {
  const SentinelIds ids = Ids();
  for (int e : {4, 9, 64, 512}) {
    SpanCorruptionLengths l = span_corruption_lengths(e);
    for (uint64_t seed = 0; seed < 50; ++seed) {
      std::vector<int32_t> raw = Window(l.raw_tokens, seed), in(l.input_tokens),
                           out(l.target_tokens);
      corrupt_spans(raw.data(), l, ids, seed, in.data(), out.data());
      EXPECT_EQ(in.back(), ids.eos_id);
      EXPECT_EQ(out.back(), ids.eos_id);
      EXPECT_EQ(out.front(), ids.sentinel(0));
      // Sentinels appear in order 0, 1, ..., k-1 in both, once each.
      std::vector<int32_t> in_sentinels, out_sentinels;
      for (int32_t t : in)
        if (t >= ids.vocab_size - ids.sentinel_count) in_sentinels.push_back(t);
      for (int32_t t : out)
        if (t >= ids.vocab_size - ids.sentinel_count) out_sentinels.push_back(t);
      std::vector<int32_t> expected(l.noise_spans);
      for (int k = 0; k < l.noise_spans; ++k) expected[k] = ids.sentinel(k);
      EXPECT_EQ(in_sentinels, expected);
      EXPECT_EQ(out_sentinels, expected);
      // No two sentinels adjacent in the inputs: every kept span is non-empty.
      for (size_t i = 1; i < in.size(); ++i) {
        EXPECT_FALSE(in[i] >= 900 && in[i - 1] >= 900) << "empty kept span at " << i;
      }
      EXPECT_EQ(uncorrupt_spans(in, out, ids), raw) << "E=" << e << " seed=" << seed;
    }
  }
}

TEST(SpanCorruption, NoiseDensityAndMeanSpanOverManySamples) {
  // The counts are fixed by L; what is random is where the spans fall. Over many samples
  // every raw position is noise with probability ≈ 0.15 (away from the first token, which
  // always starts a kept span), and spans average N/k ≈ 3 tokens.
  const SentinelIds ids = Ids();
  SpanCorruptionLengths l = span_corruption_lengths(512);
  EXPECT_NEAR(double(l.noise_tokens) / l.raw_tokens, 0.15, 0.001);
  EXPECT_NEAR(double(l.noise_tokens) / l.noise_spans, 3.0, 0.1);
  std::vector<double> noise_at(l.raw_tokens, 0);
  const int samples = 2000;
  for (int s = 0; s < samples; ++s) {
    std::vector<int32_t> raw(l.raw_tokens);
    std::iota(raw.begin(), raw.end(), 0);  // token = its position
    std::vector<int32_t> in(l.input_tokens), out(l.target_tokens);
    corrupt_spans(raw.data(), l, ids, 1000 + s, in.data(), out.data());
    for (int32_t t : out)
      if (t < l.raw_tokens && t != ids.eos_id) noise_at[t] += 1;
  }
  double middle = 0;
  for (int i = 50; i < l.raw_tokens - 50; ++i) middle += noise_at[i] / samples;
  middle /= l.raw_tokens - 100;
  EXPECT_NEAR(middle, 0.15, 0.01);
  EXPECT_EQ(noise_at[0], 0);
}

TEST(SpanCorruption, SameSeedSameExampleOtherSeedOther) {
  const SentinelIds ids = Ids();
  SpanCorruptionLengths l = span_corruption_lengths(64);
  std::vector<int32_t> raw = Window(l.raw_tokens, 3);
  std::vector<int32_t> a(l.input_tokens), b(l.input_tokens), c(l.input_tokens), t(l.target_tokens);
  corrupt_spans(raw.data(), l, ids, 42, a.data(), t.data());
  corrupt_spans(raw.data(), l, ids, 42, b.data(), t.data());
  corrupt_spans(raw.data(), l, ids, 43, c.data(), t.data());
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
}

TEST(SpanCorruption, TooFewSentinelsIsAUserError) {
  SentinelIds ids = Ids();
  ids.sentinel_count = 2;
  SpanCorruptionLengths l = span_corruption_lengths(64);  // 4 spans
  std::vector<int32_t> raw = Window(l.raw_tokens, 1), in(l.input_tokens), out(l.target_tokens);
  EXPECT_THROW(corrupt_spans(raw.data(), l, ids, 1, in.data(), out.data()), UserError);
}

JobConfig EncdecJob(const std::string& objective, int seq_len) {
  JobConfig job;
  job.model.family = "encdec";
  job.data.objective = objective;
  job.data.seq_len = seq_len;
  job.batch.global_batch = 4;
  job.run.seed = 7;
  return job;
}

io::MicroBatch Windows(int rows, int row_tokens) {
  io::MicroBatch windows;
  windows.rows = rows, windows.row_tokens = row_tokens;
  for (int r = 0; r < rows; ++r) {
    std::vector<int32_t> w = Window(row_tokens, 100 + r);
    windows.tokens.insert(windows.tokens.end(), w.begin(), w.end());
  }
  return windows;
}

io::DatasetInfo Dataset() {
  io::DatasetInfo d;
  d.vocab_size = 1000, d.sentinel_count = 100, d.pad_id = 0, d.eos_id = 1;
  return d;
}

TEST(EncdecObjective, SpanCorruptionBatchesAreShiftedRightFromPadAndSliceFree) {
  JobConfig job = EncdecJob("span_corruption", 64);
  ExampleShape shape = example_shape(job);
  EXPECT_EQ(shape.window_tokens, 70);
  EXPECT_EQ(raw_window_tokens(job), 70);
  EXPECT_EQ(shape.input_tokens, 64);
  EXPECT_EQ(shape.target_tokens, 14);
  io::MicroBatch all = Windows(4, 70);
  model::TokenBatch full = make_batch(job, Dataset(), all, 8);
  EXPECT_EQ(full.input_tokens, 64);
  EXPECT_EQ(full.target_tokens, 14);
  ASSERT_EQ(full.decoder_inputs.size(), 4u * 14);
  for (int b = 0; b < 4; ++b) {
    EXPECT_EQ(full.decoder_inputs[b * 14], 0);
    for (int t = 1; t < 14; ++t)
      EXPECT_EQ(full.decoder_inputs[b * 14 + t], full.targets[b * 14 + t - 1]);
  }
  // Rows 2..3 alone, as another rank would see them, corrupt identically.
  io::MicroBatch half = all;
  half.rows = 2;
  half.tokens.assign(all.tokens.begin() + 2 * 70, all.tokens.end());
  model::TokenBatch part = make_batch(job, Dataset(), half, 10);
  EXPECT_EQ(part.inputs, std::vector<int32_t>(full.inputs.begin() + 2 * 64, full.inputs.end()));
  EXPECT_EQ(part.targets, std::vector<int32_t>(full.targets.begin() + 2 * 14, full.targets.end()));
}

TEST(EncdecObjective, PrefixLmSplitsTheWindowOncePerStep) {
  JobConfig job = EncdecJob("prefix_lm", 32);
  EXPECT_EQ(example_shape(job).window_tokens, 33);
  io::MicroBatch windows = Windows(2, 33);
  std::set<int> splits;
  for (int64_t step = 0; step < 20; ++step) {
    model::TokenBatch a = make_batch(job, Dataset(), windows, step * 4);
    model::TokenBatch b = make_batch(job, Dataset(), windows, step * 4 + 2);  // same step
    EXPECT_EQ(a.input_tokens, b.input_tokens);
    EXPECT_EQ(a.input_tokens + a.target_tokens, 33);
    EXPECT_GE(a.input_tokens, 1);
    EXPECT_LE(a.input_tokens, 31);
    // The encoder reads the prefix and the decoder predicts the rest, token for token.
    std::vector<int32_t> joined(a.inputs.begin(), a.inputs.begin() + a.input_tokens);
    joined.insert(joined.end(), a.targets.begin(), a.targets.begin() + a.target_tokens);
    EXPECT_EQ(joined, std::vector<int32_t>(windows.tokens.begin(), windows.tokens.begin() + 33));
    splits.insert(a.input_tokens);
  }
  EXPECT_GT(splits.size(), 5u);
}

TEST(EncdecObjective, ObjectivesOutsideTheirFamilyAreUserErrors) {
  EXPECT_THROW(example_shape(EncdecJob("causal", 32)), UserError);
  JobConfig decoder = EncdecJob("span_corruption", 32);
  decoder.model.family = "decoder";
  EXPECT_THROW(example_shape(decoder), UserError);
}

}  // namespace
}  // namespace molt
