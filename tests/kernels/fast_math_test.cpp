// The vectorizable exp and tanh behind GELU, softmax and cross-entropy must be as good as
// float allows: relative error ≤ 1e-6 (≈ 8 ulp; measured ≈ 2) against double libm.
#include <cmath>

#include <gtest/gtest.h>

#include "kernels/cpu/fast_math.h"

namespace molt::kernels::cpu {
namespace {

TEST(FastMathTest, ExpApproxIsWithinAFewUlpOverTheNormalRange) {
  double worst = 0.0;
  for (float x = -87.0f; x <= 88.0f; x += 0.00731f) {
    const double exact = std::exp(static_cast<double>(x));
    worst = std::max(worst, std::abs(exp_approx(x) - exact) / exact);
  }
  EXPECT_LT(worst, 1e-6);
  EXPECT_EQ(exp_approx(0.0f), 1.0f);
}

TEST(FastMathTest, ExpApproxClampsInsteadOfOverflowing) {
  EXPECT_TRUE(std::isfinite(exp_approx(1000.0f)));
  EXPECT_GT(exp_approx(1000.0f), 1e38f);
  EXPECT_LT(exp_approx(-1000.0f), 2e-38f);
  EXPECT_GE(exp_approx(-1000.0f), 0.0f);
}

TEST(FastMathTest, TanhApproxIsAccurateNearZeroAndSaturates) {
  double worst = 0.0;
  for (float x = -12.0f; x <= 12.0f; x += 0.000937f) {
    const double exact = std::tanh(static_cast<double>(x));
    worst = std::max(worst, std::abs(tanh_approx(x) - exact) / std::max(std::abs(exact), 1e-30));
  }
  EXPECT_LT(worst, 1e-6);
  EXPECT_EQ(tanh_approx(0.0f), 0.0f);
  EXPECT_EQ(tanh_approx(50.0f), 1.0f);
  EXPECT_EQ(tanh_approx(-50.0f), -1.0f);
}

}  // namespace
}  // namespace molt::kernels::cpu
