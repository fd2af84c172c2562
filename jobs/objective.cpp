#include "jobs/objective.h"

#include "kernels/error.h"

namespace molt {
namespace {

uint64_t mix(uint64_t z) {  // splitmix64 finaliser
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

}  // namespace

model::TokenBatch make_batch(const JobConfig& config, const io::MicroBatch& windows,
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
  const std::string& objective = config.data.objective;
  if (objective == "causal") return batch;
  if (objective == "prefix_lm") {
    if (T < 2) throw UserError("data.objective = \"prefix_lm\" needs data.seq_len >= 2");
    for (int b = 0; b < B; ++b) {
      uint64_t h = mix(static_cast<uint64_t>(config.run.seed) * 0x9E3779B97F4A7C15ull +
                       static_cast<uint64_t>(first_sample + b));
      int prefix = 1 + static_cast<int>(h % static_cast<uint64_t>(T - 1));
      batch.prefix_lengths.push_back(prefix);
      for (int t = 0; t < prefix - 1; ++t) batch.targets[size_t(b) * T + t] = model::kIgnoreIndex;
    }
    return batch;
  }
  throw UserError("data.objective = \"" + objective + "\" is not available for model.family = \"" +
                  config.model.family + "\"");
}

}  // namespace molt
