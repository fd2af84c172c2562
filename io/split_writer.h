// Writes one split ("train" or "val") of a dataset as numbered shards, starting a new
// shard once the current one holds shard_tokens. A document is never cut: it goes whole
// into the current shard, so a shard may exceed shard_tokens by one document.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "io/dataset_info.h"
#include "io/shard_writer.h"

namespace molt::io {

class SplitWriter {
 public:
  SplitWriter(std::string dir, std::string split, ShardHeader header, uint64_t shard_tokens);

  void append_document(const std::vector<int32_t>& ids);
  // Closes the last shard and returns the manifest entries, in order.
  std::vector<ShardEntry> finish();

 private:
  void close_current();

  std::string dir_, split_;
  ShardHeader header_;
  uint64_t shard_tokens_;
  std::unique_ptr<ShardWriter> current_;
  std::vector<ShardEntry> written_;
};

}  // namespace molt::io
