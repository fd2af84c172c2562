#include "io/dataset_info.h"

#include <toml++/toml.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "io/shard_reader.h"
#include "kernels/error.h"

namespace molt::io {
namespace {

constexpr const char* kDatasetFormat = "molt-dataset";
constexpr int64_t kDatasetVersion = 1;

// Reads keys of one TOML table, naming file and key in every complaint.
class StrictTable {
 public:
  StrictTable(const toml::table& table, std::string file, std::string where)
      : table_(table), file_(std::move(file)), where_(std::move(where)) {}

  void allow_only(const std::set<std::string>& keys) const {
    for (const auto& [key, node] : table_) {
      if (!keys.count(std::string(key.str()))) {
        throw UserError(file_ + ":" + std::to_string(node.source().begin.line) + ": unknown key '" +
                        where_ + std::string(key.str()) + "'");
      }
    }
  }
  int64_t integer(const std::string& key) const {
    const toml::node& node = require(key);
    if (!node.is_integer()) wrong_type(key, node, "an integer");
    return node.as_integer()->get();
  }
  uint64_t count(const std::string& key) const {
    int64_t value = integer(key);
    if (value < 0) throw UserError(file_ + ": key '" + where_ + key + "' must be >= 0");
    return static_cast<uint64_t>(value);
  }
  std::string string(const std::string& key) const {
    const toml::node& node = require(key);
    if (!node.is_string()) wrong_type(key, node, "a string");
    return node.as_string()->get();
  }
  const toml::array& array(const std::string& key) const {
    const toml::node& node = require(key);
    if (!node.is_array()) wrong_type(key, node, "an array of tables ([[" + key + "]])");
    return *node.as_array();
  }

 private:
  const toml::node& require(const std::string& key) const {
    const toml::node* node = table_.get(key);
    if (node == nullptr) throw UserError(file_ + ": missing key '" + where_ + key + "'");
    return *node;
  }
  [[noreturn]] void wrong_type(const std::string& key, const toml::node& node,
                               const std::string& expected) const {
    throw UserError(file_ + ":" + std::to_string(node.source().begin.line) + ": key '" + where_ +
                    key + "' should be " + expected);
  }

