// GELU in the tanh form GPT-2 and T5 v1.1 ("gelu_new") use:
//   gelu(x)  = ½·x·(1 + tanh u),   u = √(2/π)·(x + 0.044715·x³)
//   gelu'(x) = ½·(1 + tanh u) + ½·x·(1 − tanh² u)·√(2/π)·(1 + 3·0.044715·x²)
// Gated GELU: out = gelu(gate) ⊙ linear, so
//   dgate += dout ⊙ linear ⊙ gelu'(gate);   dlinear += dout ⊙ gelu(gate).
#include "kernels/cpu/activations.h"

#include <cmath>
#include <cstdint>

#include "kernels/cpu/checks.h"

namespace molt::kernels::cpu {
namespace {

constexpr int64_t kParallelElements = 1 << 14;
constexpr float kSqrt2OverPi = 0.7978845608028654f;
constexpr float kCubic = 0.044715f;

inline float gelu(float x) {
  const float u = kSqrt2OverPi * (x + kCubic * x * x * x);
  return 0.5f * x * (1.0f + std::tanh(u));
}

inline float gelu_derivative(float x) {
  const float u = kSqrt2OverPi * (x + kCubic * x * x * x);
  const float t = std::tanh(u);
  const float du = kSqrt2OverPi * (1.0f + 3.0f * kCubic * x * x);
  return 0.5f * (1.0f + t) + 0.5f * x * (1.0f - t * t) * du;
}

}  // namespace

void gelu_forward(Tensor out, Tensor in) {
  require_same_count(out, in, "gelu_forward");
  float* y = f32_covering(out, out.count, "gelu_forward: out");
  const float* x = f32_covering(in, in.count, "gelu_forward: in");
  const int64_t n = static_cast<int64_t>(in.count);
#pragma omp parallel for if (n > kParallelElements)
  for (int64_t i = 0; i < n; ++i) y[i] = gelu(x[i]);
}

void gelu_backward(Tensor din, Tensor dout, Tensor in) {
  require_same_count(din, in, "gelu_backward: din, in");
  require_same_count(dout, in, "gelu_backward: dout, in");
  float* dx = f32_covering(din, din.count, "gelu_backward: din");
  const float* dy = f32_covering(dout, dout.count, "gelu_backward: dout");
  const float* x = f32_covering(in, in.count, "gelu_backward: in");
  const int64_t n = static_cast<int64_t>(in.count);
#pragma omp parallel for if (n > kParallelElements)
  for (int64_t i = 0; i < n; ++i) dx[i] += dy[i] * gelu_derivative(x[i]);
}

void gated_gelu_forward(Tensor out, Tensor gate, Tensor linear) {
  require_same_count(out, gate, "gated_gelu_forward: out, gate");
  require_same_count(out, linear, "gated_gelu_forward: out, linear");
  float* y = f32_covering(out, out.count, "gated_gelu_forward: out");
  const float* g = f32_covering(gate, gate.count, "gated_gelu_forward: gate");
  const float* l = f32_covering(linear, linear.count, "gated_gelu_forward: linear");
  const int64_t n = static_cast<int64_t>(out.count);
#pragma omp parallel for if (n > kParallelElements)
  for (int64_t i = 0; i < n; ++i) y[i] = gelu(g[i]) * l[i];
}

void gated_gelu_backward(Tensor dgate, Tensor dlinear, Tensor dout, Tensor gate, Tensor linear) {
  require_same_count(dout, gate, "gated_gelu_backward: dout, gate");
  require_same_count(dout, linear, "gated_gelu_backward: dout, linear");
  const size_t count = dout.count;
  float* dg = optional_f32(dgate, count, "gated_gelu_backward: dgate");
  float* dl = optional_f32(dlinear, count, "gated_gelu_backward: dlinear");
  const float* dy = f32_covering(dout, count, "gated_gelu_backward: dout");
  const float* g = f32_covering(gate, count, "gated_gelu_backward: gate");
  const float* l = f32_covering(linear, count, "gated_gelu_backward: linear");
  const int64_t n = static_cast<int64_t>(count);
#pragma omp parallel for if (n > kParallelElements)
  for (int64_t i = 0; i < n; ++i) {
    if (dg != nullptr) dg[i] += dy[i] * l[i] * gelu_derivative(g[i]);
    if (dl != nullptr) dl[i] += dy[i] * gelu(g[i]);
  }
}

}  // namespace molt::kernels::cpu
