// The token shard format (a contract shared by prep, the loader and inspect; see DESIGN.md).
//
//   /tokens       1-D, chunked; uint16 when vocab_size <= 65536, else uint32
//   /doc_offsets  1-D uint64; the index in /tokens where each document starts
//   attributes    format = "molt-tokens", version, vocab_size, eos_id, bos_id, pad_id,
//                 tokenizer_sha256
//
// Each document's tokens are followed by eos_id, so a reader may also find document
// boundaries without /doc_offsets.
#pragma once

#include <cstdint>
#include <string>

namespace molt::io {

inline constexpr const char* kShardFormat = "molt-tokens";
inline constexpr int kShardVersion = 1;

// Tokens per HDF5 chunk. Readers bypass the chunk cache (see shard_reader.h), so the chunk
// size only sets the index size: 256 Ki tokens keeps the B-tree a few levels deep even for
// multi-GB shards, and a writer buffers one chunk (0.5-1 MiB) at a time.
inline constexpr uint64_t kShardChunkTokens = 256 * 1024;

// What every shard of one dataset shares; stored as the shard's attributes.
struct ShardHeader {
  int64_t vocab_size = 0;
  int64_t eos_id = 1;
  int64_t bos_id = 3;
  int64_t pad_id = 0;
  std::string tokenizer_sha256;
};

// 2 bytes per token when every id fits in uint16, else 4.
inline int token_bytes_for_vocab(int64_t vocab_size) { return vocab_size <= 65536 ? 2 : 4; }

}  // namespace molt::io