  const toml::table& table_;
  std::string file_;
  std::string where_;
};

toml::table parse_toml_file(const std::string& path) {
  try {
    return toml::parse_file(path);
  } catch (const toml::parse_error& error) {
    const auto& begin = error.source().begin;
    throw UserError(path + ":" + std::to_string(begin.line) + ":" + std::to_string(begin.column) +
                    ": " + std::string(error.description()));
  }
}

DatasetInfo parse_manifest(const std::string& dir, const std::string& path) {
  toml::table root = parse_toml_file(path);
  StrictTable top(root, path, "");
  top.allow_only({"format", "version", "vocab_size", "sentinel_count", "pad_id", "eos_id", "unk_id",
                  "bos_id", "tokenizer", "tokenizer_sha256", "train_tokens", "val_tokens",
                  "train_documents", "val_documents", "shards"});
  if (top.string("format") != kDatasetFormat) {
    throw UserError(path + ": format should be \"" + kDatasetFormat + "\"");
  }
  if (top.integer("version") != kDatasetVersion) {
    throw UserError(path + ": dataset version " + std::to_string(top.integer("version")) +
                    " is not supported (this molt reads version 1)");
  }
  DatasetInfo info;
  info.dir = dir;
  info.vocab_size = top.integer("vocab_size");
  info.sentinel_count = top.integer("sentinel_count");
  info.pad_id = top.integer("pad_id");
  info.eos_id = top.integer("eos_id");
  info.unk_id = top.integer("unk_id");
  info.bos_id = top.integer("bos_id");
  info.tokenizer_file = top.string("tokenizer");
  info.tokenizer_sha256 = top.string("tokenizer_sha256");
  info.train_tokens = top.count("train_tokens");
  info.val_tokens = top.count("val_tokens");
  info.train_documents = top.count("train_documents");
  info.val_documents = top.count("val_documents");
  const toml::array& shards = top.array("shards");
  for (size_t i = 0; i < shards.size(); ++i) {
    const toml::table* table = shards[i].as_table();
    std::string where = "shards[" + std::to_string(i) + "].";
    if (table == nullptr) throw UserError(path + ": " + where + " should be a table");
    StrictTable shard(*table, path, where);
    shard.allow_only({"file", "split", "tokens", "documents"});
    ShardEntry entry{shard.string("file"), shard.string("split"), shard.count("tokens"),
                     shard.count("documents")};
    if (entry.split != "train" && entry.split != "val") {
      throw UserError(path + ": key '" + where + "split' should be \"train\" or \"val\"");
    }
    info.shards.push_back(entry);
  }
  return info;
}

// Opens each shard and checks it against the manifest.
void verify_shards(const DatasetInfo& info, const std::string& manifest) {
  uint64_t tokens_by_split[2] = {0, 0};
  for (const ShardEntry& entry : info.shards) {
    ShardReader shard(info.path_of(entry));
    const ShardHeader& header = shard.header();
    if (header.tokenizer_sha256 != info.tokenizer_sha256) {
      throw UserError(shard.path() + ": made by a different tokenizer (sha256 " +
                      header.tokenizer_sha256 + ") than " + manifest + " names (" +
                      info.tokenizer_sha256 + "); one dataset must use one tokenizer");
    }
    if (header.vocab_size != info.vocab_size) {
      throw UserError(shard.path() + ": vocab_size " + std::to_string(header.vocab_size) +
                      " differs from " + manifest + " (" + std::to_string(info.vocab_size) + ")");
    }
    if (shard.token_count() != entry.tokens) {
      throw UserError(shard.path() + ": holds " + std::to_string(shard.token_count()) +
                      " tokens but " + manifest + " says " + std::to_string(entry.tokens));
    }
    tokens_by_split[entry.split == "train" ? 0 : 1] += entry.tokens;
  }
  if (tokens_by_split[0] != info.train_tokens || tokens_by_split[1] != info.val_tokens) {
    throw UserError(manifest + ": train_tokens/val_tokens disagree with the shard list");
  }
}

}  // namespace

std::vector<ShardEntry> DatasetInfo::shards_of(const std::string& split) const {
  std::vector<ShardEntry> selected;
  for (const ShardEntry& entry : shards) {
    if (entry.split == split) selected.push_back(entry);
  }
  return selected;
}

DatasetInfo read_dataset(const std::string& dir) {
  if (!std::filesystem::exists(dir)) throw UserError(dir + ": no such dataset folder");
  if (!std::filesystem::is_directory(dir)) {
    throw UserError(dir + ": not a dataset folder (expected a folder made by `molt prep`)");
  }
  std::string manifest = dir + "/dataset.toml";
  if (!std::filesystem::exists(manifest)) {
    throw UserError(dir + ": no dataset.toml here (is it a folder made by `molt prep`?)");
  }
  DatasetInfo info = parse_manifest(dir, manifest);
  verify_shards(info, manifest);
  return info;
}

void write_dataset_toml(const DatasetInfo& info, const std::string& path) {
  toml::array shards;
  for (const ShardEntry& entry : info.shards) {
    shards.push_back(toml::table{{"file", entry.file},
                                 {"split", entry.split},
                                 {"tokens", static_cast<int64_t>(entry.tokens)},
                                 {"documents", static_cast<int64_t>(entry.documents)}});
  }
  toml::table root{{"format", kDatasetFormat},
                   {"version", kDatasetVersion},
                   {"vocab_size", info.vocab_size},
                   {"sentinel_count", info.sentinel_count},
                   {"pad_id", info.pad_id},
                   {"eos_id", info.eos_id},
                   {"unk_id", info.unk_id},
                   {"bos_id", info.bos_id},
                   {"tokenizer", info.tokenizer_file},
                   {"tokenizer_sha256", info.tokenizer_sha256},
                   {"train_tokens", static_cast<int64_t>(info.train_tokens)},
                   {"val_tokens", static_cast<int64_t>(info.val_tokens)},
                   {"train_documents", static_cast<int64_t>(info.train_documents)},
                   {"val_documents", static_cast<int64_t>(info.val_documents)},
                   {"shards", std::move(shards)}};
  std::ofstream out(path);
  out << "# Written by molt prep. Describes the token shards in this folder.\n" << root << "\n";
  if (!out) throw UserError(path + ": cannot write dataset manifest");
}

}  // namespace molt::io
