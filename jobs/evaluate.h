// Validation loss as the trainer measures it, shared by `molt train` and `molt eval`.
//
// Evaluation reads n = batches·global_batch windows spread evenly over the split, in order
// (window i of n is ⌊i·S/n⌋ of the split's S; io/token_loader.h), so the loss covers the
// whole split rather than its first documents (a split made by molt prep keeps corpus
// order). One "global batch" is the job's batch.global_batch windows, which a rank reads as accum
// micro-batches of batch.micro_batch. The objective's random choices for a micro-batch are keyed on
// the first sample of its step (step · global_batch), so every world size and every later
// evaluation sees the same batches. The mean loss is Σ token losses / Σ counted targets
// over all of them (summed over ranks by the caller).
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "io/dataset_info.h"
#include "io/token_loader.h"
#include "jobs/config.h"
#include "model/language_model.h"

namespace molt {

// The loader training reads on `rank` of `world`: the train split, shuffled, in windows of
// the objective's raw length.
io::LoaderOptions training_loader_options(const JobConfig& job, int rank, int world);

// The windows of `split` an evaluation of `batches` global batches reads: evenly spread
// over the split, in order.
io::LoaderOptions evaluation_loader_options(const JobConfig& job, const std::string& split,
                                            int rank, int world, int64_t batches);

struct LossSums {
  double loss_nats = 0;        // Σ token losses
  double counted_targets = 0;  // targets that count in the loss
};

// Sees each micro-batch and its Σ token losses, in the order evaluated.
using EvaluatedBatchObserver = std::function<void(const model::TokenBatch&, double loss_nats)>;

// Runs `micro_batches` forward passes (no gradients) from step 0 of `loader`, which must be
// a loader from evaluation_loader_options. Returns this rank's sums.
LossSums evaluate_loss(const JobConfig& job, const io::DatasetInfo& dataset,
                       io::TokenLoader& loader, model::LanguageModel& model, int64_t micro_batches,
                       const EvaluatedBatchObserver& observe = {});

}  // namespace molt
