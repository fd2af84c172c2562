#include "kernels/profiling_backend.h"

#include <algorithm>
#include <chrono>
#include <utility>

namespace molt::kernels {
namespace {

// What one call counts as: its key in the report, and its FLOPs where they are defined.
struct OpCall {
  std::string key;
  std::optional<double> flops;
};

// describe() for an op counted by its name alone.
auto named(const char* op_name) {
  return [op_name] { return OpCall{op_name, std::nullopt}; };
}

std::string matmul_key(const char* op_name, int M, int K, int N) {
  return std::string(op_name) + " " + std::to_string(M) + "x" + std::to_string(K) + "x" +
         std::to_string(N);
}

const char* mask_name(AttentionMask mask) {
  switch (mask) {
    case AttentionMask::kBidirectional:
      return "bidirectional";
    case AttentionMask::kCausal:
      return "causal";
    case AttentionMask::kPrefix:
      return "prefix";
  }
  return "unknown";
}

std::string attention_key(const char* op_name, const AttentionShape& s) {
  return std::string(op_name) + " B" + std::to_string(s.batch) + " H" + std::to_string(s.heads) +
         " Tq" + std::to_string(s.q_tokens) + " Tk" + std::to_string(s.kv_tokens) + " D" +
         std::to_string(s.head_dim) + " " + mask_name(s.mask);
}

// 2·Tq·Tk·D multiply-accumulates per head for q·kᵀ and again for probabilities·v, over the
// full square (model/flops.h), at 2 FLOPs each.
double attention_forward_flops(const AttentionShape& s) {
  return 4.0 * s.batch * s.heads * double(s.q_tokens) * s.kv_tokens * s.head_dim;
}

}  // namespace

ProfilingBackend::ProfilingBackend(std::unique_ptr<Backend> inner) : inner_(std::move(inner)) {}

template <class Describe, class Op>
void ProfilingBackend::measure(const Describe& describe, const Op& op) {
  if (!enabled_) {
    op();
    return;
  }
  inner_->synchronize();
  const auto start = std::chrono::steady_clock::now();
  op();
  inner_->synchronize();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  OpCall call = describe();
  OpProfile& profile = profiles_[call.key];
  profile.key = std::move(call.key);
  ++profile.calls;
  profile.seconds += seconds;
  if (call.flops) profile.flops = profile.flops.value_or(0.0) + *call.flops;
}

std::vector<OpProfile> ProfilingBackend::report() const {
  std::vector<OpProfile> rows;
  for (const auto& entry : profiles_) rows.push_back(entry.second);
  std::stable_sort(rows.begin(), rows.end(),
                   [](const OpProfile& a, const OpProfile& b) { return a.seconds > b.seconds; });
  return rows;
}

void ProfilingBackend::upload(Tensor dst, const void* host_src) {
  measure(named("upload"), [&] { inner_->upload(dst, host_src); });
}

void ProfilingBackend::download(void* host_dst, Tensor src) {
  measure(named("download"), [&] { inner_->download(host_dst, src); });
}

void ProfilingBackend::fill(Tensor x, float value) {
  measure(named("fill"), [&] { inner_->fill(x, value); });
}

void ProfilingBackend::copy(Tensor dst, Tensor src) {
  measure(named("copy"), [&] { inner_->copy(dst, src); });
}

void ProfilingBackend::scale(Tensor x, float factor) {
  measure(named("scale"), [&] { inner_->scale(x, factor); });
}

void ProfilingBackend::add(Tensor out, Tensor a, Tensor b) {
  measure(named("add"), [&] { inner_->add(out, a, b); });
}

void ProfilingBackend::accumulate(Tensor dst, Tensor src) {
  measure(named("accumulate"), [&] { inner_->accumulate(dst, src); });
}

void ProfilingBackend::matmul_forward(Tensor out, Tensor in, Tensor weight, Tensor bias, int M,
                                      int K, int N) {
  measure(
      [&] {
        return OpCall{matmul_key("matmul_forward", M, K, N), 2.0 * M * double(K) * N};
      },
      [&] { inner_->matmul_forward(out, in, weight, bias, M, K, N); });
}

void ProfilingBackend::matmul_backward(Tensor din, Tensor dweight, Tensor dbias, Tensor dout,
                                       Tensor in, Tensor weight, int M, int K, int N,
                                       Din din_mode) {
  const int products = int(!din.empty()) + int(!dweight.empty());  // dbias is a row sum
  measure(
      [&] {
        return OpCall{matmul_key("matmul_backward", M, K, N), 2.0 * products * M * double(K) * N};
      },
      [&] { inner_->matmul_backward(din, dweight, dbias, dout, in, weight, M, K, N, din_mode); });
}

void ProfilingBackend::matmul_gelu_forward(Tensor out, Tensor pre, Tensor in, Tensor weight,
                                           Tensor bias, int M, int K, int N) {
  measure(
      [&] {
        return OpCall{matmul_key("matmul_gelu_forward", M, K, N), 2.0 * M * double(K) * N};
      },
      [&] { inner_->matmul_gelu_forward(out, pre, in, weight, bias, M, K, N); });
}

void ProfilingBackend::matmul_gelu_backward(Tensor dpre, Tensor dweight, Tensor dbias, Tensor dout,
                                            Tensor in, Tensor weight, Tensor pre, Tensor scratch,
                                            int M, int K, int N) {
  const int products = 1 + int(!dweight.empty());
  measure(
      [&] {
        return OpCall{matmul_key("matmul_gelu_backward", M, K, N),
                      2.0 * products * M * double(K) * N};
      },
      [&] {
        inner_->matmul_gelu_backward(dpre, dweight, dbias, dout, in, weight, pre, scratch, M, K, N);
      });
}

void ProfilingBackend::layernorm_forward(Tensor out, Tensor mean, Tensor rstd, Tensor in,
                                         Tensor weight, Tensor bias, int N, int C, float eps) {
  measure(named("layernorm_forward"),
          [&] { inner_->layernorm_forward(out, mean, rstd, in, weight, bias, N, C, eps); });
}

void ProfilingBackend::layernorm_backward(Tensor din, Tensor dweight, Tensor dbias, Tensor dout,
                                          Tensor in, Tensor weight, Tensor mean, Tensor rstd, int N,
                                          int C) {
  measure(named("layernorm_backward"), [&] {
    inner_->layernorm_backward(din, dweight, dbias, dout, in, weight, mean, rstd, N, C);
  });
}

void ProfilingBackend::rmsnorm_forward(Tensor out, Tensor rstd, Tensor in, Tensor weight, int N,
                                       int C, float eps) {
  measure(named("rmsnorm_forward"),
          [&] { inner_->rmsnorm_forward(out, rstd, in, weight, N, C, eps); });
}

void ProfilingBackend::rmsnorm_backward(Tensor din, Tensor dweight, Tensor dout, Tensor in,
                                        Tensor weight, Tensor rstd, int N, int C) {
  measure(named("rmsnorm_backward"),
          [&] { inner_->rmsnorm_backward(din, dweight, dout, in, weight, rstd, N, C); });
}

void ProfilingBackend::gelu_forward(Tensor out, Tensor in) {
  measure(named("gelu_forward"), [&] { inner_->gelu_forward(out, in); });
}

void ProfilingBackend::gelu_backward(Tensor din, Tensor dout, Tensor in) {
  measure(named("gelu_backward"), [&] { inner_->gelu_backward(din, dout, in); });
}

void ProfilingBackend::gated_gelu_forward(Tensor out, Tensor gate, Tensor linear) {
  measure(named("gated_gelu_forward"), [&] { inner_->gated_gelu_forward(out, gate, linear); });
}

void ProfilingBackend::gated_gelu_backward(Tensor dgate, Tensor dlinear, Tensor dout, Tensor gate,
                                           Tensor linear) {
  measure(named("gated_gelu_backward"),
          [&] { inner_->gated_gelu_backward(dgate, dlinear, dout, gate, linear); });
}

void ProfilingBackend::attention_forward(Tensor out, Tensor lse, Tensor q, Tensor k, Tensor v,
                                         Tensor bias, Tensor prefix_lengths,
                                         const AttentionShape& shape) {
  measure(
      [&] {
        return OpCall{attention_key("attention_forward", shape), attention_forward_flops(shape)};
      },
      [&] { inner_->attention_forward(out, lse, q, k, v, bias, prefix_lengths, shape); });
}

void ProfilingBackend::attention_backward(Tensor dq, Tensor dk, Tensor dv, Tensor dbias,
                                          Tensor dout, Tensor out, Tensor lse, Tensor q, Tensor k,
                                          Tensor v, Tensor bias, Tensor prefix_lengths,
                                          const AttentionShape& shape) {
  measure(
      [&] {
        // Backward costs twice the forward (model/flops.h).
        return OpCall{attention_key("attention_backward", shape),
                      2.0 * attention_forward_flops(shape)};
      },
      [&] {
        inner_->attention_backward(dq, dk, dv, dbias, dout, out, lse, q, k, v, bias, prefix_lengths,
                                   shape);
      });
}

void ProfilingBackend::embedding_forward(Tensor out, Tensor ids, Tensor table, Tensor positions,
                                         int B, int T, int C) {
  measure(named("embedding_forward"),
          [&] { inner_->embedding_forward(out, ids, table, positions, B, T, C); });
}

void ProfilingBackend::embedding_backward(Tensor dtable, Tensor dpositions, Tensor dout, Tensor ids,
                                          int B, int T, int C) {
  measure(named("embedding_backward"),
          [&] { inner_->embedding_backward(dtable, dpositions, dout, ids, B, T, C); });
}

void ProfilingBackend::position_bias_forward(Tensor out, Tensor table, Tensor buckets, int H,
                                             int Tq, int Tk) {
  measure(named("position_bias_forward"),
          [&] { inner_->position_bias_forward(out, table, buckets, H, Tq, Tk); });
}

void ProfilingBackend::position_bias_backward(Tensor dtable, Tensor dout, Tensor buckets, int H,
                                              int Tq, int Tk) {
  measure(named("position_bias_backward"),
          [&] { inner_->position_bias_backward(dtable, dout, buckets, H, Tq, Tk); });
}

void ProfilingBackend::cross_entropy(Tensor logits, Tensor losses, Tensor targets, int N, int V,
                                     int ignore_index, float grad_scale) {
  measure(named("cross_entropy"),
          [&] { inner_->cross_entropy(logits, losses, targets, N, V, ignore_index, grad_scale); });
}

void ProfilingBackend::adamw(Tensor params, Tensor grads, Tensor m, Tensor v, Tensor compute_params,
                             const AdamWStep& step) {
  measure(named("adamw"), [&] { inner_->adamw(params, grads, m, v, compute_params, step); });
}

double ProfilingBackend::sum_of_squares(Tensor x) {
  double sum = 0.0;
  measure(named("sum_of_squares"), [&] { sum = inner_->sum_of_squares(x); });
  return sum;
}

}  // namespace molt::kernels
