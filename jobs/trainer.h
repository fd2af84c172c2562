// The training loop behind `molt train`.
//
// One optimizer step: every rank runs accum_steps micro-batches forward and backward,
// gradients are summed over ranks (bucketed, started during the last backward), clipped by
// the global norm, and AdamW updates the weights. Around it: evaluation, checkpoints,
// metrics, progress, stop requests. Every rank runs the same loop; rank 0 alone writes the
// run folder.
//
// Loss normalisation: the loss is the mean over every counted target of the global batch,
// so each micro-batch's backward is scaled by 1/(targets counted on all ranks this step)
// and the ranks' gradients are summed, not averaged. With equal counts per rank this is the
// usual average; with a prefix-LM's uneven counts it is still the exact global mean.
#pragma once

#include <string>

#include "jobs/config.h"

namespace molt {

struct TrainOptions {
  bool fresh = false;       // refuse to resume: the run folder must have no checkpoint
  std::string resume_from;  // a checkpoint folder to resume from instead of `latest`
  int64_t stop_at = 0;      // > 0: checkpoint after this step and stop (exit kExitStopped)
};

// Exit statuses of `molt train` besides 0 (done) and 2 (user error).
constexpr int kExitNonFinite = 3;  // NaN/Inf loss or gradient; the last checkpoint is intact
constexpr int kExitStopped = 75;   // stopped on request after a checkpoint; rerun to resume

// Trains the job to train.steps (resuming when the run folder has a checkpoint). Returns
// the exit status.
int run_training(const JobConfig& job, const TrainOptions& options);

}  // namespace molt
