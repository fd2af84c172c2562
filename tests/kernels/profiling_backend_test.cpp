// ProfilingBackend: results, names and memory are the inner backend's, unchanged; every call
// is counted under its op's key (with the shape for matmul and attention) and its FLOPs;
// reset() and set_enabled(false) leave nothing recorded. No time is asserted beyond ≥ 0.
#include "kernels/profiling_backend.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "tests/kernels/kernel_test_support.h"

namespace molt::kernels::testing {
namespace {

class ProfilingBackendTest : public KernelTest {
 protected:
  ProfilingBackendTest() : KernelTest(std::make_unique<ProfilingBackend>(make_cpu_backend())) {}

  ProfilingBackend& profiler() { return static_cast<ProfilingBackend&>(backend()); }
  Backend& inner() { return profiler().inner(); }
  // The row under `key`, or a failure naming the keys there are.
  OpProfile row(const std::string& key) {
    std::string keys;
    for (const OpProfile& r : profiler().report()) {
      if (r.key == key) return r;
      keys += " '" + r.key + "'";
    }
    ADD_FAILURE() << "no row '" << key << "' among" << keys;
    return {};
  }
};

TEST_F(ProfilingBackendTest, MatmulThroughTheWrapperEqualsTheInnerBackends) {
  const int M = 7, K = 13, N = 5;
  const auto x = random_normal(M * K, 1), w = random_normal(N * K, 2), b = random_normal(N, 3);
  Tensor in = device(x), weight = device(w), bias = device(b);
  Tensor want = zeros(M * N), out = zeros(M * N);
  inner().matmul_forward(want, in, weight, bias, M, K, N);
  profiler().matmul_forward(out, in, weight, bias, M, K, N);
  EXPECT_EQ(host(out), host(want));  // the same code on the same inputs: bit for bit
}

TEST_F(ProfilingBackendTest, CountsCallsAndFlopsUnderKeysWithShapes) {
  const int M = 6, K = 4, N = 3;
  Tensor x = device(random_normal(M * K, 1)), w = device(random_normal(N * K, 2));
  Tensor y = zeros(M * N), dx = zeros(M * K);
  profiler().matmul_forward(y, x, w, Tensor{}, M, K, N);
  profiler().matmul_forward(y, x, w, Tensor{}, M, K, N);
  profiler().matmul_backward(dx, Tensor{}, Tensor{}, y, x, w, M, K, N, Din::kAdd);  // din only
  profiler().fill(y, 1.0f);

  const OpProfile forward = row("matmul_forward 6x4x3");
  EXPECT_EQ(forward.calls, 2);
  EXPECT_EQ(forward.flops, 2 * 2.0 * M * K * N);
  EXPECT_GE(forward.seconds, 0.0);
  const OpProfile backward = row("matmul_backward 6x4x3");
  EXPECT_EQ(backward.calls, 1);
  EXPECT_EQ(backward.flops, 2.0 * M * K * N);  // one product: dweight was not asked for
  EXPECT_EQ(row("fill").calls, 1);
  EXPECT_FALSE(row("fill").flops.has_value());
  EXPECT_EQ(row("upload").calls, 2);  // x and w; zeros() only allocates

  const std::vector<OpProfile> rows = profiler().report();
  for (size_t i = 1; i < rows.size(); ++i) EXPECT_GE(rows[i - 1].seconds, rows[i].seconds);
}

TEST_F(ProfilingBackendTest, AttentionKeyNamesShapeAndMaskAndCountsTheFullSquare) {
  AttentionShape s;
  s.batch = 2, s.heads = 3, s.q_tokens = 4, s.kv_tokens = 4, s.head_dim = 8;
  s.q_row_stride = s.kv_row_stride = s.heads * s.head_dim;
  s.mask = AttentionMask::kCausal;
  const size_t n = size_t(s.batch) * s.q_tokens * s.heads * s.head_dim;
  Tensor q = device(random_normal(n, 1)), k = device(random_normal(n, 2)),
         v = device(random_normal(n, 3)), out = zeros(n),
         lse = zeros(size_t(s.batch) * s.heads * s.q_tokens);
  profiler().attention_forward(out, lse, q, k, v, Tensor{}, Tensor{}, s);
  Tensor dq = zeros(n), dk = zeros(n), dv = zeros(n);
  profiler().attention_backward(dq, dk, dv, Tensor{}, out, out, lse, q, k, v, Tensor{}, Tensor{},
                                s);

  const double forward_flops = 4.0 * 2 * 3 * 4 * 4 * 8;  // 4·B·H·Tq·Tk·D
  EXPECT_EQ(row("attention_forward B2 H3 Tq4 Tk4 D8 causal").flops, forward_flops);
  EXPECT_EQ(row("attention_backward B2 H3 Tq4 Tk4 D8 causal").flops, 2 * forward_flops);
}

TEST_F(ProfilingBackendTest, MemoryUsageIsTheInnerBackends) {
  Tensor a = profiler().allocate(DType::kF32, 1000);
  Tensor b = inner().allocate(DType::kI32, 300);  // behind the wrapper's back
  Tensor c = profiler().allocate(DType::kF32, 50);
  profiler().free(a);
  EXPECT_EQ(profiler().memory_usage().current_bytes, inner().memory_usage().current_bytes);
  EXPECT_EQ(profiler().memory_usage().peak_bytes, inner().memory_usage().peak_bytes);
  EXPECT_EQ(profiler().memory_usage().current_bytes, 4u * 300 + 4u * 50);
  EXPECT_EQ(profiler().memory_usage().peak_bytes, 4u * 1000 + 4u * 300 + 4u * 50);
  profiler().reset_peak_memory();
  EXPECT_EQ(inner().memory_usage().peak_bytes, 4u * 300 + 4u * 50);
  inner().free(b);
  profiler().free(c);
  EXPECT_EQ(profiler().memory_usage().current_bytes, 0u);
}

TEST_F(ProfilingBackendTest, ForwardsTheInnerBackendsIdentity) {
  EXPECT_EQ(profiler().name(), inner().name());
  EXPECT_EQ(profiler().compute_dtype(), inner().compute_dtype());
  EXPECT_EQ(profiler().cuda_device(), inner().cuda_device());
  EXPECT_EQ(profiler().device_memory_free(), inner().device_memory_free());
  EXPECT_EQ(profiler().stream_handle(), inner().stream_handle());
}

TEST_F(ProfilingBackendTest, ResetAndDisabledLeaveNothingRecorded) {
  Tensor x = device(std::vector<float>{1.0f, 2.0f, 3.0f});
  EXPECT_DOUBLE_EQ(profiler().sum_of_squares(x), 14.0);
  EXPECT_EQ(row("sum_of_squares").calls, 1);
  profiler().reset();
  EXPECT_TRUE(profiler().report().empty());

  profiler().set_enabled(false);
  profiler().scale(x, 2.0f);  // still runs
  EXPECT_DOUBLE_EQ(profiler().sum_of_squares(x), 56.0);
  EXPECT_EQ(host(x), (std::vector<float>{2.0f, 4.0f, 6.0f}));
  EXPECT_TRUE(profiler().report().empty());
}

}  // namespace
}  // namespace molt::kernels::testing
