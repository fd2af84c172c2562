// Training objectives: how a window of the token stream becomes a model's batch.
//
// decoder family (windows of T+1 tokens, T = data.seq_len):
//   causal:    inputs = w[0:T], targets = w[1:T+1]               (every position counts)
//   prefix_lm: as causal, plus a split p ∈ [1, T−1] per sequence: attention is
//              bidirectional over w[0:p] and the loss counts only targets from w[p] on
//              (positions t ≥ p−1).
// encdec family:
//   span_corruption: data.seq_len is the encoder length E; the window is the raw length L
//              that span corruption turns into exactly E input tokens (jobs/span_corruption.h;
//              E = 512 → L = 568, 114 target tokens).
//   prefix_lm: windows of T+1 tokens split at p ∈ [1, T−1]: the encoder reads w[0:p], the
//              decoder predicts w[p:T+1] — the decoder's prefix-LM task, token for token.
//              Stacks need one length per batch and the attention kernels have no padding
//              mask, so p is drawn per optimizer step (shared by every sequence and rank of
//              the step) rather than per sequence; the model re-plans its buffers when the
//              shape changes.
//   Decoder inputs are [pad, targets[:-1]] (T5 starts decoding from pad).
// Every random choice is a hash of (run seed, global sample index) — or of the step for the
// encdec prefix split — so it is the same on any world size and after a resume.
#pragma once

#include <cstdint>

#include "io/dataset_info.h"
#include "io/token_loader.h"
#include "jobs/config.h"
#include "model/language_model.h"

namespace molt {

// What one example of the job's objective looks like.
struct ExampleShape {
  int window_tokens = 0;  // tokens the loader reads per example (its seq_len + 1)
  int input_tokens = 0;   // decoder: T; encdec: encoder tokens (nominal for prefix_lm: T/2)
  int target_tokens = 0;  // decoder: T; encdec: decoder tokens (nominal for prefix_lm)
};

// Throws UserError when the objective does not fit the family or the lengths.
ExampleShape example_shape(const JobConfig& config);

// The loader's row length: the raw window an example is made from.
inline int raw_window_tokens(const JobConfig& config) {
  return example_shape(config).window_tokens;
}

// `first_sample` is the global sample index of the micro-batch's first row; `dataset` gives
// the pad, EOS and sentinel ids.
model::TokenBatch make_batch(const JobConfig& config, const io::DatasetInfo& dataset,
                             const io::MicroBatch& windows, int64_t first_sample);

}  // namespace molt
