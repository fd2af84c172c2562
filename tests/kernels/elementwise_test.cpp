// fill, copy (with bf16 rounding), scale, add, accumulate and sum_of_squares.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <stdexcept>

#include "tests/kernels/kernel_test_support.h"

namespace molt::kernels::testing {
namespace {

using ElementwiseTest = KernelTest;

uint32_t bits_of(float x) {
  uint32_t b;
  std::memcpy(&b, &x, sizeof b);
  return b;
}
float from_bits(uint32_t b) {
  float x;
  std::memcpy(&x, &b, sizeof x);
  return x;
}

TEST_F(ElementwiseTest, FillScaleAddAccumulate) {
  const size_t n = 100003;  // above the threading threshold, odd
  const std::vector<float> a = random_normal(n, 1), b = random_normal(n, 2);
  Tensor x = zeros(n);
  backend().fill(x, 2.5f);
  for (float v : host(x)) ASSERT_EQ(v, 2.5f);
  Tensor ta = device(a), tb = device(b), out = zeros(n);
  backend().add(out, ta, tb);
  backend().scale(out, -3.0f);
  backend().accumulate(out, ta);
  std::vector<double> expected(n);
  for (size_t i = 0; i < n; ++i) expected[i] = -3.0 * (a[i] + b[i]) + a[i];
  EXPECT_TRUE(all_near(host(out), expected, 1e-5, 1e-6));
}

TEST_F(ElementwiseTest, MismatchedCountsAreProgrammerErrors) {
  EXPECT_THROW(backend().add(zeros(3), zeros(3), zeros(4)), std::logic_error);
  EXPECT_THROW(backend().accumulate(zeros(3), zeros(2)), std::logic_error);
  EXPECT_THROW(backend().copy(zeros(3), zeros(2)), std::logic_error);
  EXPECT_THROW(backend().fill(zeros(3, DType::kI32), 1.0f), std::logic_error);
}

TEST_F(ElementwiseTest, CopyF32ToBf16RoundsToNearestEven) {
  // 1 + 2⁻⁸ lies exactly between bf16 neighbours 1 and 1 + 2⁻⁷: the tie goes to the even 1.
  // 1 + 3·2⁻⁸ lies between 1 + 2⁻⁷ (odd) and 1 + 2⁻⁶: the tie goes to 1 + 2⁻⁶.
  // Slightly above a tie rounds up; the largest finite f32 rounds to infinity.
  const std::vector<float> in = {1.0f + 0x1p-8f,
                                 1.0f + 3 * 0x1p-8f,
                                 from_bits(0x3F808001u),
                                 -2.0f,
                                 std::numeric_limits<float>::max(),
                                 std::numeric_limits<float>::quiet_NaN()};
  const std::vector<float> expected = {1.0f, 1.0f + 0x1p-6f, 1.0f + 0x1p-7f, -2.0f,
                                       std::numeric_limits<float>::infinity()};
  Tensor bf = zeros(in.size(), DType::kBF16);
  backend().copy(bf, device(in));
  Tensor back = zeros(in.size());
  backend().copy(back, bf);
  const std::vector<float> out = host(back);
  for (size_t i = 0; i < expected.size(); ++i) EXPECT_EQ(out[i], expected[i]) << i;
  EXPECT_TRUE(std::isnan(out.back()));
}

TEST_F(ElementwiseTest, CopyBf16RoundTripIsWithinHalfAnUlp) {
  const std::vector<float> in = random_normal(5001, 3, 10.0f);
  Tensor bf = zeros(in.size(), DType::kBF16), back = zeros(in.size());
  backend().copy(bf, device(in));
  backend().copy(back, bf);
  const std::vector<float> out = host(back);
  for (size_t i = 0; i < in.size(); ++i) {
    ASSERT_EQ(bits_of(out[i]) & 0xFFFFu, 0u);
    ASSERT_LE(std::abs(out[i] - in[i]), std::abs(in[i]) * 0x1p-8f) << i;
  }
}

TEST_F(ElementwiseTest, CopyI32IsExactAndNeverConvertsToFloat) {
  const std::vector<int32_t> ids = {0, 1, -5, 123456789};
  Tensor dst = zeros(ids.size(), DType::kI32);
  backend().copy(dst, device(ids));
  EXPECT_EQ(host_i32(dst), ids);
  EXPECT_THROW(backend().copy(zeros(ids.size()), dst), std::logic_error);
}

TEST_F(ElementwiseTest, SumOfSquaresAccumulatesInDouble) {
  // 2²⁴ + 1 ones: an f32 running sum sticks at 2²⁴, a double sum does not.
  const size_t n = (1u << 24) + 1;
  Tensor ones = zeros(n);
  backend().fill(ones, 1.0f);
  EXPECT_EQ(backend().sum_of_squares(ones), static_cast<double>(n));
  const std::vector<float> x = random_normal(1001, 4);
  double expected = 0.0;
  for (float v : x) expected += static_cast<double>(v) * v;
  EXPECT_NEAR(backend().sum_of_squares(device(x)), expected, 1e-9 * expected);
}

}  // namespace
}  // namespace molt::kernels::testing
