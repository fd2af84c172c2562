#include "io/dataset_prep.h"

#include <atomic>
#include <cmath>
#include <exception>
#include <filesystem>
#include <string_view>
#include <thread>

#include "io/progress_line.h"
#include "io/sha256.h"
#include "io/split_writer.h"
#include "io/text_corpus.h"
#include "io/tokenizer.h"
#include "io/window_permutation.h"
#include "kernels/error.h"

namespace molt::io {
namespace fs = std::filesystem;
namespace {

constexpr size_t kMaxSampleLineBytes = 16384;     // SentencePiece drops longer sentences
constexpr size_t kTokenizeBatchBytes = 16 << 20;  // text per tokenize batch, all threads

void check_options(const PrepOptions& o) {
  auto require = [](bool ok, const std::string& what) {
    if (!ok) throw UserError("molt prep: " + what);
  };
  require(!o.output_dir.empty(), "an output folder is required");
  require(o.sentinels >= 0, "--sentinels must be >= 0");
  require(!o.tokenizer_path.empty() || o.vocab_size > o.sentinels,
          "--vocab-size must be larger than --sentinels");
  require(o.val_fraction >= 0 && o.val_fraction < 1, "--val-fraction must be in [0, 1)");
  require(o.shard_tokens >= 1, "--shard-tokens must be >= 1");
  require(o.threads >= 1, "--threads must be >= 1");
  require(!fs::exists(o.output_dir),
          o.output_dir + " already exists; remove it or choose another output folder");
}

struct CorpusScan {
  uint64_t documents = 0;
  std::vector<std::string> sample_lines;  // reservoir sample for tokenizer training
};

// Pass 1: count documents; keep a uniform sample of at most `sample_size` lines
// (reservoir sampling, Vitter's algorithm R, seeded).
CorpusScan scan_corpus(const TextCorpus& corpus, uint64_t sample_size, uint64_t seed) {
  CorpusScan scan;
  SplitMix64 rng(seed);
  uint64_t lines_seen = 0;
  ProgressLine progress("scanning");
  corpus.for_each_document([&](std::string& text, uint64_t bytes_read) {
    ++scan.documents;
    size_t start = 0;
    while (sample_size > 0 && start < text.size()) {
      size_t end = text.find('\n', start);
      if (end == std::string::npos) end = text.size();
      size_t length = end - start;
      if (length > 0 && length <= kMaxSampleLineBytes) {
        if (lines_seen < sample_size) {
          scan.sample_lines.emplace_back(text, start, length);
        } else {
          uint64_t slot = rng.below(lines_seen + 1);
          if (slot < sample_size) scan.sample_lines[slot].assign(text, start, length);
        }
        ++lines_seen;
      }
      start = end + 1;
    }
    progress.update(bytes_read, std::to_string(scan.documents) + " documents");
  });
  return scan;
}

// Encodes every document of `batch` using `threads` threads; results in batch order. The
// work is the documents' parts (Tokenizer::parts), handed out one at a time, so one large
// file is spread over every thread instead of holding one while the others wait.
std::vector<std::vector<int32_t>> encode_batch(const Tokenizer& tokenizer,
                                               const std::vector<std::string>& batch, int threads) {
  struct Part {
    size_t document;
    bool first;
    std::string_view text;
  };
  std::vector<Part> parts;
  for (size_t d = 0; d < batch.size(); ++d) {
    bool first = true;
    for (std::string_view text : tokenizer.parts(batch[d])) {
      parts.push_back({d, first, text});
      first = false;
    }
  }
  std::vector<std::vector<int32_t>> part_ids(parts.size());
  std::atomic<size_t> next{0};
  std::vector<std::exception_ptr> errors(threads);
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      try {
        for (size_t i = next++; i < parts.size(); i = next++) {
          part_ids[i] = tokenizer.encode_part(parts[i].text, parts[i].first);
        }
      } catch (...) {
        errors[t] = std::current_exception();
      }
    });
  }
  for (auto& worker : workers) worker.join();
  for (auto& error : errors) {
    if (error) std::rethrow_exception(error);
  }
  std::vector<std::vector<int32_t>> ids(batch.size());
  for (size_t i = 0; i < parts.size(); ++i) {
    std::vector<int32_t>& doc = ids[parts[i].document];
    doc.insert(doc.end(), part_ids[i].begin(), part_ids[i].end());
  }
  return ids;
}

struct SplitTotals {
  std::vector<ShardEntry> train, val;
};

