// AdamW against a scalar double-precision reference over several steps, with weight
// decay, gradient scaling and bias correction. Tolerance: 1e-5 relative on params,
// 1e-5 on the moments after 5 fp32 steps.
#include "tests/kernels/kernel_test_support.h"
#include "tests/kernels/reference_ops.h"

namespace molt::kernels::testing {
namespace {

using AdamWTest = KernelTest;

TEST_F(AdamWTest, FiveStepsMatchScalarReference) {
  const size_t n = 20011;  // odd, above the threading threshold
  const auto p0 = random_normal(n, 1);
  Tensor params = device(p0), grads = zeros(n), m = zeros(n), v = zeros(n);
  std::vector<reference::AdamWState> ref(n);
  for (size_t i = 0; i < n; ++i) ref[i] = {p0[i], 0.0, 0.0};
  AdamWStep step;
  step.lr = 1e-2f;
  step.weight_decay = 0.1f;
  step.grad_scale = 0.5f;
  for (int t = 1; t <= 5; ++t) {
    step.t = t;
    const auto g = random_normal(n, 10 + t);
    set(grads, g);
    backend().adamw(params, grads, m, v, Tensor{}, step);
    for (size_t i = 0; i < n; ++i) ref[i] = reference::adamw_step(ref[i], g[i], step);
  }
  std::vector<double> ep(n), em(n), ev(n);
  for (size_t i = 0; i < n; ++i) {
    ep[i] = ref[i].p;
    em[i] = ref[i].m;
    ev[i] = ref[i].v;
  }
  EXPECT_TRUE(all_near(host(params), ep, 1e-6, 1e-5));
  EXPECT_TRUE(all_near(host(m), em, 1e-6, 1e-5));
  EXPECT_TRUE(all_near(host(v), ev, 1e-7, 1e-5));
}

TEST_F(AdamWTest, FirstStepMovesEachParamByAboutLrTimesSign) {
  // At t = 1 the bias-corrected ratio m̂/√v̂ is g/|g| = ±1, so p moves by lr (no decay).
  const std::vector<float> p0 = {1.0f, -2.0f, 0.5f}, g = {0.3f, -7.0f, 1e-3f};
  Tensor params = device(p0), m = zeros(3), v = zeros(3);
  AdamWStep step;
  step.lr = 0.1f;
  backend().adamw(params, device(g), m, v, Tensor{}, step);
  EXPECT_TRUE(all_near(host(params), {0.9, -1.9, 0.4}, 1e-5, 0.0));
}

TEST_F(AdamWTest, DistinctComputeParamsReceiveTheUpdatedValues) {
  const auto p0 = random_normal(7, 1), g = random_normal(7, 2);
  Tensor params = device(p0), m = zeros(7), v = zeros(7), compute = zeros(7);
  Tensor compute_bf16 = zeros(7, DType::kBF16), widened = zeros(7);
  AdamWStep step;
  step.lr = 0.01f;
  backend().adamw(params, device(g), m, v, compute, step);
  EXPECT_EQ(host(compute), host(params));
  step.t = 2;
  backend().adamw(params, device(g), m, v, compute_bf16, step);
  backend().copy(widened, compute_bf16);
  EXPECT_TRUE(all_near(host(widened), to_double(host(params)), 0.0, 1.0 / 256));
}

}  // namespace
}  // namespace molt::kernels::testing
