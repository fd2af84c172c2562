// TokenLoader: the trainer's stream of token windows, sliced per rank, prefetched.
//
// Position is a pure function of (seed, step, global batch), so a run resumes at any step,
// on any world size with the same global batch, and sees the same data (DESIGN.md):
//
//   T = seq_len, S = windows in the split (window_index.h), b = micro_batch,
//   G = world * b * accum_steps                      (sequences per optimizer step)
//   sample g = step * G + i,  i in [0, G)
//   epoch e = g / S;  window = perm_e[g mod S]       (window_permutation.h; identity when
//                                                      shuffle is false, for evaluation)
//   evaluation of n windows (spread_windows = n):  window = ⌊(g mod n)·S / n⌋
//   rank r at micro-step m takes i in [(m * world + r) * b, (m * world + r + 1) * b)
//
// So W ranks with micro-batch b read exactly the samples one rank with micro-batch W*b
// would, and the ranks of one step never share a sample.
//
// A background thread reads ahead into a bounded queue of prefetch_depth micro-batches;
// memory is that queue plus one window of read buffer, never a function of dataset size
// (beyond the 8-byte-per-window permutation). Read errors (a corrupt shard) surface from
// next() as the UserError the reader threw.
//
// Usage:
//   TokenLoader loader({.dataset_dir = "data/brown", .seq_len = 1024, .seed = 1,
//                       .rank = r, .world = w, .micro_batch = 8, .accum_steps = 4});
//   loader.seek(resume_step);
//   for (...) { MicroBatch batch = loader.next(); /* batch.tokens: [8, 1025] */ }
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "io/dataset_info.h"

namespace molt::io {

struct LoaderOptions {
  std::string dataset_dir;
  std::string split = "train";  // "train" or "val"
  int seq_len = 1024;           // T: each row holds T + 1 tokens
  uint64_t seed = 0;
  int rank = 0, world = 1;
  int micro_batch = 1;  // rows per micro-batch on this rank
  int accum_steps = 1;  // micro-batches per optimizer step
  bool shuffle = true;  // false: windows in order (evaluation)
  // With shuffle false and spread_windows = n > 0, samples 0..n-1 are n windows evenly
  // spaced over the split (sample g → window ⌊g·S/n⌋; all S in order when n ≥ S), so an
  // evaluation of n windows sees the whole split, not its first documents.
  uint64_t spread_windows = 0;
  int prefetch_depth = 4;
};

struct MicroBatch {
  int64_t step = 0;
  int micro_step = 0;
  int rows = 0;                 // micro_batch
  int row_tokens = 0;           // seq_len + 1
  std::vector<int32_t> tokens;  // [rows, row_tokens], row-major
};

class WindowIndex;
class ShardReader;

class TokenLoader {
 public:
  // Reads and verifies the dataset (read_dataset) and checks the options. Throws UserError
  // for a bad dataset, bad options, or seq_len + 1 longer than every shard of the split.
  explicit TokenLoader(const LoaderOptions& options);
  ~TokenLoader();
  TokenLoader(const TokenLoader&) = delete;
  TokenLoader& operator=(const TokenLoader&) = delete;

  // The next batch returned belongs to optimizer step `step`, micro-step 0.
  void seek(int64_t step);
  // The next micro-batch of this rank; after micro-step accum_steps-1 comes the next step.
  MicroBatch next();

  const DatasetInfo& dataset() const { return dataset_; }
  int64_t sequences_per_epoch() const;     // S
  int64_t global_batch_sequences() const;  // G

 private:
  struct Slot {
    MicroBatch batch;
    std::exception_ptr error;
  };
  void start_prefetch();
  void stop_prefetch();
  void prefetch_loop(int64_t step, int micro_step);
  void fill(MicroBatch& batch);
  uint64_t window_of(uint64_t sample, uint64_t windows);  // S = windows

  LoaderOptions options_;
  DatasetInfo dataset_;
  std::unique_ptr<WindowIndex> index_;
  std::vector<std::unique_ptr<ShardReader>> readers_;  // opened on first use, by the thread
  std::vector<uint64_t> permutation_;                  // perm of permutation_epoch_
  uint64_t permutation_epoch_ = UINT64_MAX;

  int64_t next_step_ = 0;  // position of the next batch next() returns
  int next_micro_step_ = 0;

  std::thread worker_;
  std::mutex queue_mutex_;
  std::condition_variable queue_changed_;
  std::deque<Slot> queue_;
  bool stop_requested_ = false;
};

}  // namespace molt::io
