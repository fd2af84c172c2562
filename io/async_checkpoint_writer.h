// Checkpoints written from a background thread while training goes on.
//
// A checkpoint is first copied to host memory (a CheckpointSnapshot owning its buffers), so
// the optimizer may change the live parameters and moments at once; the slow part, HDF5
// encoding plus fsync plus renames, then runs beside the next training steps. Both paths,
// synchronous and asynchronous, hand the same snapshot to the same write_snapshot(), so the
// files are the same whichever path wrote them.
//
// One write is in flight at most: start() first waits for the previous write, so memory
// holds at most two snapshots (the one being written and the one being taken) and
// checkpoints reach the disk in step order. The caller waits before it exits, stops, or
// reports the run finished; a write error surfaces at that wait (or the next start) as the
// UserError a synchronous write would have thrown.
#pragma once

#include <cstdint>
#include <exception>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "io/checkpoint.h"

namespace molt::io {

// Everything one checkpoint holds, owned.
struct CheckpointSnapshot {
  std::string run_dir;
  int64_t step = 0;
  TensorTable table;
  std::vector<float> params;  // full flat fp32 buffer
  std::vector<float> m, v;    // full size; `shards` says how they were owned
  std::vector<std::pair<size_t, size_t>> shards;  // (offset, count) per owning rank
  std::string state_toml;
  RetentionPolicy retention;
};

// Writes the snapshot as write_checkpoint() does (through checkpoint_file_ops(step), which
// is the real filesystem unless a fault is injected). Returns the folder; throws UserError.
std::string write_snapshot(const CheckpointSnapshot& snapshot);

class AsyncCheckpointWriter {
 public:
  AsyncCheckpointWriter() = default;
  AsyncCheckpointWriter(const AsyncCheckpointWriter&) = delete;
  AsyncCheckpointWriter& operator=(const AsyncCheckpointWriter&) = delete;
  // Joins a write still in flight. Its error, if any, is dropped: the owner is already
  // unwinding from another failure (a finished run always calls wait()).
  ~AsyncCheckpointWriter();

  // Waits for the previous write (rethrowing its error), then writes `snapshot` in the
  // background.
  void start(CheckpointSnapshot snapshot);

  // Waits for the write in flight. Returns its folder, nullopt when nothing was in flight;
  // rethrows the write's UserError.
  std::optional<std::string> wait();

 private:
  std::thread thread_;
  std::string folder_;          // set by the thread on success
  std::exception_ptr error_;    // set by the thread on failure
};

}  // namespace molt::io
