// LayerNorm and RMSNorm: forward statistics and outputs, accumulating backward.
// Tolerances: fp32 vs double reference over C ≤ 200: atol/rtol 1e-4 (forward) and
// 2e-4 (backward, which subtracts nearly equal row means).
#include "tests/kernels/kernel_test_support.h"
#include "tests/kernels/reference_ops.h"

namespace molt::kernels::testing {
namespace {

struct NormSize {
  int N, C;
};

class NormsTest : public KernelTest, public ::testing::WithParamInterface<NormSize> {};

TEST_P(NormsTest, LayerNormForwardMatchesReferenceAndSavesMeanRstd) {
  const auto [N, C] = GetParam();
  auto x = random_normal(N * C, 1, 2.0f);
  for (int n = 0; n < N; ++n) x[n * C] += 3.0f;  // a non-zero row mean
  const auto w = random_normal(C, 2), b = random_normal(C, 3);
  Tensor out = zeros(N * C), mean = zeros(N), rstd = zeros(N);
  backend().layernorm_forward(out, mean, rstd, device(x), device(w), device(b), N, C, 1e-5f);
  const auto ref = reference::layernorm_forward(x, w, b, N, C, 1e-5);
  EXPECT_TRUE(all_near(host(out), ref.out, 1e-4, 1e-4));
  EXPECT_TRUE(all_near(host(mean), ref.mean, 1e-5, 1e-5));
  EXPECT_TRUE(all_near(host(rstd), ref.rstd, 1e-5, 1e-5));
}

TEST_P(NormsTest, LayerNormBackwardAddsReferenceGradients) {
  const auto [N, C] = GetParam();
  const auto x = random_normal(N * C, 1, 2.0f), w = random_normal(C, 2), dy = random_normal(N * C, 4);
  Tensor out = zeros(N * C), mean = zeros(N), rstd = zeros(N);
  backend().layernorm_forward(out, mean, rstd, device(x), device(w), Tensor{}, N, C, 1e-5f);
  const auto dx0 = random_normal(N * C, 5), dw0 = random_normal(C, 6), db0 = random_normal(C, 7);
  Tensor dx = device(dx0), dw = device(dw0), db = device(db0);
  backend().layernorm_backward(dx, dw, db, device(dy), device(x), device(w), mean, rstd, N, C);
  const auto g = reference::norm_backward(dy, x, w, N, C, 1e-5, /*centered=*/true);
  EXPECT_TRUE(all_near(host(dx), plus(dx0, g.dx), 2e-4, 2e-4));
  EXPECT_TRUE(all_near(host(dw), plus(dw0, g.dw), 2e-4, 2e-4));
  EXPECT_TRUE(all_near(host(db), plus(db0, g.db), 2e-4, 2e-4));
}

TEST_P(NormsTest, RmsNormForwardMatchesReference) {
  const auto [N, C] = GetParam();
  const auto x = random_normal(N * C, 1, 2.0f), w = random_normal(C, 2);
  Tensor out = zeros(N * C), rstd = zeros(N);
  backend().rmsnorm_forward(out, rstd, device(x), device(w), N, C, 1e-6f);
  const auto ref = reference::rmsnorm_forward(x, w, N, C, 1e-6);
  EXPECT_TRUE(all_near(host(out), ref.out, 1e-4, 1e-4));
  EXPECT_TRUE(all_near(host(rstd), ref.rstd, 1e-5, 1e-5));
}

TEST_P(NormsTest, RmsNormBackwardAddsReferenceGradients) {
  const auto [N, C] = GetParam();
  const auto x = random_normal(N * C, 1, 2.0f), w = random_normal(C, 2), dy = random_normal(N * C, 4);
  Tensor out = zeros(N * C), rstd = zeros(N);
  backend().rmsnorm_forward(out, rstd, device(x), device(w), N, C, 1e-6f);
  const auto dx0 = random_normal(N * C, 5), dw0 = random_normal(C, 6);
  Tensor dx = device(dx0), dw = device(dw0);
  backend().rmsnorm_backward(dx, dw, device(dy), device(x), device(w), rstd, N, C);
  const auto g = reference::norm_backward(dy, x, w, N, C, 1e-6, /*centered=*/false);
  EXPECT_TRUE(all_near(host(dx), plus(dx0, g.dx), 2e-4, 2e-4));
  EXPECT_TRUE(all_near(host(dw), plus(dw0, g.dw), 2e-4, 2e-4));
}

// 7×13 is tiny and odd; 300×97 crosses the threading threshold (per-thread dw/db partials).
INSTANTIATE_TEST_SUITE_P(Sizes, NormsTest,
                         ::testing::Values(NormSize{7, 13}, NormSize{1, 1}, NormSize{300, 97},
                                           NormSize{33, 200}));

using NormsContractTest = KernelTest;

TEST_F(NormsContractTest, LayerNormBackwardMatchesFiniteDifferences) {
  const int N = 4, C = 9;
  const auto x = random_normal(N * C, 1), w = random_normal(C, 2), b = random_normal(C, 3);
  const auto weights = random_normal(N * C, 4);
  auto loss = [&](const std::vector<float>& xs, const std::vector<float>& ws,
                  const std::vector<float>& bs) {
    Tensor out = zeros(N * C), mean = zeros(N), rstd = zeros(N);
    backend().layernorm_forward(out, mean, rstd, device(xs), device(ws), device(bs), N, C, 1e-5f);
    return weighted_sum(host(out), weights);
  };
  Tensor out = zeros(N * C), mean = zeros(N), rstd = zeros(N);
  backend().layernorm_forward(out, mean, rstd, device(x), device(w), device(b), N, C, 1e-5f);
  Tensor dx = zeros(N * C), dw = zeros(C), db = zeros(C);
  backend().layernorm_backward(dx, dw, db, device(weights), device(x), device(w), mean, rstd, N, C);
  EXPECT_TRUE(all_near(host(dx),
                       finite_differences([&](auto& v) { return loss(v, w, b); }, x,
                                          sample_indices(x.size(), 100, 0)),
                       kFiniteDifferenceAtol, kFiniteDifferenceRtol));
  EXPECT_TRUE(all_near(host(dw),
                       finite_differences([&](auto& v) { return loss(x, v, b); }, w,
                                          sample_indices(w.size(), 100, 0)),
                       kFiniteDifferenceAtol, kFiniteDifferenceRtol));
  EXPECT_TRUE(all_near(host(db),
                       finite_differences([&](auto& v) { return loss(x, w, v); }, b,
                                          sample_indices(b.size(), 100, 0)),
                       kFiniteDifferenceAtol, kFiniteDifferenceRtol));
}

TEST_F(NormsContractTest, RmsNormBackwardMatchesFiniteDifferences) {
  const int N = 4, C = 9;
  const auto x = random_normal(N * C, 1), w = random_normal(C, 2);
  const auto weights = random_normal(N * C, 4);
  auto loss = [&](const std::vector<float>& xs, const std::vector<float>& ws) {
    Tensor out = zeros(N * C), rstd = zeros(N);
    backend().rmsnorm_forward(out, rstd, device(xs), device(ws), N, C, 1e-6f);
    return weighted_sum(host(out), weights);
  };
  Tensor out = zeros(N * C), rstd = zeros(N);
  backend().rmsnorm_forward(out, rstd, device(x), device(w), N, C, 1e-6f);
  Tensor dx = zeros(N * C), dw = zeros(C);
  backend().rmsnorm_backward(dx, dw, device(weights), device(x), device(w), rstd, N, C);
  EXPECT_TRUE(all_near(host(dx),
                       finite_differences([&](auto& v) { return loss(v, w); }, x,
                                          sample_indices(x.size(), 100, 0)),
                       kFiniteDifferenceAtol, kFiniteDifferenceRtol));
  EXPECT_TRUE(all_near(host(dw),
                       finite_differences([&](auto& v) { return loss(x, v); }, w,
                                          sample_indices(w.size(), 100, 0)),
                       kFiniteDifferenceAtol, kFiniteDifferenceRtol));
}

TEST_F(NormsContractTest, BackwardTwiceGivesTwiceTheGradient) {
  const int N = 5, C = 11;
  const auto x = random_normal(N * C, 1), w = random_normal(C, 2), dy = random_normal(N * C, 3);
  Tensor out = zeros(N * C), mean = zeros(N), rstd = zeros(N);
  backend().layernorm_forward(out, mean, rstd, device(x), device(w), Tensor{}, N, C, 1e-5f);
  Tensor dx = zeros(N * C), dw = zeros(C), db = zeros(C);
  for (int call = 0; call < 2; ++call)
    backend().layernorm_backward(dx, dw, db, device(dy), device(x), device(w), mean, rstd, N, C);
  const auto g = reference::norm_backward(dy, x, w, N, C, 1e-5, true);
  EXPECT_TRUE(all_near(host(dx), times(g.dx, 2), 2e-4, 2e-4));
  EXPECT_TRUE(all_near(host(dw), times(g.dw, 2), 2e-4, 2e-4));
  EXPECT_TRUE(all_near(host(db), times(g.db, 2), 2e-4, 2e-4));
}

}  // namespace
}  // namespace molt::kernels::testing
