// Small on-disk fixtures for the io tests: a self-deleting temp folder and synthetic datasets
// whose tokens encode their own position, so a test can tell exactly which window it got.
#pragma once

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "io/dataset_info.h"
#include "io/shard_writer.h"

namespace molt::io::testing {

class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "molt-io-XXXXXX").string();
    path_ = mkdtemp(pattern.data());
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

inline void write_text_file(const std::string& path, const std::string& text) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream(path) << text;
}

// Token value at position p of a synthetic shard: distinct across the whole dataset.
inline int32_t synthetic_token(int shard_index, uint64_t position) {
  return static_cast<int32_t>(1000 + shard_index * 1000000 + position);
}
constexpr int64_t kSyntheticVocab = 1 << 26;  // > 65536, so shards are uint32

// Writes a dataset whose shard k holds one document of shard_tokens[k]-1 synthetic tokens
// plus its eos. Shards named in `train_shard_tokens` go to train, the rest to val.
inline DatasetInfo write_synthetic_dataset(const std::string& dir,
                                           const std::vector<uint64_t>& train_shard_tokens,
                                           const std::vector<uint64_t>& val_shard_tokens = {1000},
                                           const std::string& tokenizer_sha256 = "feedbeef") {
  std::filesystem::create_directories(dir);
  DatasetInfo info;
  info.dir = dir;
  info.vocab_size = kSyntheticVocab;
  info.tokenizer_sha256 = tokenizer_sha256;
  ShardHeader header{info.vocab_size, info.eos_id, info.bos_id, info.pad_id, tokenizer_sha256};
  int shard_index = 0;
  auto write = [&](const std::string& split, const std::vector<uint64_t>& sizes) {
    for (size_t i = 0; i < sizes.size(); ++i, ++shard_index) {
      char name[64];
      snprintf(name, sizeof(name), "%s-%05zu.h5", split.c_str(), i);
      std::vector<int32_t> ids(sizes[i] - 1);
      for (uint64_t p = 0; p < ids.size(); ++p) ids[p] = synthetic_token(shard_index, p);
      ShardWriter writer(dir + "/" + name, header);
      writer.append_document(ids);
      writer.close();
      info.shards.push_back({name, split, sizes[i], 1});
      (split == "train" ? info.train_tokens : info.val_tokens) += sizes[i];
      (split == "train" ? info.train_documents : info.val_documents) += 1;
    }
  };
  write("train", train_shard_tokens);
  write("val", val_shard_tokens);
  write_dataset_toml(info, dir + "/dataset.toml");
  return info;
}

}  // namespace molt::io::testing
