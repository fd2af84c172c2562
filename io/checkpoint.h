// Checkpoints: a run's parameters, optimizer state and resume state, written atomically.
//
// Layout, under RUN/checkpoints/:
//   step_00001234/model.h5    fp32 parameters, one dataset per tensor, named by its Hugging
//                             Face name, shaped as in the TensorTable
//   step_00001234/optim.h5    AdamW m and v: /m and /v when one shard covers the buffer, else
//                             /shard_00000/{m,v} ... with attributes offset and count
//   step_00001234/state.toml  the caller's resume state (step, loader position, config, ...)
//   latest                    one line naming the newest complete step folder
//
// Why it is crash-safe: a checkpoint is written to step_XXXXXXXX.tmp/, every file fsynced,
// then the folder is renamed into place; only then is `latest` replaced (itself by write to a
// tmp file, fsync, rename). A crash at any instant leaves `latest` naming a complete
// checkpoint. Old checkpoints are pruned only after `latest` has moved.
//
// The optimizer may be sharded (ZeRO-1: each rank owns a slice of m and v). The writer takes
// the slices as they are; the reader always returns full-size m and v, so a run can resume at
// a different world size by slicing them again.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "io/file_ops.h"
#include "kernels/tensor_table.h"

namespace molt::io {

// One rank's slice of the optimizer state: elements [offset, offset + count) of m and v.
struct OptimizerShard {
  size_t offset = 0;
  size_t count = 0;
  const float* m = nullptr;
  const float* v = nullptr;
};

struct CheckpointContents {
  const TensorTable* table = nullptr;     // names and shapes of the parameters
  const float* params = nullptr;          // full flat fp32 buffer, on the host
  std::vector<OptimizerShard> optimizer;  // together covering [0, table_count) exactly once
  std::string state_toml;
};

struct RetentionPolicy {
  int64_t keep_last = 2;   // the newest checkpoints kept (at least 1: the one `latest` names)
  int64_t keep_every = 0;  // also keep steps divisible by this; 0 = none
};

struct LoadedCheckpoint {
  std::string folder;
  std::vector<float> params;  // laid out by the expected table's offsets
  std::vector<float> m, v;    // full size, reassembled from however many shards were written
  std::string state_toml;
};

// "step_00001234".
std::string checkpoint_folder_name(int64_t step);

// Writes RUN/checkpoints/step_XXXXXXXX/, moves `latest` to it, then prunes by `retention`.
// Returns the folder. On failure throws UserError naming the path; the tmp folder is removed
// and `latest` still names the previous checkpoint.
std::string write_checkpoint(const std::string& run_dir, int64_t step,
                             const CheckpointContents& contents, const RetentionPolicy& retention,
                             FileOps& ops = posix_file_ops());

// The folder `latest` names, or nullopt when the run has no checkpoint yet. Throws UserError
// when `latest` is unreadable or names a folder that does not exist.
std::optional<std::string> latest_checkpoint(const std::string& run_dir);

// Steps of the complete checkpoint folders in RUN/checkpoints, ascending.
std::vector<int64_t> checkpoint_steps(const std::string& run_dir);

// Reads a checkpoint folder and checks it against the model's table. Throws UserError naming
// the file for a missing, truncated or non-HDF5 file, and one message listing every tensor
// that is missing, extra or of the wrong shape.
LoadedCheckpoint read_checkpoint(const std::string& folder, const TensorTable& expected);

}  // namespace molt::io
