// A dataset folder and its manifest, dataset.toml (a contract; see DESIGN.md):
//
//   DIR/train-00000.h5 ...   token shards (token_shard.h), training split
//   DIR/val-00000.h5 ...     token shards, validation split
//   DIR/tokenizer.model      the SentencePiece model that made the shards
//   DIR/dataset.toml         what follows, written by molt prep:
//
//     format = "molt-dataset"        version = 1
//     vocab_size = 8192              sentinel_count = 100   # ids vocab_size-1-k, k < count
//     pad_id = 0  eos_id = 1  unk_id = 2  bos_id = 3
//     tokenizer = "tokenizer.model"  tokenizer_sha256 = "<hex>"
//     train_tokens, val_tokens, train_documents, val_documents
//     [[shards]]  file = "train-00000.h5"  split = "train"  tokens = N  documents = M
//
// read_dataset() is strict, so a typo never silently changes what a run trains on:
// malformed TOML names file:line:column, an unknown key is named, a wrong type names the
// key and the type expected. It also opens every shard and refuses one whose vocab,
// tokenizer hash or token count disagrees with the manifest. All failures are UserError.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace molt::io {

struct ShardEntry {
  std::string file;   // relative to the dataset folder
  std::string split;  // "train" or "val"
  uint64_t tokens = 0;
  uint64_t documents = 0;
};

struct DatasetInfo {
  std::string dir;  // the folder read_dataset() was given (not stored in the TOML)
  int64_t vocab_size = 0;
  int64_t sentinel_count = 0;
  int64_t pad_id = 0, eos_id = 1, unk_id = 2, bos_id = 3;
  std::string tokenizer_file = "tokenizer.model";
  std::string tokenizer_sha256;
  uint64_t train_tokens = 0, val_tokens = 0;
  uint64_t train_documents = 0, val_documents = 0;
  std::vector<ShardEntry> shards;

  // The shards of one split, in manifest order.
  std::vector<ShardEntry> shards_of(const std::string& split) const;
  std::string path_of(const ShardEntry& shard) const { return dir + "/" + shard.file; }
  std::string tokenizer_path() const { return dir + "/" + tokenizer_file; }
  // Sentinel k (k < sentinel_count) has id vocab_size - 1 - k, T5 style.
  int64_t sentinel_id(int64_t k) const { return vocab_size - 1 - k; }
};

// Reads and verifies DIR/dataset.toml and DIR's shards (see above).
DatasetInfo read_dataset(const std::string& dir);

// Writes `info` as a dataset.toml at `path` (the `dir` field is not stored).
void write_dataset_toml(const DatasetInfo& info, const std::string& path);

}  // namespace molt::io
