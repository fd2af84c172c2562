// Contracts of prepare_dataset (io/dataset_prep.h):
//  - the folder it writes reads back through read_dataset, with the requested vocab,
//    sentinels at the top (never in the shards), an exact val document count, and each
//    document's tokens followed by eos;
//  - the tokenizer keeps text exactly: decoding a document gives the input back;
//  - documents encoded in parts cut after newlines get the ids of one call, and tokenizers
//    that cutting would change are encoded whole;
//  - shards roll over at shard_tokens; a given tokenizer is reused (same hash);
//  - an empty corpus or a malformed JSONL line is a UserError that leaves no output.
#include "io/dataset_prep.h"

#include <gtest/gtest.h>
#include <sentencepiece_trainer.h>

#include <filesystem>
#include <fstream>
#include <string_view>
#include <unordered_map>

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

// Long documents are encoded in parts cut after newlines (Tokenizer::parts). For a tokenizer
// molt trains, the ids must be those of one call over the whole text, whatever the part size,
// with blank lines, indentation after a cut, CRLF, non-ASCII text and no final newline.
TEST(DatasetPrep, TokenizerPartsEncodeLikeTheWholeText) {
  testing::TempDir tmp;
  std::vector<std::string> texts = write_corpus(tmp / "corpus", 12);
  prepare_dataset(small_options(tmp));
  Tokenizer tokenizer(tmp / "out/tokenizer.model");
  ASSERT_TRUE(tokenizer.cuts_at_newlines());
  std::string all;
  for (const std::string& text : texts) all += text;
  texts.push_back(all);
  texts.push_back("\n\n  the cat\n\tint x;\r\nreturn {\r\n\n   \n naïve → ünï\n}\nend");
  texts.push_back("  leading spaces\n    and more\n\n");
  const size_t whole = size_t(1) << 40;
  for (const std::string& text : texts) {
    ASSERT_EQ(tokenizer.parts(text, whole).size(), 1u);
    const std::vector<int32_t> reference = tokenizer.encode_part(text, true);
    EXPECT_EQ(tokenizer.encode(text), reference);
    for (size_t target : {0, 1, 5, 17, 64, 300}) {
      std::vector<std::string_view> parts = tokenizer.parts(text, target);
      if (text.size() > 2 * target + 80) {
        EXPECT_GT(parts.size(), 1u) << "target " << target;
      }
      std::vector<int32_t> ids;
      std::string joined;
      for (size_t i = 0; i < parts.size(); ++i) {
        if (i + 1 < parts.size()) {
          EXPECT_EQ(parts[i].back(), '\n');
        }
        std::vector<int32_t> part_ids = tokenizer.encode_part(parts[i], i == 0);
        ids.insert(ids.end(), part_ids.begin(), part_ids.end());
        joined += parts[i];
      }
      EXPECT_EQ(joined, text);
      EXPECT_EQ(ids, reference) << "target " << target << " text " << text.substr(0, 40);
    }
  }
}

// A model whose pieces hold a newline inside, or that normalises text, must not be cut: its
// ids would change. encode() then makes one call, and a piece spanning a newline survives.
TEST(DatasetPrep, TokenizersThatCuttingWouldChangeAreEncodedWhole) {
  testing::TempDir tmp;
  std::string corpus;
  for (int i = 0; i < 200; ++i) corpus += "the cat sat on a mat while dogs ran " + std::to_string(i) + "\n";
  testing::write_text_file(tmp / "lines.txt", corpus);
  auto train = [&](const std::string& name, std::unordered_map<std::string, std::string> spec) {
    spec["input"] = tmp / "lines.txt";
    spec["model_prefix"] = tmp / name;
    spec["model_type"] = "bpe";
    spec["vocab_size"] = "40";
    ASSERT_TRUE(sentencepiece::SentencePieceTrainer::Train(spec).ok()) << name;
  };
  train("newline_piece", {{"normalization_rule_name", "identity"},
                                {"remove_extra_whitespaces", "false"},
                                {"user_defined_symbols", "a\nb"}});
  train("nfkc", {});
  train("identity",
        {{"normalization_rule_name", "identity"}, {"remove_extra_whitespaces", "false"}});
  EXPECT_TRUE(Tokenizer(tmp / "identity.model").cuts_at_newlines());  // the control
  EXPECT_FALSE(Tokenizer(tmp / "nfkc.model").cuts_at_newlines());
  Tokenizer newline(tmp / "newline_piece.model");
  ASSERT_FALSE(newline.cuts_at_newlines());
  std::string text = "the cat\n";
  for (int i = 0; i < 20; ++i) text += "sat on a\nb mat\n";
  EXPECT_EQ(newline.parts(text, 4).size(), 1u);
  int spanning = 0;
  for (int32_t id : newline.encode(text)) spanning += newline.decode({id}) == "a\nb";
  EXPECT_EQ(spanning, 20);
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
