// Softmax cross-entropy: loss = −log softmax(logits)[target], gradient written over the
// logits, ignore_index rows inert. Tolerances: 1e-5 relative on losses (double sum inside),
// 1e-6 absolute on probabilities.
#include <cmath>
#include <stdexcept>

#include "tests/kernels/kernel_test_support.h"
#include "tests/kernels/reference_ops.h"

namespace molt::kernels::testing {
namespace {

using CrossEntropyTest = KernelTest;

constexpr int kIgnore = -100;

TEST_F(CrossEntropyTest, LossIsMinusLogSoftmaxAndLogitsBecomeScaledGradient) {
  const int N = 37, V = 1031;
  auto logits = random_normal(N * V, 1, 3.0f);
  logits[5] = 80.0f;  // large logits must not overflow exp
  auto targets = random_ints(N, V, 2);
  targets[3] = kIgnore;
  targets[10] = kIgnore;
  const float grad_scale = 1.0f / 35.0f;
  Tensor x = device(logits), losses = device(random_normal(N, 9));
  backend().cross_entropy(x, losses, device(targets), N, V, kIgnore, grad_scale);
  const auto ref = reference::cross_entropy(logits, targets, N, V, kIgnore, grad_scale);
  EXPECT_TRUE(all_near(host(losses), ref.losses, 1e-5, 1e-5));
  EXPECT_TRUE(all_near(host(x), ref.dlogits, 1e-7, 1e-5));
}

TEST_F(CrossEntropyTest, IgnoredRowsGetZeroLossAndZeroGradient) {
  const int N = 3, V = 5;
  const auto logits = random_normal(N * V, 1);
  const std::vector<int32_t> targets = {kIgnore, 2, kIgnore};
  Tensor x = device(logits), losses = zeros(N);
  backend().cross_entropy(x, losses, device(targets), N, V, kIgnore, 0.5f);
  const auto out = host(x);
  for (int j = 0; j < V; ++j) {
    EXPECT_EQ(out[j], 0.0f);
    EXPECT_EQ(out[2 * V + j], 0.0f);
  }
  EXPECT_EQ(host(losses)[0], 0.0f);
  EXPECT_GT(host(losses)[1], 0.0f);
  EXPECT_EQ(host(losses)[2], 0.0f);
}

TEST_F(CrossEntropyTest, ZeroGradScaleLeavesLogitsUntouched) {
  const int N = 4, V = 9;
  const auto logits = random_normal(N * V, 1);
  const auto targets = random_ints(N, V, 2);
  Tensor x = device(logits), losses = zeros(N);
  backend().cross_entropy(x, losses, device(targets), N, V, kIgnore, 0.0f);
  EXPECT_EQ(host(x), logits);
  EXPECT_TRUE(all_near(host(losses),
                       reference::cross_entropy(logits, targets, N, V, kIgnore, 0.0).losses, 1e-6,
                       1e-6));
}

TEST_F(CrossEntropyTest, UniformLogitsGiveLogV) {
  const int N = 2, V = 8192;
  Tensor x = zeros(N * V), losses = zeros(N);
  backend().cross_entropy(x, losses, device(std::vector<int32_t>{0, 8191}), N, V, kIgnore, 1.0f);
  for (float l : host(losses)) EXPECT_NEAR(l, std::log(8192.0), 1e-5);
}

TEST_F(CrossEntropyTest, GradientMatchesFiniteDifferencesOfMeanLoss) {
  const int N = 3, V = 6;
  const auto logits = random_normal(N * V, 1);
  const std::vector<int32_t> targets = {1, kIgnore, 5};
  auto mean_loss = [&](const std::vector<float>& xs) {
    Tensor x = device(xs), losses = zeros(N);
    backend().cross_entropy(x, losses, device(targets), N, V, kIgnore, 0.0f);
    const auto l = host(losses);
    return (static_cast<double>(l[0]) + l[1] + l[2]) / 2.0;
  };
  Tensor x = device(logits), losses = zeros(N);
  backend().cross_entropy(x, losses, device(targets), N, V, kIgnore, 0.5f);
  EXPECT_TRUE(all_near(host(x),
                       finite_differences(mean_loss, logits, sample_indices(N * V, N * V, 0)),
                       kFiniteDifferenceAtol, kFiniteDifferenceRtol));
}

TEST_F(CrossEntropyTest, OutOfRangeTargetIsAProgrammerError) {
  EXPECT_THROW(backend().cross_entropy(zeros(4), zeros(1), device(std::vector<int32_t>{4}), 1, 4,
                                       kIgnore, 1.0f),
               std::logic_error);
}

}  // namespace
}  // namespace molt::kernels::testing