// Pass 2: tokenize and write. Val documents are picked by selection sampling (Knuth's
// algorithm S): document i is val with probability val_needed / documents_left.
SplitTotals tokenize_corpus(const TextCorpus& corpus, const Tokenizer& tokenizer,
                            const PrepOptions& options, const ShardHeader& header,
                            const std::string& dir, uint64_t documents, uint64_t val_documents) {
  SplitWriter train(dir, "train", header, options.shard_tokens);
  SplitWriter val(dir, "val", header, options.shard_tokens);
  SplitMix64 rng(options.seed ^ 0x76616c2d73706c74ull);  // a stream apart from the sampler's
  uint64_t documents_left = documents, val_needed = val_documents, tokens = 0;
  ProgressLine progress("tokenizing");
  std::vector<std::string> batch;
  size_t batch_bytes = 0;
  uint64_t bytes_read_so_far = 0;

  auto write_batch = [&] {
    std::vector<std::vector<int32_t>> encoded = encode_batch(tokenizer, batch, options.threads);
    for (const auto& ids : encoded) {
      bool is_val = rng.below(documents_left) < val_needed;
      (is_val ? val : train).append_document(ids);
      val_needed -= is_val;
      --documents_left;
      tokens += ids.size() + 1;
    }
    batch.clear();
    batch_bytes = 0;
    progress.update(bytes_read_so_far,
                    std::to_string(tokens / 1000000.0).substr(0, 6) + "M tokens");
  };
  corpus.for_each_document([&](std::string& text, uint64_t bytes_read) {
    bytes_read_so_far = bytes_read;
    batch_bytes += text.size();
    batch.push_back(std::move(text));
    if (batch_bytes >= kTokenizeBatchBytes) write_batch();
  });
  if (!batch.empty()) write_batch();
  return {train.finish(), val.finish()};
}

// Copies or trains the tokenizer into `model_path`.
void make_tokenizer(const PrepOptions& options, const CorpusScan& scan,
                    const std::string& model_path) {
  if (!options.tokenizer_path.empty()) {
    Tokenizer check(options.tokenizer_path);  // fails early, naming the file
    fs::copy_file(options.tokenizer_path, model_path);
    return;
  }
  TokenizerTraining training;
  training.model_type = options.model_type;
  training.piece_count = options.vocab_size - options.sentinels;
  training.threads = options.threads;
  training.verbose = options.verbose;
  train_tokenizer(training, scan.sample_lines, model_path);
}

DatasetInfo prepare_into(const PrepOptions& options, const std::string& dir) {
  TextCorpus corpus(options.inputs);
  bool train_new = options.tokenizer_path.empty();
  CorpusScan scan =
      scan_corpus(corpus, train_new ? options.tokenizer_sample_lines : 0, options.seed);
  if (scan.documents == 0) {
    throw UserError("molt prep: no text found in " + options.inputs.front() +
                    (options.inputs.size() > 1 ? " and the other inputs" : "") + " (empty corpus)");
  }
  if (scan.documents < 2) {
    throw UserError(
        "molt prep: the corpus holds 1 document; at least 2 are needed (one for "
        "the val split)");
  }
  fs::create_directories(dir);
  make_tokenizer(options, scan, dir + "/tokenizer.model");
  scan.sample_lines = {};
  Tokenizer tokenizer(dir + "/tokenizer.model");
  if (tokenizer.eos_id() < 0 || tokenizer.pad_id() < 0) {
    throw UserError(options.tokenizer_path + ": tokenizer has no eos or pad id; molt needs both");
  }

  DatasetInfo info;
  info.dir = options.output_dir;
  info.vocab_size = tokenizer.piece_count() + options.sentinels;
  info.sentinel_count = options.sentinels;
  info.pad_id = tokenizer.pad_id();
  info.eos_id = tokenizer.eos_id();
  info.unk_id = tokenizer.unk_id();
  info.bos_id = tokenizer.bos_id();
  info.tokenizer_sha256 = file_sha256_hex(dir + "/tokenizer.model");
  ShardHeader header{info.vocab_size, info.eos_id, info.bos_id, info.pad_id, info.tokenizer_sha256};

  uint64_t val_documents = std::max<uint64_t>(
      1, static_cast<uint64_t>(std::llround(options.val_fraction * scan.documents)));
  val_documents = std::min(val_documents, scan.documents - 1);
  SplitTotals splits =
      tokenize_corpus(corpus, tokenizer, options, header, dir, scan.documents, val_documents);
  for (const auto* split : {&splits.train, &splits.val}) {
    for (const ShardEntry& entry : *split) {
      info.shards.push_back(entry);
      bool is_train = entry.split == "train";
      (is_train ? info.train_tokens : info.val_tokens) += entry.tokens;
      (is_train ? info.train_documents : info.val_documents) += entry.documents;
    }
  }
  write_dataset_toml(info, dir + "/dataset.toml");
  return info;
}

}  // namespace

DatasetInfo prepare_dataset(const PrepOptions& options) {
  check_options(options);
  const std::string staging = options.output_dir + ".tmp";
  fs::remove_all(staging);  // left by an earlier prep that was killed
  try {
    DatasetInfo info = prepare_into(options, staging);
    fs::rename(staging, options.output_dir);
    return info;
  } catch (const fs::filesystem_error& error) {
    std::error_code ignored;
    fs::remove_all(staging, ignored);
    throw UserError(std::string("molt prep: ") + error.what());
  } catch (...) {
    std::error_code ignored;
    fs::remove_all(staging, ignored);
    throw;
  }
}

}  // namespace molt::io
