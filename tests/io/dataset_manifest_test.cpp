// Contract: read_dataset() reads dataset.toml strictly and checks the shards against it.
// Each bad manifest or mixed dataset fails with a UserError naming file and line, key, or
// shard.
#include <gtest/gtest.h>

#include <fstream>
#include <regex>
#include <sstream>

#include "io/dataset_info.h"
#include "tests/io/expect_user_error.h"
#include "tests/io/io_fixtures.h"

namespace molt::io {
namespace {

using testing::expect_user_error;

std::string read_all(const std::string& path) {
  std::ostringstream text;
  text << std::ifstream(path).rdbuf();
  return text.str();
}

TEST(DatasetManifest, WrittenManifestReadsBack) {
  testing::TempDir tmp;
  DatasetInfo written = testing::write_synthetic_dataset(tmp.path(), {3000, 2000}, {500});
  DatasetInfo read = read_dataset(tmp.path());
  EXPECT_EQ(read.vocab_size, written.vocab_size);
  EXPECT_EQ(read.tokenizer_sha256, "feedbeef");
  EXPECT_EQ(read.train_tokens, 5000u);
  EXPECT_EQ(read.val_tokens, 500u);
  ASSERT_EQ(read.shards_of("train").size(), 2u);
  EXPECT_EQ(read.shards_of("train")[1].file, "train-00001.h5");
  EXPECT_EQ(read.shards_of("val")[0].tokens, 500u);
}

TEST(DatasetManifest, MalformedTomlNamesLineAndColumn) {
  testing::TempDir tmp;
  testing::write_synthetic_dataset(tmp.path(), {3000});
  std::string manifest = tmp / "dataset.toml";
  std::ofstream(manifest, std::ios::app) << "\nbroken = = 3\n";
  int lines = 0;
  for (char c : read_all(manifest)) lines += c == '\n';
  expect_user_error([&] { read_dataset(tmp.path()); },
                    {"dataset.toml:" + std::to_string(lines) + ":"});
}

TEST(DatasetManifest, UnknownKeyIsNamed) {
  testing::TempDir tmp;
  testing::write_synthetic_dataset(tmp.path(), {3000});
  std::string text = read_all(tmp / "dataset.toml");
  std::ofstream(tmp / "dataset.toml") << "vocab_sise = 12\n" << text;
  expect_user_error([&] { read_dataset(tmp.path()); },
                    {"dataset.toml:1", "unknown key 'vocab_sise'"});
}

TEST(DatasetManifest, UnknownKeyInsideAShardIsNamed) {
  testing::TempDir tmp;
  testing::write_synthetic_dataset(tmp.path(), {3000});
  std::string text = read_all(tmp / "dataset.toml");
  text = std::regex_replace(text, std::regex("\ndocuments = 1"), "\ndocuments = 1\ncolour = 2",
                            std::regex_constants::format_first_only);
  std::ofstream(tmp / "dataset.toml") << text;
  expect_user_error([&] { read_dataset(tmp.path()); }, {"unknown key 'shards[0].colour'"});
}

TEST(DatasetManifest, WrongTypeNamesKeyAndExpectedType) {
  testing::TempDir tmp;
  testing::write_synthetic_dataset(tmp.path(), {3000});
  std::string text = read_all(tmp / "dataset.toml");
  text = std::regex_replace(text, std::regex("vocab_size = [0-9]+"), "vocab_size = \"big\"");
  std::ofstream(tmp / "dataset.toml") << text;
  expect_user_error([&] { read_dataset(tmp.path()); },
                    {"dataset.toml:", "'vocab_size'", "an integer"});
}

TEST(DatasetManifest, MissingFolderIsNamed) {
  expect_user_error([] { read_dataset("/nonexistent/dataset-dir"); },
                    {"/nonexistent/dataset-dir", "no such dataset folder"});
}

TEST(DatasetManifest, ShardsFromDifferentTokenizersAreRefused) {
  testing::TempDir tmp;
  testing::write_synthetic_dataset(tmp.path(), {3000}, {500}, "hash-a");
  testing::TempDir other;
  testing::write_synthetic_dataset(other.path(), {3000}, {500}, "hash-b");
  std::filesystem::copy_file(other / "val-00000.h5", tmp / "val-00000.h5",
                             std::filesystem::copy_options::overwrite_existing);
  expect_user_error([&] { read_dataset(tmp.path()); },
                    {"val-00000.h5", "different tokenizer", "hash-b", "hash-a"});
}

TEST(DatasetManifest, VocabMismatchBetweenShardAndManifestIsRefused) {
  testing::TempDir tmp;
  testing::write_synthetic_dataset(tmp.path(), {3000});
  std::string text = read_all(tmp / "dataset.toml");
  text = std::regex_replace(text, std::regex("vocab_size = [0-9]+"), "vocab_size = 70000");
  std::ofstream(tmp / "dataset.toml") << text;
  expect_user_error([&] { read_dataset(tmp.path()); }, {"train-00000.h5", "vocab_size"});
}

}  // namespace
}  // namespace molt::io
