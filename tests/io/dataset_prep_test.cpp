// Contracts of prepare_dataset (io/dataset_prep.h):
//  - the folder it writes reads back through read_dataset, with the requested vocab,
//    sentinels at the top (never in the shards), an exact val document count, and each
//    document's tokens followed by eos;
//  - the tokenizer keeps text exactly: decoding a document gives the input back;
//  - shards roll over at shard_tokens; a given tokenizer is reused (same hash);
//  - an empty corpus or a malformed JSONL line is a UserError that leaves no output.
#include "io/dataset_prep.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "io/sha256.h"
#include "io/shard_reader.h"
#include "io/tokenizer.h"
#include "io/window_permutation.h"
#include "tests/io/expect_user_error.h"
#include "tests/io/io_fixtures.h"

namespace molt::io {
namespace {

// A small corpus of `documents` files with varied words, newlines and indentation.
std::vector<std::string> write_corpus(const std::string& dir, int documents) {
  const char* words[] = {"the",   "cat",  "sat",    "on",      "a",     "mat",
                         "while", "dogs", "ran",    "quickly", "under", "bright",
                         "stars", "int",  "return", "{",       "}"};
  SplitMix64 rng(5);
  std::vector<std::string> texts;
  for (int d = 0; d < documents; ++d) {
    std::string text;
    for (int line = 0; line < 6; ++line) {
      text += std::string(rng.below(3) * 2, ' ');
      for (int w = 0; w < 8; ++w) text += std::string(words[rng.below(17)]) + " ";
      text += "x" + std::to_string(d) + "\n";
    }
    char name[32];
    snprintf(name, sizeof(name), "doc%03d.txt", d);
    testing::write_text_file(dir + "/" + (d % 2 ? "sub/" : "") + name, text);
    texts.push_back(text);
  }
  return texts;
}

PrepOptions small_options(const testing::TempDir& tmp) {
  PrepOptions o;
  o.inputs = {tmp / "corpus"};
  o.output_dir = tmp / "out";
  o.vocab_size = 320;
  o.sentinels = 10;
  o.val_fraction = 0.1;
  o.seed = 3;
  return o;
}

TEST(DatasetPrep, WritesADatasetThatReadsBackWithExactSplitsAndSentinelsOnTop) {
  testing::TempDir tmp;
  write_corpus(tmp / "corpus", 40);
  DatasetInfo written = prepare_dataset(small_options(tmp));
  DatasetInfo info = read_dataset(tmp / "out");
  EXPECT_FALSE(std::filesystem::exists(tmp / "out.tmp"));
  EXPECT_EQ(info.vocab_size, 320);
  EXPECT_EQ(info.sentinel_count, 10);
  EXPECT_EQ(info.sentinel_id(0), 319);
  EXPECT_EQ(info.pad_id, 0);
  EXPECT_EQ(info.eos_id, 1);
  EXPECT_EQ(info.unk_id, 2);
  EXPECT_EQ(info.bos_id, 3);
  EXPECT_EQ(info.val_documents, 4u);
  EXPECT_EQ(info.train_documents, 36u);
  EXPECT_EQ(info.tokenizer_sha256, file_sha256_hex(tmp / "out/tokenizer.model"));
  EXPECT_EQ(Tokenizer(tmp / "out/tokenizer.model").piece_count(), 310);
  EXPECT_EQ(written.train_tokens, info.train_tokens);

  for (const ShardEntry& entry : info.shards) {
    ShardReader shard(info.path_of(entry));
    std::vector<int32_t> tokens(shard.token_count());
    shard.read_tokens(0, tokens.size(), tokens.data());
    std::vector<uint64_t> offsets = shard.read_document_offsets();
    ASSERT_EQ(offsets.size(), entry.documents);
    for (size_t d = 0; d < offsets.size(); ++d) {
      uint64_t end = d + 1 < offsets.size() ? offsets[d + 1] : tokens.size();
      EXPECT_EQ(tokens[end - 1], 1) << "document ends with eos";
    }
    for (int32_t id : tokens) ASSERT_LT(id, 310) << "sentinel ids never appear in shards";
  }
}

TEST(DatasetPrep, TokenizerDecodesDocumentsBackExactly) {
  testing::TempDir tmp;
  std::vector<std::string> texts = write_corpus(tmp / "corpus", 12);
  prepare_dataset(small_options(tmp));
  Tokenizer tokenizer(tmp / "out/tokenizer.model");
  for (const std::string& text : texts) EXPECT_EQ(tokenizer.decode(tokenizer.encode(text)), text);
  EXPECT_EQ(tokenizer.decode(tokenizer.encode("naïve ünïcode → ok\n")), "naïve ünïcode → ok\n");
}

TEST(DatasetPrep, ShardsRollOverAndAGivenTokenizerIsReused) {
  testing::TempDir tmp;
  write_corpus(tmp / "corpus", 30);
  PrepOptions o = small_options(tmp);
  o.shard_tokens = 400;
  DatasetInfo first = prepare_dataset(o);
  EXPECT_GT(first.shards_of("train").size(), 3u);
  uint64_t tokens = 0;
  for (const ShardEntry& entry : first.shards_of("train")) tokens += entry.tokens;
  EXPECT_EQ(tokens, first.train_tokens);

  o.tokenizer_path = tmp / "out/tokenizer.model";
  o.output_dir = tmp / "again";
  o.shard_tokens = 1 << 20;
  DatasetInfo second = prepare_dataset(o);
  EXPECT_EQ(second.tokenizer_sha256, first.tokenizer_sha256);
  EXPECT_EQ(second.train_tokens, first.train_tokens);  // same tokenizer, seed, split
  EXPECT_EQ(second.shards_of("train").size(), 1u);
}

TEST(DatasetPrep, JsonlDocumentsComeFromTheTextField) {
  testing::TempDir tmp;
  std::string jsonl;
  for (int i = 0; i < 20; ++i) {
    jsonl += "{\"id\": " + std::to_string(i) + ", \"text\": \"line one of " + std::to_string(i) +
             "\\nthe cat sat on the mat\"}\n";
  }
  testing::write_text_file(tmp / "corpus/docs.jsonl", jsonl);
  DatasetInfo info = prepare_dataset(small_options(tmp));
  EXPECT_EQ(info.train_documents + info.val_documents, 20u);
}

TEST(DatasetPrep, MalformedJsonlLineIsNamedAndNothingIsWritten) {
  testing::TempDir tmp;
  testing::write_text_file(tmp / "corpus/docs.jsonl", "{\"text\": \"ok\"}\n{\"text\": oops}\n");
  testing::expect_user_error([&] { prepare_dataset(small_options(tmp)); }, {"docs.jsonl:2"});
  EXPECT_FALSE(std::filesystem::exists(tmp / "out"));
  EXPECT_FALSE(std::filesystem::exists(tmp / "out.tmp"));
}

TEST(DatasetPrep, EmptyCorpusIsAUserErrorAndNothingIsWritten) {
  testing::TempDir tmp;
  testing::write_text_file(tmp / "corpus/empty.txt", "");
  testing::write_text_file(tmp / "corpus/blank.txt", "  \n\n\t\n");
  testing::expect_user_error([&] { prepare_dataset(small_options(tmp)); },
                             {"corpus", "empty corpus"});
  EXPECT_FALSE(std::filesystem::exists(tmp / "out"));
  EXPECT_FALSE(std::filesystem::exists(tmp / "out.tmp"));
}

}  // namespace
}  // namespace molt::io
