// Contract: the window shuffle is fully specified (splitmix64 reference values, exact
// bounded draws), is a bijection, and depends on (seed, epoch) only.
#include "io/window_permutation.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>

namespace molt::io {
namespace {

TEST(WindowPermutation, SplitMix64MatchesTheReferenceStream) {
  // Published reference outputs of splitmix64 seeded with 1234567.
  SplitMix64 rng(1234567);
  EXPECT_EQ(rng.next(), 6457827717110365317ull);
  EXPECT_EQ(rng.next(), 3203168211198807973ull);
  EXPECT_EQ(rng.next(), 9817491932198370423ull);
  EXPECT_EQ(rng.next(), 4593380528125082431ull);
  EXPECT_EQ(rng.next(), 16408922859458223821ull);
}

TEST(WindowPermutation, BoundedDrawIsInRangeAndRoughlyUniform) {
  SplitMix64 rng(7);
  std::vector<int> counts(3, 0);
  for (int i = 0; i < 30000; ++i) {
    uint64_t x = rng.below(3);
    ASSERT_LT(x, 3u);
    ++counts[x];
  }
  for (int c : counts) EXPECT_NEAR(c, 10000, 500);
  EXPECT_EQ(rng.below(1), 0u);
}

TEST(WindowPermutation, IsABijectionOverTheWindows) {
  std::vector<uint64_t> perm = window_permutation(42, 0, 1000);
  std::vector<uint64_t> sorted = perm;
  std::sort(sorted.begin(), sorted.end());
  std::vector<uint64_t> identity(1000);
  std::iota(identity.begin(), identity.end(), 0);
  EXPECT_EQ(sorted, identity);
  EXPECT_NE(perm, identity);
}

TEST(WindowPermutation, DependsOnSeedAndEpochOnly) {
  EXPECT_EQ(window_permutation(42, 3, 500), window_permutation(42, 3, 500));
  EXPECT_NE(window_permutation(42, 3, 500), window_permutation(42, 4, 500));
  EXPECT_NE(window_permutation(42, 3, 500), window_permutation(43, 3, 500));
}

TEST(WindowPermutation, NoShuffleIsTheIdentity) {
  std::vector<uint64_t> identity(50);
  std::iota(identity.begin(), identity.end(), 0);
  EXPECT_EQ(window_permutation(42, 9, 50, /*shuffle=*/false), identity);
}

}  // namespace
}  // namespace molt::io
