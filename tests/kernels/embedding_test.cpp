// Token + position embeddings and T5 relative position bias lookups; their scatter-add
// gradients must sum every repeated id/bucket. Lookups are exact copies (tolerance 0 for
// forward, 1e-5 for sums of up to a few hundred terms in backward).
#include <stdexcept>

#include "tests/kernels/kernel_test_support.h"

namespace molt::kernels::testing {
namespace {

using EmbeddingTest = KernelTest;

TEST_F(EmbeddingTest, ForwardGathersTokenRowsPlusPositionRows) {
  const int B = 3, T = 5, C = 7, V = 4;  // V < B·T: ids repeat
  const auto table = random_normal(V * C, 1), positions = random_normal(T * C, 2);
  const auto ids = random_ints(B * T, V, 3);
  Tensor out = device(random_normal(B * T * C, 9));
  backend().embedding_forward(out, device(ids), device(table), device(positions), B, T, C);
  std::vector<double> expected(B * T * C);
  for (int r = 0; r < B * T; ++r)
    for (int c = 0; c < C; ++c)
      expected[r * C + c] = table[ids[r] * C + c] + positions[(r % T) * C + c];  // f32 sum
  EXPECT_TRUE(all_near(host(out), expected, 0.0, 0.0));
  backend().embedding_forward(out, device(ids), device(table), Tensor{}, B, T, C);
  for (int r = 0; r < B * T; ++r)
    for (int c = 0; c < C; ++c) expected[r * C + c] = table[ids[r] * C + c];
  EXPECT_TRUE(all_near(host(out), expected, 0.0, 0.0));
}

TEST_F(EmbeddingTest, BackwardScatterAddsRepeatedIdsAndPositions) {
  // C = 200 spans several per-thread channel slices; B·T·C crosses the threading threshold.
  const int B = 4, T = 30, C = 200, V = 9;
  const auto ids = random_ints(B * T, V, 3);
  const auto dy = random_normal(B * T * C, 4);
  const auto dtable0 = random_normal(V * C, 5), dpos0 = random_normal(T * C, 6);
  Tensor dtable = device(dtable0), dpos = device(dpos0);
  backend().embedding_backward(dtable, dpos, device(dy), device(ids), B, T, C);
  std::vector<double> et(dtable0.begin(), dtable0.end()), ep(dpos0.begin(), dpos0.end());
  for (int r = 0; r < B * T; ++r)
    for (int c = 0; c < C; ++c) {
      et[ids[r] * C + c] += dy[r * C + c];
      ep[(r % T) * C + c] += dy[r * C + c];
    }
  EXPECT_TRUE(all_near(host(dtable), et, 1e-5, 1e-5));
  EXPECT_TRUE(all_near(host(dpos), ep, 1e-5, 1e-5));
}

TEST_F(EmbeddingTest, OutOfRangeIdsAreProgrammerErrors) {
  const std::vector<int32_t> ids = {0, 4};
  EXPECT_THROW(
      backend().embedding_forward(zeros(6), device(ids), zeros(4 * 3), Tensor{}, 1, 2, 3),
      std::logic_error);
}

TEST_F(EmbeddingTest, PositionBiasGathersTableColumnPerHead) {
  const int H = 3, Tq = 5, Tk = 7, buckets_count = 6;
  const auto table = random_normal(buckets_count * H, 1);
  const auto buckets = random_ints(Tq * Tk, buckets_count, 2);
  Tensor out = zeros(H * Tq * Tk);
  backend().position_bias_forward(out, device(table), device(buckets), H, Tq, Tk);
  std::vector<double> expected(H * Tq * Tk);
  for (int h = 0; h < H; ++h)
    for (int cell = 0; cell < Tq * Tk; ++cell)
      expected[h * Tq * Tk + cell] = table[buckets[cell] * H + h];
  EXPECT_TRUE(all_near(host(out), expected, 0.0, 0.0));
}

TEST_F(EmbeddingTest, PositionBiasBackwardSumsEveryCellOfABucket) {
  const int H = 4, Tq = 33, Tk = 41, buckets_count = 8;
  const auto buckets = random_ints(Tq * Tk, buckets_count, 2);
  const auto dy = random_normal(H * Tq * Tk, 3), dtable0 = random_normal(buckets_count * H, 4);
  Tensor dtable = device(dtable0);
  backend().position_bias_backward(dtable, device(dy), device(buckets), H, Tq, Tk);
  backend().position_bias_backward(dtable, device(dy), device(buckets), H, Tq, Tk);
  std::vector<double> expected(dtable0.begin(), dtable0.end());
  for (int h = 0; h < H; ++h)
    for (int cell = 0; cell < Tq * Tk; ++cell)
      expected[buckets[cell] * H + h] += 2.0 * dy[h * Tq * Tk + cell];
  EXPECT_TRUE(all_near(host(dtable), expected, 1e-4, 1e-5));
}

}  // namespace
}  // namespace molt::kernels::testing
