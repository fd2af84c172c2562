// Named validation sets ([eval.sets]): per-task curves beside the overall val_loss.
//
// The overall validation loss falls smoothly while single tasks jump, so a job can name
// extra datasets, e.g. a held-out slice of each corpus or a task-shaped probe set made by
// `molt prep --tokenizer TRAIN/tokenizer.model`:
//
//   [eval.sets]
//   code = "data/code-probe"
//   prose = "data/prose-heldout"
//
// Each set is evaluated whenever the job's val split is, the same way (evaluate.h:
// eval.batches global batches spread evenly over the split, sliced over ranks) and logged
// as val/NAME in metrics.jsonl and summary.json. A set is read from its val split when that
// holds at least one window (seq_len + 1 tokens in one shard), else from its train split:
// `molt prep --val-fraction 0` keeps a single val document, often shorter than a window, so
// such a probe set counts as a whole. Its tokenizer must be the training dataset's (same
// sha256 and vocab): token ids of another tokenizer would give a loss that means nothing.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "io/dataset_info.h"
#include "io/token_loader.h"
#include "jobs/config.h"

namespace molt {

struct EvalSet {
  std::string name;   // from [eval.sets]; logged as eval_set_metric(name)
  std::string split;  // "val", or "train" when the set has no val split
  std::unique_ptr<io::TokenLoader> loader;
};

// The metrics key of a set: "val/NAME".
std::string eval_set_metric(const std::string& name);

// The split evaluation reads from a set: "val" if a val shard holds a window of
// seq_len + 1 tokens (the loader's seq_len), else "train".
std::string eval_set_split(const io::DatasetInfo& set, int seq_len);

// Opens the loaders of job.eval.sets for `rank` of `world`, in name order. Throws UserError
// naming eval.sets.NAME when its dataset cannot be read or was tokenized differently from
// `training` (the message gives both tokenizer hashes).
std::vector<EvalSet> open_eval_sets(const JobConfig& job, const io::DatasetInfo& training,
                                    int rank, int world);

}  // namespace molt
