// Multi-head attention against a naive reference that materialises P = softmax(S) in full.
//
// Covered: the three masks (bidirectional, causal — also with Tk > Tq, the KV-cache
// case — and prefix with per-batch prefix lengths), GPT-2's fused qkv layout (row stride
// 3C, views offset by C and 2C), padded row strides, cross attention (Tq ≠ Tk), T5's
// additive bias [H, Tq, Tk] with dbias summed over the batch, a non-default scale, query
// counts that straddle the kernel's 64-query blocks, and the += contract of backward.
// Tolerances: fp32 vs double reference with D ≤ 16 and Tk ≤ 130: atol/rtol 1e-4 (forward,
// lse), 2e-4 (backward). Finite differences: see kernel_test_support.h.
#include <cmath>
#include <limits>
#include <ostream>
#include <string>

#include "tests/kernels/attention_problem.h"
#include "tests/kernels/kernel_test_support.h"
#include "tests/kernels/reference_ops.h"

namespace molt::kernels::testing {
namespace {

AttentionProblem make_problem(const AttentionCase& c, uint32_t seed) {
  return make_attention_problem(c, seed, [](size_t n, uint32_t s) { return random_normal(n, s); });
}

class AttentionTest : public KernelTest, public ::testing::WithParamInterface<AttentionCase> {
 protected:
  // Device views of q, k, v over one fused buffer or three separate ones.
  struct Views {
    Tensor q, k, v;
  };
  Views views_of(const AttentionProblem& p, Tensor q_or_qkv, Tensor k, Tensor v) {
    if (p.qkv.empty()) return {q_or_qkv, k, v};
    const size_t n = p.qkv.size();
    return {q_or_qkv, q_or_qkv.slice(p.k_offset, n - p.k_offset),
            q_or_qkv.slice(p.v_offset, n - p.v_offset)};
  }
  Views upload_inputs(const AttentionProblem& p) {
    if (!p.qkv.empty()) return views_of(p, device(p.qkv), Tensor{}, Tensor{});
    return {device(p.q), device(p.k), device(p.v)};
  }
  Tensor optional_device(const std::vector<float>& x) { return x.empty() ? Tensor{} : device(x); }
  Tensor optional_device(const std::vector<int32_t>& x) { return x.empty() ? Tensor{} : device(x); }

