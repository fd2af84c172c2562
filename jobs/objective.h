// Training objectives: how a window of T+1 tokens becomes inputs and targets.
//
//   causal:    inputs = w[0:T], targets = w[1:T+1]               (every position counts)
//   prefix_lm: as causal, plus a split p ∈ [1, T−1] per sequence: attention is
//              bidirectional over w[0:p] and the loss counts only targets from w[p] on
//              (positions t ≥ p−1). p is a hash of (seed, global sample index), so it is
//              the same on any world size and after a resume.
#pragma once

#include <cstdint>

#include "io/token_loader.h"
#include "jobs/config.h"
#include "model/language_model.h"

namespace molt {

// `first_sample` is the global sample index of the micro-batch's first row.
model::TokenBatch make_batch(const JobConfig& config, const io::MicroBatch& windows,
                             int64_t first_sample);

}  // namespace molt
