#include "io/window_index.h"

#include <algorithm>

#include "kernels/error.h"

namespace molt::io {

WindowIndex::WindowIndex(const DatasetInfo& dataset, const std::string& split, int seq_len)
    : seq_len_(seq_len) {
  if (seq_len < 1) throw UserError("sequence length must be >= 1, got " + std::to_string(seq_len));
  std::vector<ShardEntry> shards = dataset.shards_of(split);
  if (shards.empty()) {
    throw UserError(dataset.dir + ": dataset has no '" + split + "' shards");
  }
  windows_before_.push_back(0);
  uint64_t longest_shard_tokens = 0;
  for (const ShardEntry& shard : shards) {
    longest_shard_tokens = std::max(longest_shard_tokens, shard.tokens);
    uint64_t windows = shard.tokens > 0 ? (shard.tokens - 1) / seq_len : 0;
    if (windows == 0) continue;  // too short to hold one window; contributes nothing
    shard_paths_.push_back(dataset.path_of(shard));
    windows_before_.push_back(windows_before_.back() + windows);
  }
  if (window_count() == 0) {
    throw UserError(dataset.dir + ": sequence length " + std::to_string(seq_len) +
                    " is longer than any '" + split + "' shard allows (a window needs " +
                    std::to_string(seq_len + 1) + " tokens; the longest shard holds " +
                    std::to_string(longest_shard_tokens) + ")");
  }
}

WindowLocation WindowIndex::locate(uint64_t window) const {
  // The shard s with windows_before_[s] <= window < windows_before_[s + 1].
  auto after = std::upper_bound(windows_before_.begin(), windows_before_.end(), window);
  size_t shard = static_cast<size_t>(after - windows_before_.begin()) - 1;
  uint64_t local = window - windows_before_[shard];
  return {shard, local * static_cast<uint64_t>(seq_len_)};
}

}  // namespace molt::io
