// Writes one token shard (format in token_shard.h) by appending documents.
//
// Memory stays at one chunk of tokens plus the document offsets, whatever the shard size:
// tokens are buffered until a chunk is full and then appended to the extendible /tokens
// dataset. close() (or the destructor) flushes the tail and writes /doc_offsets.
// Every HDF5 call runs under hdf5_mutex().
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "io/hdf5_handle.h"
#include "io/token_shard.h"

namespace molt::io {

class ShardWriter {
 public:
  // Creates (truncates) `path`. Throws UserError naming the file when it cannot be created.
  ShardWriter(const std::string& path, const ShardHeader& header);
  ~ShardWriter();
  ShardWriter(const ShardWriter&) = delete;
  ShardWriter& operator=(const ShardWriter&) = delete;

  // Appends one document's tokens followed by eos_id. Ids must be < vocab_size (checked).
  void append_document(const int32_t* ids, size_t count);
  void append_document(const std::vector<int32_t>& ids) { append_document(ids.data(), ids.size()); }

  // Flushes and closes the file; further appends are programmer errors.
  void close();

  uint64_t tokens_written() const { return tokens_flushed_ + pending_.size(); }
  uint64_t documents_written() const { return doc_offsets_.size(); }
  const std::string& path() const { return path_; }

 private:
  void append_token(uint32_t id);
  void flush_pending();

  std::string path_;
  ShardHeader header_;
  Hdf5Handle file_;
  Hdf5Handle tokens_;
  hid_t token_type_;
  std::vector<uint32_t> pending_;
  std::vector<uint8_t> packed_bytes_;
  std::vector<uint64_t> doc_offsets_;
  uint64_t tokens_flushed_ = 0;
  bool closed_ = false;
};

}  // namespace molt::io
