#include "io/split_writer.h"

#include <cstdio>

namespace molt::io {

SplitWriter::SplitWriter(std::string dir, std::string split, ShardHeader header,
                         uint64_t shard_tokens)
    : dir_(std::move(dir)),
      split_(std::move(split)),
      header_(std::move(header)),
      shard_tokens_(shard_tokens) {}

void SplitWriter::append_document(const std::vector<int32_t>& ids) {
  if (!current_) {
    char name[64];
    std::snprintf(name, sizeof(name), "%s-%05zu.h5", split_.c_str(), written_.size());
    written_.push_back({name, split_, 0, 0});
    current_ = std::make_unique<ShardWriter>(dir_ + "/" + name, header_);
  }
  current_->append_document(ids);
  if (current_->tokens_written() >= shard_tokens_) close_current();
}

void SplitWriter::close_current() {
  if (!current_) return;
  current_->close();
  written_.back().tokens = current_->tokens_written();
  written_.back().documents = current_->documents_written();
  current_.reset();
}

std::vector<ShardEntry> SplitWriter::finish() {
  close_current();
  return written_;
}

}  // namespace molt::io
