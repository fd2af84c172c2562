// Contracts of TokenLoader (see io/token_loader.h):
//  - the same options give the same stream; the seed changes it;
//  - over an epoch, ranks W = 1..4 together read every window exactly once, with no
//    sample shared between ranks;
//  - position is a pure function of (seed, step, G): seeking on W = 1, 2, 3 with the same
//    global batch gives the same sample at every global index, across an epoch boundary;
//  - rows are true windows: seq_len + 1 consecutive tokens of one shard;
//  - without shuffle, spread_windows = n reads n windows evenly spaced over the split;
//  - a sequence length no shard can hold is a UserError.
#include "io/token_loader.h"

#include <gtest/gtest.h>

#include <map>
#include <set>

#include "tests/io/expect_user_error.h"
#include "tests/io/io_fixtures.h"

namespace molt::io {
namespace {

constexpr int kSeqLen = 16;
// Shards of 50, 40 and 30 windows at seq_len 16: S = 120.
const std::vector<uint64_t> kTrainShardTokens = {50 * 16 + 1 + 5, 40 * 16 + 1, 30 * 16 + 1 + 15};
constexpr int64_t kWindows = 120;

class TokenLoaderTest : public ::testing::Test {
 protected:
  void SetUp() override { testing::write_synthetic_dataset(tmp_.path(), kTrainShardTokens); }
  LoaderOptions options(int world, int rank, int micro_batch, int accum_steps) const {
    LoaderOptions o;
    o.dataset_dir = tmp_.path();
    o.seq_len = kSeqLen;
    o.seed = 1234;
    o.world = world;
    o.rank = rank;
    o.micro_batch = micro_batch;
    o.accum_steps = accum_steps;
    o.prefetch_depth = 3;
    return o;
  }
  // The global sample stream of steps [first_step, first_step + steps) on `world` ranks:
  // sample index within the run -> first token of its window.
  std::map<int64_t, int32_t> global_stream(int world, int micro_batch, int accum_steps,
                                           int64_t first_step, int64_t steps) const {
    std::map<int64_t, int32_t> stream;
    for (int rank = 0; rank < world; ++rank) {
      TokenLoader loader(options(world, rank, micro_batch, accum_steps));
      loader.seek(first_step);
      const int64_t global_batch = loader.global_batch_sequences();
      for (int64_t k = 0; k < steps * accum_steps; ++k) {
        MicroBatch batch = loader.next();
        for (int row = 0; row < batch.rows; ++row) {
          int64_t sample = batch.step * global_batch +
                           (int64_t{batch.micro_step} * world + rank) * micro_batch + row;
          EXPECT_TRUE(stream.emplace(sample, batch.tokens[row * batch.row_tokens]).second)
              << "sample " << sample << " delivered twice";
        }
      }
    }
    return stream;
  }
  testing::TempDir tmp_;
};

TEST_F(TokenLoaderTest, SameOptionsGiveTheSameStreamAndTheSeedChangesIt) {
  TokenLoader a(options(1, 0, 4, 1)), b(options(1, 0, 4, 1));
  LoaderOptions other = options(1, 0, 4, 1);
  other.seed = 99;
  TokenLoader c(other);
  bool any_difference = false;
  for (int i = 0; i < 10; ++i) {
    MicroBatch x = a.next(), y = b.next(), z = c.next();
    EXPECT_EQ(x.tokens, y.tokens);
    EXPECT_EQ(x.step, i);
    any_difference |= x.tokens != z.tokens;
  }
  EXPECT_TRUE(any_difference);
}

TEST_F(TokenLoaderTest, RowsAreConsecutiveTokensOfOneShard) {
  TokenLoader loader(options(1, 0, 8, 1));
  EXPECT_EQ(loader.sequences_per_epoch(), kWindows);
  for (int i = 0; i < 15; ++i) {
    MicroBatch batch = loader.next();
    ASSERT_EQ(batch.row_tokens, kSeqLen + 1);
    ASSERT_EQ(batch.tokens.size(), size_t(8 * (kSeqLen + 1)));
    for (int row = 0; row < batch.rows; ++row) {
      const int32_t* t = &batch.tokens[row * batch.row_tokens];
      EXPECT_EQ((t[0] - 1000) % 1000000 % kSeqLen, 0) << "windows start at multiples of T";
      for (int k = 1; k < kSeqLen; ++k) ASSERT_EQ(t[k], t[0] + k);
      EXPECT_TRUE(t[kSeqLen] == t[0] + kSeqLen || t[kSeqLen] == 1) << "last token or eos";
    }
  }
}

TEST_F(TokenLoaderTest, RanksTogetherCoverEveryWindowOnceFor1To4Ranks) {
  // The set of every window's first token.
  std::set<int32_t> all_windows;
  for (size_t shard = 0; shard < kTrainShardTokens.size(); ++shard) {
    for (uint64_t w = 0; w < (kTrainShardTokens[shard] - 1) / kSeqLen; ++w) {
      all_windows.insert(testing::synthetic_token(static_cast<int>(shard), w * kSeqLen));
    }
  }
  ASSERT_EQ(all_windows.size(), size_t(kWindows));
  for (int world = 1; world <= 4; ++world) {
    // G = world * 2 * 5 = 10 * world divides S = 120, so S / G steps are one epoch.
    int64_t steps = kWindows / (10 * world);
    std::map<int64_t, int32_t> stream = global_stream(world, 2, 5, 0, steps);
    std::set<int32_t> seen;
    for (const auto& [sample, first_token] : stream) {
      EXPECT_TRUE(seen.insert(first_token).second) << "window read twice, world " << world;
    }
    EXPECT_EQ(seen, all_windows) << "world " << world;
  }
}

TEST_F(TokenLoaderTest, ResumeAtAnotherWorldSizeContinuesTheSameStream) {
  // G = 12 three ways. Steps 8..11 cross the epoch boundary at sample 120 (step 10).
  auto one_rank = global_stream(1, 12, 1, 8, 4);
  auto two_ranks = global_stream(2, 3, 2, 8, 4);
  auto three_ranks = global_stream(3, 2, 2, 8, 4);
  ASSERT_EQ(one_rank.size(), 48u);
  EXPECT_EQ(one_rank, two_ranks);
  EXPECT_EQ(one_rank, three_ranks);
  EXPECT_EQ(one_rank.begin()->first, 8 * 12);
}

TEST_F(TokenLoaderTest, SeekMatchesReadingFromTheStart) {
  TokenLoader straight(options(2, 1, 3, 2)), resumed(options(2, 1, 3, 2));
  std::vector<MicroBatch> from_start;
  for (int i = 0; i < 12; ++i) from_start.push_back(straight.next());
  resumed.next();  // start the prefetch thread, then move it
  resumed.seek(4);
  for (int i = 8; i < 12; ++i) {
    MicroBatch batch = resumed.next();
    EXPECT_EQ(batch.step, from_start[i].step);
    EXPECT_EQ(batch.micro_step, from_start[i].micro_step);
    EXPECT_EQ(batch.tokens, from_start[i].tokens);
  }
}

TEST_F(TokenLoaderTest, WithoutShuffleWindowsComeInOrder) {
  LoaderOptions o = options(1, 0, 4, 1);
  o.shuffle = false;
  TokenLoader loader(o);
  MicroBatch batch = loader.next();
  for (int row = 0; row < 4; ++row) {
    EXPECT_EQ(batch.tokens[row * batch.row_tokens], testing::synthetic_token(0, row * kSeqLen));
  }
}

TEST_F(TokenLoaderTest, SpreadWindowsAreEvenlySpacedOverTheWholeSplit) {
  // n = 12 windows of S = 120: windows 0, 10, ..., 110, across all three shards, in order,
  // and the same again after n samples.
  LoaderOptions o = options(1, 0, 4, 3);
  o.shuffle = false;
  o.spread_windows = 12;
  TokenLoader loader(o);
  const int shard_windows[] = {50, 40, 30};
  for (int pass = 0; pass < 2; ++pass) {
    for (int m = 0; m < 3; ++m) {
      MicroBatch batch = loader.next();
      for (int row = 0; row < 4; ++row) {
        int window = 10 * (m * 4 + row), shard = 0;
        while (window >= shard_windows[shard]) window -= shard_windows[shard++];
        EXPECT_EQ(batch.tokens[row * batch.row_tokens],
                  testing::synthetic_token(shard, window * kSeqLen))
            << "pass " << pass << " sample " << m * 4 + row;
      }
    }
  }
  // n >= S: every window in order, as without spreading.
  o.spread_windows = 500;
  o.accum_steps = 1;
  TokenLoader all(o);
  MicroBatch batch = all.next();
  for (int row = 0; row < 4; ++row) {
    EXPECT_EQ(batch.tokens[row * batch.row_tokens], testing::synthetic_token(0, row * kSeqLen));
  }
}

TEST_F(TokenLoaderTest, SequenceLongerThanAnyShardIsAUserError) {
  LoaderOptions o = options(1, 0, 1, 1);
  o.seq_len = 900;  // needs 901 tokens; the longest train shard holds 806
  testing::expect_user_error([&] { TokenLoader loader(o); },
                             {"sequence length 900", "longer than any", "806"});
}

TEST_F(TokenLoaderTest, TruncatedShardIsAUserErrorNamingTheFile) {
  LoaderOptions o = options(1, 0, 4, 1);
  o.dataset_dir = tmp_ / "corrupt";
  testing::write_synthetic_dataset(o.dataset_dir, kTrainShardTokens);
  // Truncated after prep: caught when the loader opens or reads the shard.
  std::filesystem::resize_file(o.dataset_dir + "/train-00001.h5",
                               std::filesystem::file_size(o.dataset_dir + "/train-00001.h5") - 100);
  testing::expect_user_error(
      [&] {
        TokenLoader loader(o);
        for (int i = 0; i < 40; ++i) loader.next();
      },
      {"train-00001.h5"});
}

}  // namespace
}  // namespace molt::io
