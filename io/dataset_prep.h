// `molt prep`: raw text -> SentencePiece tokenizer -> dataset folder (dataset_info.h).
//
// Two streaming passes over the corpus (text_corpus.h), so memory never depends on its size:
//   1. count documents and reservoir-sample up to tokenizer_sample_lines lines; train the
//      tokenizer on that sample (unless one is given to reuse);
//   2. tokenize batches of documents on `threads` threads and append them, in corpus order,
//      to the train or val shards.
// The val split is exactly max(1, round(val_fraction * documents)) documents, chosen by
// seeded selection sampling (each document picked with probability needed/remaining), so
// it needs no list of documents in memory.
//
// Everything is written under OUT.tmp and renamed to OUT at the end; a failed prep removes
// OUT.tmp and leaves no half-written dataset.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "io/dataset_info.h"

namespace molt::io {

struct PrepOptions {
  std::vector<std::string> inputs;  // files, folders, *.jsonl
  std::string output_dir;
  int64_t vocab_size = 8192;       // dataset vocab, sentinels included
  std::string model_type = "bpe";  // "bpe" or "unigram"
  int64_t sentinels = 0;           // ids reserved at the top of the vocab
  std::string tokenizer_path;      // reuse this tokenizer.model instead of training
  double val_fraction = 0.005;
  uint64_t shard_tokens = 50'000'000;
  uint64_t seed = 0;
  int threads = 2;
  uint64_t tokenizer_sample_lines = 1'000'000;
  bool verbose = false;  // SentencePiece training log
};

// Runs the whole prep and returns the manifest it wrote. UserError for bad options, an
// empty corpus, or any read/write failure; OUT is then left untouched.
DatasetInfo prepare_dataset(const PrepOptions& options);

}  // namespace molt::io