  struct ForwardResult {
    Tensor out, lse;
  };
  ForwardResult forward(const AttentionProblem& p, const Views& in) {
    const AttentionShape& s = p.shape;
    ForwardResult r{
        device(random_normal(static_cast<size_t>(s.batch) * s.q_tokens * s.heads * s.head_dim, 99)),
        zeros(static_cast<size_t>(s.batch) * s.heads * s.q_tokens)};
    backend().attention_forward(r.out, r.lse, in.q, in.k, in.v, optional_device(p.bias),
                                optional_device(p.prefix), s);
    return r;
  }
};

TEST_P(AttentionTest, ForwardMatchesReferenceOutputAndLogSumExp) {
  const AttentionProblem p = make_problem(GetParam(), 1);
  const ForwardResult r = forward(p, upload_inputs(p));
  const auto ref = reference::attention_forward(p.q, p.k, p.v, p.bias, p.prefix, p.shape);
  EXPECT_TRUE(all_near(host(r.out), ref.out, 1e-4, 1e-4));
  EXPECT_TRUE(all_near(host(r.lse), ref.lse, 1e-4, 1e-4));
}

TEST_P(AttentionTest, BackwardAddsReferenceGradients) {
  const AttentionCase& c = GetParam();
  const AttentionProblem p = make_problem(c, 1);
  const Views in = upload_inputs(p);
  const ForwardResult r = forward(p, in);
  const auto dout = random_normal(host(r.out).size(), 7);
  const auto ref = reference::attention_backward(dout, p.q, p.k, p.v, p.bias, p.prefix, p.shape);
  const std::vector<float> dbias0 =
      c.with_bias ? random_normal(p.bias.size(), 8) : std::vector<float>{};
  Tensor dbias = optional_device(dbias0);
  if (!p.qkv.empty()) {
    // One fused gradient buffer: its q, k and v column groups receive dq, dk and dv.
    const auto dqkv0 = random_normal(p.qkv.size(), 9);
    Tensor dqkv = device(dqkv0);
    const Views d = views_of(p, dqkv, Tensor{}, Tensor{});
    backend().attention_backward(d.q, d.k, d.v, dbias, device(dout), r.out, r.lse, in.q, in.k, in.v,
                                 optional_device(p.bias), optional_device(p.prefix), p.shape);
    std::vector<double> expected = plus(dqkv0, ref.dq);
    for (size_t i = 0; i < ref.dk.size(); ++i) expected[i + p.k_offset] += ref.dk[i];
    for (size_t i = 0; i < ref.dv.size(); ++i) expected[i + p.v_offset] += ref.dv[i];
    EXPECT_TRUE(all_near(host(dqkv), expected, 2e-4, 2e-4));
  } else {
    const auto dq0 = random_normal(p.q.size(), 10), dk0 = random_normal(p.k.size(), 11),
               dv0 = random_normal(p.v.size(), 12);
    Tensor dq = device(dq0), dk = device(dk0), dv = device(dv0);
    backend().attention_backward(dq, dk, dv, dbias, device(dout), r.out, r.lse, in.q, in.k, in.v,
                                 optional_device(p.bias), optional_device(p.prefix), p.shape);
    EXPECT_TRUE(all_near(host(dq), plus(dq0, ref.dq), 2e-4, 2e-4));
    EXPECT_TRUE(all_near(host(dk), plus(dk0, ref.dk), 2e-4, 2e-4));
    EXPECT_TRUE(all_near(host(dv), plus(dv0, ref.dv), 2e-4, 2e-4));
  }
  if (c.with_bias) {
    EXPECT_TRUE(all_near(host(dbias), plus(dbias0, ref.dbias), 2e-4, 2e-4));
  }
}

const AttentionCase kCases[] = {
    // name, B, H, Tq, Tk, D, mask, fused, bias, scale
    {"CausalFusedQkv", 2, 3, 70, 70, 5, AttentionMask::kCausal, true, false, 0.4472136f},
    {"BidirectionalFusedQkv", 2, 2, 67, 67, 4, AttentionMask::kBidirectional, true, false, 0.5f},
    {"PrefixPerBatchLengths", 3, 2, 66, 66, 3, AttentionMask::kPrefix, false, false, 0.7f},
    {"CrossAttentionTqLessThanTk", 2, 3, 9, 130, 6, AttentionMask::kBidirectional, false, false,
     1.0f},
    {"CrossAttentionTqMoreThanTk", 2, 2, 75, 13, 4, AttentionMask::kBidirectional, false, true,
     1.0f},
    {"CausalKvCacheChunk", 2, 2, 5, 69, 8, AttentionMask::kCausal, false, false, 0.35f},
    {"EncoderBiasUnscaled", 3, 4, 65, 65, 6, AttentionMask::kBidirectional, false, true, 1.0f},
    {"DecoderBiasCausal", 2, 3, 33, 33, 16, AttentionMask::kCausal, false, true, 1.0f},
    {"SingleQueryDecodeStep", 2, 2, 1, 40, 8, AttentionMask::kCausal, false, true, 0.25f},
};

INSTANTIATE_TEST_SUITE_P(Layouts, AttentionTest, ::testing::ValuesIn(kCases),
                         [](const auto& info) { return info.param.name; });

using AttentionContractTest = AttentionTest;

TEST_F(AttentionContractTest, BackwardMatchesFiniteDifferencesForEveryInput) {
  for (const AttentionCase& c :
       {AttentionCase{"prefix_bias", 2, 2, 4, 4, 3, AttentionMask::kPrefix, false, true, 0.6f},
        AttentionCase{"kv_cache", 1, 2, 2, 5, 3, AttentionMask::kCausal, false, true, 0.8f}}) {
    SCOPED_TRACE(c.name);
    const AttentionProblem p = make_problem(c, 3);
    const auto w =
        random_normal(static_cast<size_t>(c.batch) * c.q_tokens * c.heads * c.head_dim, 4);
    auto loss = [&](const AttentionProblem& varied) {
      return weighted_sum(host(forward(varied, upload_inputs(varied)).out), w);
    };
    const Views in = upload_inputs(p);
    const ForwardResult r = forward(p, in);
    Tensor dq = zeros(p.q.size()), dk = zeros(p.k.size()), dv = zeros(p.v.size()),
           dbias = zeros(p.bias.size());
    backend().attention_backward(dq, dk, dv, dbias, device(w), r.out, r.lse, in.q, in.k, in.v,
                                 device(p.bias), optional_device(p.prefix), p.shape);
    auto fd = [&](std::vector<float> AttentionProblem::*member) {
      return finite_differences(
          [&](const std::vector<float>& x) {
            AttentionProblem varied = p;
            varied.*member = x;
            return loss(varied);
          },
          p.*member, sample_indices((p.*member).size(), 10000, 0));
    };
    EXPECT_TRUE(
        all_near(host(dq), fd(&AttentionProblem::q), kFiniteDifferenceAtol, kFiniteDifferenceRtol));
    EXPECT_TRUE(
        all_near(host(dk), fd(&AttentionProblem::k), kFiniteDifferenceAtol, kFiniteDifferenceRtol));
    EXPECT_TRUE(
        all_near(host(dv), fd(&AttentionProblem::v), kFiniteDifferenceAtol, kFiniteDifferenceRtol));
    EXPECT_TRUE(all_near(host(dbias), fd(&AttentionProblem::bias), kFiniteDifferenceAtol,
                         kFiniteDifferenceRtol));
  }
}

TEST_F(AttentionContractTest, DecodingStepEqualsLastRowOfFullCausalAttention) {
  // Full causal attention over T tokens, then one query (the last token) over the same T
  // keys: the KV-cache step must reproduce the full computation's last row exactly enough.
  const int B = 2, H = 3, T = 77, D = 8, HD = H * D;
  const AttentionCase full_case{"full", B, H, T, T, D, AttentionMask::kCausal, false, false, 0.3f};
  const AttentionProblem full = make_problem(full_case, 5);
  const ForwardResult full_result = forward(full, upload_inputs(full));
  const auto full_out = host(full_result.out);

  AttentionProblem step = full;
  step.shape.q_tokens = 1;
  step.q.clear();
  for (int b = 0; b < B; ++b) {
    const auto row = full.q.begin() + static_cast<long>(b * T + T - 1) * full.shape.q_row_stride;
    step.q.insert(step.q.end(), row, row + full.shape.q_row_stride);
  }
  const ForwardResult step_result = forward(step, upload_inputs(step));
  const auto step_out = host(step_result.out);
  std::vector<double> last_rows;
  for (int b = 0; b < B; ++b)
    for (int c = 0; c < HD; ++c) last_rows.push_back(full_out[(b * T + T - 1) * HD + c]);
  EXPECT_TRUE(all_near(step_out, last_rows, 1e-6, 1e-5));
}

TEST_F(AttentionContractTest, BackwardTwiceGivesTwiceTheGradient) {
  const AttentionCase c{"twice", 2, 2, 70, 70, 4, AttentionMask::kCausal, true, false, 0.5f};
  const AttentionProblem p = make_problem(c, 6);
  const Views in = upload_inputs(p);
  const ForwardResult r = forward(p, in);
  const auto dout = random_normal(host(r.out).size(), 7);
  Tensor dqkv = zeros(p.qkv.size());
  const Views d = views_of(p, dqkv, Tensor{}, Tensor{});
  Tensor once = zeros(p.qkv.size());
  const Views d1 = views_of(p, once, Tensor{}, Tensor{});
  backend().attention_backward(d1.q, d1.k, d1.v, Tensor{}, device(dout), r.out, r.lse, in.q, in.k,
                               in.v, Tensor{}, Tensor{}, p.shape);
  for (int call = 0; call < 2; ++call)
    backend().attention_backward(d.q, d.k, d.v, Tensor{}, device(dout), r.out, r.lse, in.q, in.k,
                                 in.v, Tensor{}, Tensor{}, p.shape);
  EXPECT_TRUE(all_near(host(dqkv), times(to_double(host(once)), 2.0), 1e-6, 1e-6));
  double norm = 0.0;
  for (float x : host(once)) norm += std::abs(x);
  EXPECT_GT(norm, 1.0);
}

TEST_F(AttentionContractTest, QueriesThatSeeNoKeyGiveZeroOutputAndNoGradient) {
  // Causal with Tq = 3 > Tk = 1: query i sees keys j ≤ i − 2, so only the last query
  // sees anything (and sees exactly v[0]).
  const AttentionCase c{"empty_rows", 1, 1, 3, 1, 2, AttentionMask::kCausal, false, false, 1.0f};
  const AttentionProblem p = make_problem(c, 8);
  const Views in = upload_inputs(p);
  const ForwardResult r = forward(p, in);
  const auto out = host(r.out);
  EXPECT_TRUE(all_near(out, {0.0, 0.0, 0.0, 0.0, p.v[0], p.v[1]}, 1e-6, 1e-6));
  const auto lse = host(r.lse);
  EXPECT_TRUE(std::isinf(lse[0]) && lse[0] < 0);
  Tensor dq = zeros(p.q.size());
  backend().attention_backward(dq, Tensor{}, Tensor{}, Tensor{}, device(random_normal(6, 9)), r.out,
                               r.lse, in.q, in.k, in.v, Tensor{}, Tensor{}, p.shape);
  for (float x : host(dq)) EXPECT_TRUE(std::isfinite(x));
}

}  // namespace
}  // namespace molt::kernels::testing
