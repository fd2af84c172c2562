// GELU (tanh form) and gated GELU. Tolerances: elementwise fp32 vs double, atol/rtol 1e-5.
#include "tests/kernels/kernel_test_support.h"
#include "tests/kernels/reference_ops.h"

namespace molt::kernels::testing {
namespace {

using ActivationsTest = KernelTest;

constexpr size_t kCount = 40013;  // odd, above the threading threshold

TEST_F(ActivationsTest, GeluForwardMatchesTanhFormula) {
  const auto x = random_normal(kCount, 1, 3.0f);
  Tensor out = zeros(kCount);
  backend().gelu_forward(out, device(x));
  std::vector<double> expected(kCount);
  for (size_t i = 0; i < kCount; ++i) expected[i] = reference::gelu(x[i]);
  EXPECT_TRUE(all_near(host(out), expected, 1e-5, 1e-5));
}

TEST_F(ActivationsTest, GeluBackwardAddsDoutTimesDerivative) {
  const auto x = random_normal(kCount, 1, 3.0f), dy = random_normal(kCount, 2),
             dx0 = random_normal(kCount, 3);
  Tensor dx = device(dx0);
  backend().gelu_backward(dx, device(dy), device(x));
  std::vector<double> expected(kCount);
  for (size_t i = 0; i < kCount; ++i) expected[i] = dx0[i] + dy[i] * reference::gelu_derivative(x[i]);
  EXPECT_TRUE(all_near(host(dx), expected, 1e-5, 1e-5));
}

TEST_F(ActivationsTest, GatedGeluForwardAndBackwardMatchReference) {
  const auto gate = random_normal(kCount, 1, 2.0f), lin = random_normal(kCount, 2),
             dy = random_normal(kCount, 3), dg0 = random_normal(kCount, 4),
             dl0 = random_normal(kCount, 5);
  Tensor out = zeros(kCount), dg = device(dg0), dl = device(dl0);
  backend().gated_gelu_forward(out, device(gate), device(lin));
  backend().gated_gelu_backward(dg, dl, device(dy), device(gate), device(lin));
  std::vector<double> y(kCount), dgate(kCount), dlin(kCount);
  for (size_t i = 0; i < kCount; ++i) {
    y[i] = reference::gelu(gate[i]) * lin[i];
    dgate[i] = dg0[i] + dy[i] * lin[i] * reference::gelu_derivative(gate[i]);
    dlin[i] = dl0[i] + dy[i] * reference::gelu(gate[i]);
  }
  EXPECT_TRUE(all_near(host(out), y, 1e-5, 1e-5));
  EXPECT_TRUE(all_near(host(dg), dgate, 1e-5, 1e-5));
  EXPECT_TRUE(all_near(host(dl), dlin, 1e-5, 1e-5));
}

TEST_F(ActivationsTest, BackwardsMatchFiniteDifferences) {
  const size_t n = 23;
  const auto x = random_normal(n, 1, 2.0f), lin = random_normal(n, 2), w = random_normal(n, 3);
  auto gelu_loss = [&](const std::vector<float>& xs) {
    Tensor out = zeros(n);
    backend().gelu_forward(out, device(xs));
    return weighted_sum(host(out), w);
  };
  auto gated_loss = [&](const std::vector<float>& g, const std::vector<float>& l) {
    Tensor out = zeros(n);
    backend().gated_gelu_forward(out, device(g), device(l));
    return weighted_sum(host(out), w);
  };
  const auto all = sample_indices(n, n, 0);
  Tensor dx = zeros(n), dg = zeros(n), dl = zeros(n);
  backend().gelu_backward(dx, device(w), device(x));
  backend().gated_gelu_backward(dg, dl, device(w), device(x), device(lin));
  EXPECT_TRUE(all_near(host(dx), finite_differences(gelu_loss, x, all), kFiniteDifferenceAtol,
                       kFiniteDifferenceRtol));
  EXPECT_TRUE(all_near(host(dg),
                       finite_differences([&](auto& v) { return gated_loss(v, lin); }, x, all),
                       kFiniteDifferenceAtol, kFiniteDifferenceRtol));
  EXPECT_TRUE(all_near(host(dl),
                       finite_differences([&](auto& v) { return gated_loss(x, v); }, lin, all),
                       kFiniteDifferenceAtol, kFiniteDifferenceRtol));
}

TEST_F(ActivationsTest, BackwardTwiceGivesTwiceTheGradient) {
  const size_t n = 17;
  const auto x = random_normal(n, 1), dy = random_normal(n, 2);
  Tensor dx = zeros(n);
  backend().gelu_backward(dx, device(dy), device(x));
  backend().gelu_backward(dx, device(dy), device(x));
  std::vector<double> expected(n);
  for (size_t i = 0; i < n; ++i) expected[i] = 2.0 * dy[i] * reference::gelu_derivative(x[i]);
  EXPECT_TRUE(all_near(host(dx), expected, 1e-5, 1e-5));
}

}  // namespace
}  // namespace molt::kernels::testing
