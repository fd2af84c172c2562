// Contract: what ShardWriter writes, ShardReader reads back exactly (tokens, document
// offsets, attributes), in both token widths, including reads that cross HDF5 chunks.
#include <gtest/gtest.h>

#include <numeric>

#include "io/shard_reader.h"
#include "io/shard_writer.h"
#include "kernels/error.h"
#include "tests/io/io_fixtures.h"

namespace molt::io {
namespace {

void round_trip(int64_t vocab_size, int expected_token_bytes) {
  testing::TempDir tmp;
  ShardHeader header{vocab_size, 1, 3, 0, "abc123"};
  // Three documents; the middle one spans more than one chunk.
  std::vector<std::vector<int32_t>> docs = {{5, 6, 7},
                                            std::vector<int32_t>(kShardChunkTokens + 2000),
                                            {static_cast<int32_t>(vocab_size - 1)}};
  for (size_t i = 0; i < docs[1].size(); ++i) docs[1][i] = 4 + (i * 7919) % (vocab_size - 4);
  {
    ShardWriter writer(tmp / "s.h5", header);
    for (const auto& doc : docs) writer.append_document(doc);
    writer.close();
  }
  std::vector<int32_t> expected;
  std::vector<uint64_t> expected_offsets;
  for (const auto& doc : docs) {
    expected_offsets.push_back(expected.size());
    expected.insert(expected.end(), doc.begin(), doc.end());
    expected.push_back(1);  // eos after every document
  }

  ShardReader reader(tmp / "s.h5");
  EXPECT_EQ(reader.header().vocab_size, vocab_size);
  EXPECT_EQ(reader.header().eos_id, 1);
  EXPECT_EQ(reader.header().bos_id, 3);
  EXPECT_EQ(reader.header().pad_id, 0);
  EXPECT_EQ(reader.header().tokenizer_sha256, "abc123");
  EXPECT_EQ(reader.token_count(), expected.size());
  EXPECT_EQ(reader.document_count(), docs.size());
  EXPECT_EQ(reader.read_document_offsets(), expected_offsets);

  std::vector<int32_t> all(expected.size());
  reader.read_tokens(0, all.size(), all.data());
  EXPECT_EQ(all, expected);
  // A window that straddles the first chunk boundary.
  std::vector<int32_t> window(1025);
  uint64_t start = kShardChunkTokens - 500;
  reader.read_tokens(start, window.size(), window.data());
  EXPECT_TRUE(std::equal(window.begin(), window.end(), expected.begin() + start));

  EXPECT_EQ(token_bytes_for_vocab(vocab_size), expected_token_bytes);
}

TEST(ShardRoundTrip, Uint16TokensWhenVocabFitsIn16Bits) { round_trip(65536, 2); }
TEST(ShardRoundTrip, Uint32TokensWhenVocabExceeds16Bits) { round_trip(65537, 4); }

TEST(ShardRoundTrip, EmptyShardHasNoTokensAndNoDocuments) {
  testing::TempDir tmp;
  { ShardWriter writer(tmp / "e.h5", ShardHeader{300, 1, 3, 0, "x"}); }
  ShardReader reader(tmp / "e.h5");
  EXPECT_EQ(reader.token_count(), 0u);
  EXPECT_EQ(reader.document_count(), 0u);
}

TEST(ShardRoundTrip, ReadPastTheEndIsRefused) {
  testing::TempDir tmp;
  {
    ShardWriter writer(tmp / "s.h5", ShardHeader{300, 1, 3, 0, "x"});
    writer.append_document({4, 5, 6});
  }
  ShardReader reader(tmp / "s.h5");
  std::vector<int32_t> out(8);
  EXPECT_THROW(reader.read_tokens(2, 3, out.data()), UserError);
}

TEST(ShardRoundTrip, WriterRefusesIdsOutsideTheVocabulary) {
  testing::TempDir tmp;
  ShardWriter writer(tmp / "s.h5", ShardHeader{300, 1, 3, 0, "x"});
  EXPECT_THROW(writer.append_document({4, 300}), UserError);
  EXPECT_THROW(writer.append_document({-1}), UserError);
}

}  // namespace
}  // namespace molt::io
