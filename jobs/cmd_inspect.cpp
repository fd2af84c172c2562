// `molt inspect PATH`: what a dataset folder or a token shard holds, with a decoded sample
// so a human can see the tokenizer and the shards agree.
#include <filesystem>

#include "io/dataset_info.h"
#include "io/shard_reader.h"
#include "io/tokenizer.h"
#include "jobs/commands.h"
#include "kernels/error.h"

namespace molt {
namespace {

namespace fs = std::filesystem;
constexpr size_t kSampleChars = 200;
constexpr uint64_t kSampleTokens = 512;

// The first document of `shard`, decoded and cut to kSampleChars.
void print_sample(io::ShardReader& shard, const std::string& tokenizer_path) {
  if (!fs::exists(tokenizer_path)) {
    std::printf("sample: (no %s, so not decoded)\n", tokenizer_path.c_str());
    return;
  }
  if (shard.token_count() == 0) return;
  io::Tokenizer tokenizer(tokenizer_path);
  std::vector<int32_t> ids(std::min(shard.token_count(), kSampleTokens));
  shard.read_tokens(0, ids.size(), ids.data());
  auto eos = std::find(ids.begin(), ids.end(), shard.header().eos_id);
  ids.erase(eos, ids.end());
  std::string text = tokenizer.decode(ids);
  if (text.size() > kSampleChars) text = text.substr(0, kSampleChars) + "...";
  std::printf("sample (first document, %zu tokens shown):\n%s\n", ids.size(), text.c_str());
}

void print_shard_header(io::ShardReader& shard) {
  const io::ShardHeader& h = shard.header();
  std::printf("tokens: %llu\ndocuments: %llu\nvocab_size: %lld (uint%d)\n",
              static_cast<unsigned long long>(shard.token_count()),
              static_cast<unsigned long long>(shard.document_count()),
              static_cast<long long>(h.vocab_size), 8 * io::token_bytes_for_vocab(h.vocab_size));
  std::printf("ids: pad %lld, eos %lld, bos %lld\ntokenizer_sha256: %s\n",
              static_cast<long long>(h.pad_id), static_cast<long long>(h.eos_id),
              static_cast<long long>(h.bos_id), h.tokenizer_sha256.c_str());
}

void inspect_dataset(const std::string& dir) {
  io::DatasetInfo info = io::read_dataset(dir);
  std::printf("dataset: %s\nvocab_size: %lld (sentinels %lld: ids %lld..%lld)\n", dir.c_str(),
              static_cast<long long>(info.vocab_size), static_cast<long long>(info.sentinel_count),
              static_cast<long long>(info.vocab_size - info.sentinel_count),
              static_cast<long long>(info.vocab_size - 1));
  std::printf("ids: pad %lld, eos %lld, unk %lld, bos %lld\ntokenizer_sha256: %s\n",
              static_cast<long long>(info.pad_id), static_cast<long long>(info.eos_id),
              static_cast<long long>(info.unk_id), static_cast<long long>(info.bos_id),
              info.tokenizer_sha256.c_str());
  for (const char* split : {"train", "val"}) {
    bool train = std::string(split) == "train";
    std::printf("%s: %zu shards, %llu tokens, %llu documents\n", split,
                info.shards_of(split).size(),
                static_cast<unsigned long long>(train ? info.train_tokens : info.val_tokens),
                static_cast<unsigned long long>(train ? info.train_documents : info.val_documents));
  }
  for (const io::ShardEntry& entry : info.shards) {
    std::printf("  %s  %llu tokens  %llu documents\n", entry.file.c_str(),
                static_cast<unsigned long long>(entry.tokens),
                static_cast<unsigned long long>(entry.documents));
  }
  if (!info.shards.empty()) {
    io::ShardReader first(info.path_of(info.shards.front()));
    print_sample(first, info.tokenizer_path());
  }
}

void inspect_shard(const std::string& path) {
  io::ShardReader shard(path);
  std::printf("shard: %s\n", path.c_str());
  print_shard_header(shard);
  print_sample(shard, (fs::path(path).parent_path() / "tokenizer.model").string());
}

}  // namespace

void add_inspect_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("inspect", "Describe a dataset folder or a token shard");
  auto path = std::make_shared<std::string>();
  cmd->add_option("path", *path, "Dataset folder (with dataset.toml) or a *.h5 token shard")
      ->required();
  cmd->callback([path] {
    if (!fs::exists(*path)) throw UserError(*path + ": no such file or folder");
    if (fs::is_directory(*path)) {
      inspect_dataset(*path);
    } else {
      inspect_shard(*path);
    }
  });
}

}  // namespace molt
