// Where each training window lives: window w of a split -> (shard, first token).
//
// A window is seq_len + 1 tokens (inputs plus the shifted targets) starting at i * seq_len
// in its shard, so consecutive windows share one token and a shard of n tokens holds
// (n - 1) / seq_len windows (integer division). Windows never cross shards, which keeps
// every read one hyperslab of one file. Windows are numbered shard by shard in manifest
// order; lookup is a binary search over the per-shard prefix sums.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "io/dataset_info.h"

namespace molt::io {

struct WindowLocation {
  size_t shard = 0;          // index into WindowIndex::shard_files()
  uint64_t first_token = 0;  // offset of the window's first token in that shard
};

class WindowIndex {
 public:
  // Throws UserError when no shard of `split` holds even one window of seq_len + 1 tokens.
  WindowIndex(const DatasetInfo& dataset, const std::string& split, int seq_len);

  uint64_t window_count() const { return windows_before_.back(); }
  WindowLocation locate(uint64_t window) const;
  const std::vector<std::string>& shard_paths() const { return shard_paths_; }

 private:
  int seq_len_;
  std::vector<std::string> shard_paths_;
  std::vector<uint64_t> windows_before_;  // prefix sums, size shards + 1
};

}  // namespace molt::io
