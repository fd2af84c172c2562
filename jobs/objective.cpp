#include "jobs/objective.h"

#include "jobs/span_corruption.h"
#include "kernels/error.h"

namespace molt {
namespace {

uint64_t mix(uint64_t z) {  // splitmix64 finaliser
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// A hash of (seed, index) for one random choice; `salt` separates unrelated choices.
uint64_t example_hash(const JobConfig& config, int64_t index, uint64_t salt) {
  return mix(static_cast<uint64_t>(config.run.seed) * 0x9E3779B97F4A7C15ull +
             static_cast<uint64_t>(index) + salt);
}

[[noreturn]] void unavailable(const JobConfig& config) {
  throw UserError("data.objective = \"" + config.data.objective +
                  "\" is not available for model.family = \"" + config.model.family +
                  "\" (decoder: causal, prefix_lm; encdec: span_corruption, prefix_lm)");
}

model::TokenBatch decoder_batch(const JobConfig& config, const io::MicroBatch& windows,
                                int64_t first_sample) {
  const int B = windows.rows, T = windows.row_tokens - 1;
  model::TokenBatch batch;
  batch.batch = B;
  batch.input_tokens = batch.target_tokens = T;
  batch.inputs.reserve(size_t(B) * T);
  batch.targets.reserve(size_t(B) * T);
  for (int b = 0; b < B; ++b) {
    const int32_t* row = windows.tokens.data() + size_t(b) * windows.row_tokens;
    batch.inputs.insert(batch.inputs.end(), row, row + T);
    batch.targets.insert(batch.targets.end(), row + 1, row + T + 1);
  }
  if (config.data.objective == "causal") return batch;
  for (int b = 0; b < B; ++b) {  // prefix_lm
    uint64_t h = example_hash(config, first_sample + b, 0);
    int prefix = 1 + static_cast<int>(h % static_cast<uint64_t>(T - 1));
    batch.prefix_lengths.push_back(prefix);
    for (int t = 0; t < prefix - 1; ++t) batch.targets[size_t(b) * T + t] = model::kIgnoreIndex;
  }
  return batch;
}

// decoder_inputs = [pad, targets[:-1]] row by row.
void shift_right(model::TokenBatch& batch, int32_t pad) {
  const int Td = batch.target_tokens;
  batch.decoder_inputs.resize(batch.targets.size());
  for (int b = 0; b < batch.batch; ++b) {
    const int32_t* target = batch.targets.data() + size_t(b) * Td;
    int32_t* input = batch.decoder_inputs.data() + size_t(b) * Td;
    input[0] = pad;
    for (int t = 1; t < Td; ++t)
      input[t] = target[t - 1] == model::kIgnoreIndex ? pad : target[t - 1];
  }
}

// The encdec prefix split of the optimizer step that holds `sample`.
int encdec_prefix(const JobConfig& config, int64_t sample, int T) {
  const int64_t step = sample / config.batch.global_batch;
  return 1 + static_cast<int>(example_hash(config, step, 0x5EED) % static_cast<uint64_t>(T - 1));
}

model::TokenBatch encdec_batch(const JobConfig& config, const io::DatasetInfo& dataset,
                               const io::MicroBatch& windows, int64_t first_sample) {
  const int B = windows.rows;
  model::TokenBatch batch;
  batch.batch = B;
  if (config.data.objective == "span_corruption") {
    const SpanCorruptionLengths lengths = span_corruption_lengths(int(config.data.seq_len));
    SentinelIds ids;
    ids.vocab_size = dataset.vocab_size;
    ids.sentinel_count = dataset.sentinel_count;
    ids.eos_id = static_cast<int32_t>(dataset.eos_id);
    batch.input_tokens = lengths.input_tokens;
    batch.target_tokens = lengths.target_tokens;
    batch.inputs.resize(size_t(B) * lengths.input_tokens);
    batch.targets.resize(size_t(B) * lengths.target_tokens);
    for (int b = 0; b < B; ++b) {
      corrupt_spans(windows.tokens.data() + size_t(b) * windows.row_tokens, lengths, ids,
                    example_hash(config, first_sample + b, 0x5EA7),
                    batch.inputs.data() + size_t(b) * lengths.input_tokens,
                    batch.targets.data() + size_t(b) * lengths.target_tokens);
    }
  } else {  // prefix_lm
    const int T = windows.row_tokens - 1;
    const int prefix = encdec_prefix(config, first_sample, T);
    batch.input_tokens = prefix;
    batch.target_tokens = T + 1 - prefix;
    for (int b = 0; b < B; ++b) {
      const int32_t* row = windows.tokens.data() + size_t(b) * windows.row_tokens;
      batch.inputs.insert(batch.inputs.end(), row, row + prefix);
      batch.targets.insert(batch.targets.end(), row + prefix, row + T + 1);
    }
  }
  shift_right(batch, static_cast<int32_t>(dataset.pad_id));
  return batch;
}

}  // namespace

ExampleShape example_shape(const JobConfig& config) {
  const int T = static_cast<int>(config.data.seq_len);
  const std::string& objective = config.data.objective;
  ExampleShape shape;
  if (objective == "prefix_lm" && T < 2) {
    throw UserError("data.objective = \"prefix_lm\" needs data.seq_len >= 2");
  }
  if (config.model.family == "decoder") {
    if (objective != "causal" && objective != "prefix_lm") unavailable(config);
    shape.window_tokens = T + 1;
    shape.input_tokens = shape.target_tokens = T;
    return shape;
  }
  if (config.model.family != "encdec") unavailable(config);
  if (objective == "span_corruption") {
    const SpanCorruptionLengths lengths = span_corruption_lengths(T);
    shape.window_tokens = lengths.raw_tokens;
    shape.input_tokens = lengths.input_tokens;
    shape.target_tokens = lengths.target_tokens;
    return shape;
  }
  if (objective != "prefix_lm") unavailable(config);
  shape.window_tokens = T + 1;
  shape.input_tokens = T / 2;  // the mean split
  shape.target_tokens = T + 1 - T / 2;
  return shape;
}

model::TokenBatch make_batch(const JobConfig& config, const io::DatasetInfo& dataset,
                             const io::MicroBatch& windows, int64_t first_sample) {
  const ExampleShape shape = example_shape(config);
  if (windows.row_tokens != shape.window_tokens) {
    throw std::logic_error("make_batch: the loader's windows do not have the objective's length");
  }
  return config.model.family == "decoder" ? decoder_batch(config, windows, first_sample)
                                          : encdec_batch(config, dataset, windows, first_sample);
}

}  // namespace molt
