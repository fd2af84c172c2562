// Reads windows of one token shard (format in token_shard.h) without loading the shard.
//
// Every read is a hyperslab of /tokens into a caller-owned buffer. The HDF5 chunk cache is
// switched off for /tokens: the loader reads ~1k-token windows at random offsets, and a
// cached 256 Ki-token chunk would be copied whole for every 2 KiB used. Without the cache
// HDF5 reads exactly the selected bytes (one pread per chunk touched), and the OS page
// cache does the caching.
//
// Each window read is checked against vocab_size, so a corrupt shard fails with a message
// naming the file instead of an out-of-range embedding lookup much later. The check is one
// compare per token, far cheaper than the read.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "io/hdf5_handle.h"
#include "io/token_shard.h"

namespace molt::io {

class ShardReader {
 public:
  // Opens and validates `path`. Throws UserError naming the file when it is missing, not
  // HDF5, truncated, or not a molt token shard (format attribute, version, datasets).
  explicit ShardReader(const std::string& path);
  ~ShardReader();
  ShardReader(const ShardReader&) = delete;
  ShardReader& operator=(const ShardReader&) = delete;

  const ShardHeader& header() const { return header_; }
  uint64_t token_count() const { return token_count_; }
  uint64_t document_count() const { return document_count_; }
  const std::string& path() const { return path_; }

  // Copies tokens [start, start + count) into `out` (widened to int32). Throws UserError
  // when the range is outside the shard or a token id is >= vocab_size.
  void read_tokens(uint64_t start, uint64_t count, int32_t* out);

  // The start offset of every document (small: one uint64 per document).
  std::vector<uint64_t> read_document_offsets();

 private:
  // Throws UserError when the file is gone or no longer has the size it had when opened.
  void check_unchanged_on_disk() const;

  std::string path_;
  ShardHeader header_;
  Hdf5Handle file_;
  Hdf5Handle tokens_;
  int token_bytes_ = 2;
  uint64_t token_count_ = 0;
  uint64_t document_count_ = 0;
  std::vector<uint8_t> raw_bytes_;  // reused across reads: no allocation per window
  // Size on disk when opened. An open HDF5 file that is truncated underneath reads the
  // missing bytes as zeros — valid token ids — so every read checks the size first.
  uintmax_t file_bytes_ = 0;
};

}  // namespace molt::io
