// Linear layer: out = in·Wᵀ + b (W is [out, in]) and its backward (din written or added to,
// parameter gradients added to).
// Tolerances: fp32 GEMM vs double reference, K ≤ 300 terms of O(1) products:
// atol 1e-4, rtol 1e-4. Finite differences: see kernel_test_support.h.
#include <cmath>
#include <stdexcept>
#include <vector>

#include "tests/kernels/kernel_test_support.h"
#include "tests/kernels/reference_ops.h"

namespace molt::kernels::testing {
namespace {

struct MatmulSize {
  int M, K, N;
};

class MatmulTest : public KernelTest, public ::testing::WithParamInterface<MatmulSize> {};

TEST_P(MatmulTest, ForwardMatchesReferenceWithAndWithoutBias) {
  const auto [M, K, N] = GetParam();
  const auto x = random_normal(M * K, 1), w = random_normal(N * K, 2), b = random_normal(N, 3);
  Tensor out = device(random_normal(M * N, 9));  // forward must overwrite, not add
  backend().matmul_forward(out, device(x), device(w), device(b), M, K, N);
  EXPECT_TRUE(all_near(host(out), reference::matmul_forward(x, w, b, M, K, N), 1e-4, 1e-4));
  backend().matmul_forward(out, device(x), device(w), Tensor{}, M, K, N);
  EXPECT_TRUE(all_near(host(out), reference::matmul_forward(x, w, {}, M, K, N), 1e-4, 1e-4));
}

TEST_P(MatmulTest, BackwardAddsReferenceGradientsToExistingContents) {
  const auto [M, K, N] = GetParam();
  const auto x = random_normal(M * K, 1), w = random_normal(N * K, 2), dy = random_normal(M * N, 4);
  const auto dx0 = random_normal(M * K, 5), dw0 = random_normal(N * K, 6), db0 = random_normal(N, 7);
  Tensor dx = device(dx0), dw = device(dw0), db = device(db0);
  backend().matmul_backward(dx, dw, db, device(dy), device(x), device(w), M, K, N, Din::kAdd);
  const reference::LinearGrads g = reference::matmul_backward(dy, x, w, M, K, N);
  EXPECT_TRUE(all_near(host(dx), plus(dx0, g.dx), 1e-4, 1e-4));
  EXPECT_TRUE(all_near(host(dw), plus(dw0, g.dw), 1e-4, 1e-4));
  EXPECT_TRUE(all_near(host(db), plus(db0, g.db), 1e-4, 1e-4));
}

// Din::kWrite: din is written whatever it held (NaN here), while the parameter gradients
// still add to theirs.
TEST_P(MatmulTest, BackwardWritesDinAndAddsParameterGradients) {
  const auto [M, K, N] = GetParam();
  const auto x = random_normal(M * K, 1), w = random_normal(N * K, 2), dy = random_normal(M * N, 4);
  const auto dw0 = random_normal(N * K, 6), db0 = random_normal(N, 7);
  Tensor dx = device(std::vector<float>(M * K, std::nanf(""))), dw = device(dw0), db = device(db0);
  backend().matmul_backward(dx, dw, db, device(dy), device(x), device(w), M, K, N, Din::kWrite);
  const reference::LinearGrads g = reference::matmul_backward(dy, x, w, M, K, N);
  EXPECT_TRUE(all_near(host(dx), g.dx, 1e-4, 1e-4));
  EXPECT_TRUE(all_near(host(dw), plus(dw0, g.dw), 1e-4, 1e-4));
  EXPECT_TRUE(all_near(host(db), plus(db0, g.db), 1e-4, 1e-4));
}

INSTANTIATE_TEST_SUITE_P(OddAndLargeSizes, MatmulTest,
                         ::testing::Values(MatmulSize{7, 13, 5}, MatmulSize{1, 1, 1},
                                           MatmulSize{1, 64, 257}, MatmulSize{131, 67, 3},
                                           MatmulSize{300, 129, 97}, MatmulSize{200, 64, 150},
                                           MatmulSize{3, 256, 1000}));

using MatmulContractTest = KernelTest;

TEST_F(MatmulContractTest, BackwardTwiceGivesTwiceTheGradient) {
  const int M = 9, K = 11, N = 6;
  const auto x = random_normal(M * K, 1), w = random_normal(N * K, 2), dy = random_normal(M * N, 3);
  Tensor dx = zeros(M * K), dw = zeros(N * K), db = zeros(N);
  for (int call = 0; call < 2; ++call)
    backend().matmul_backward(dx, dw, db, device(dy), device(x), device(w), M, K, N, Din::kAdd);
  const reference::LinearGrads g = reference::matmul_backward(dy, x, w, M, K, N);
  EXPECT_TRUE(all_near(host(dx), times(g.dx, 2), 1e-4, 1e-4));
  EXPECT_TRUE(all_near(host(dw), times(g.dw, 2), 1e-4, 1e-4));
  EXPECT_TRUE(all_near(host(db), times(g.db, 2), 1e-4, 1e-4));
}

TEST_F(MatmulContractTest, EmptyGradientOutputsAreSkipped) {
  const int M = 4, K = 3, N = 2;
  const auto x = random_normal(M * K, 1), w = random_normal(N * K, 2), dy = random_normal(M * N, 3);
  Tensor dw = zeros(N * K);
  backend().matmul_backward(Tensor{}, dw, Tensor{}, device(dy), device(x), device(w), M, K, N,
                            Din::kAdd);
  EXPECT_TRUE(all_near(host(dw), reference::matmul_backward(dy, x, w, M, K, N).dw, 1e-5, 1e-5));
}

TEST_F(MatmulContractTest, BackwardMatchesFiniteDifferencesOfForward) {
  const int M = 5, K = 7, N = 4;
  const auto x = random_normal(M * K, 1), w = random_normal(N * K, 2), b = random_normal(N, 3);
  const auto weights = random_normal(M * N, 4);  // L = Σ weights ⊙ out
  auto loss = [&](const std::vector<float>& xs, const std::vector<float>& ws,
                  const std::vector<float>& bs) {
    Tensor out = zeros(M * N);
    backend().matmul_forward(out, device(xs), device(ws), device(bs), M, K, N);
    return weighted_sum(host(out), weights);
  };
  Tensor dx = zeros(M * K), dw = zeros(N * K), db = zeros(N);
  backend().matmul_backward(dx, dw, db, device(weights), device(x), device(w), M, K, N, Din::kAdd);
  const auto all_x = sample_indices(x.size(), 1000, 0), all_w = sample_indices(w.size(), 1000, 0),
             all_b = sample_indices(b.size(), 1000, 0);
  EXPECT_TRUE(all_near(host(dx),
                       finite_differences([&](auto& v) { return loss(v, w, b); }, x, all_x),
                       kFiniteDifferenceAtol, kFiniteDifferenceRtol));
  EXPECT_TRUE(all_near(host(dw),
                       finite_differences([&](auto& v) { return loss(x, v, b); }, w, all_w),
                       kFiniteDifferenceAtol, kFiniteDifferenceRtol));
  EXPECT_TRUE(all_near(host(db),
                       finite_differences([&](auto& v) { return loss(x, w, v); }, b, all_b),
                       kFiniteDifferenceAtol, kFiniteDifferenceRtol));
}

TEST_F(MatmulContractTest, TooSmallBuffersAreProgrammerErrors) {
  EXPECT_THROW(backend().matmul_forward(zeros(6), zeros(6), zeros(5), Tensor{}, 2, 3, 3),
               std::logic_error);
  EXPECT_THROW(backend().matmul_forward(zeros(6), zeros(6), zeros(9), zeros(3, DType::kI32), 2,
                                        3, 3),
               std::logic_error);
}

}  // namespace
}  // namespace molt::kernels::testing
