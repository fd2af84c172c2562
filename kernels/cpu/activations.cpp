// GELU in the tanh form GPT-2 and T5 v1.1 ("gelu_new") use:
//   gelu(x)  = ½·x·(1 + tanh u),   u = √(2/π)·(x + 0.044715·x³)
//   gelu'(x) = ½·(1 + tanh u) + ½·x·(1 − tanh² u)·√(2/π)·(1 + 3·0.044715·x²)
// Gated GELU: out = gelu(gate) ⊙ linear, so
//   dgate += dout ⊙ linear ⊙ gelu'(gate);   dlinear += dout ⊙ gelu(gate).
// tanh is tanh_approx (fast_math.h, within a few ulp) so the loops vectorize; each loop is
// compiled for AVX2 as well as the baseline.
#include "kernels/cpu/activations.h"

#include <cstdint>

#include "kernels/cpu/checks.h"
#include "kernels/cpu/fast_math.h"
#include "kernels/cpu/parallel_chunks.h"

namespace molt::kernels::cpu {
namespace {

constexpr float kSqrt2OverPi = 0.7978845608028654f;
constexpr float kCubic = 0.044715f;

MOLT_ALWAYS_INLINE float gelu(float x) {
  const float u = kSqrt2OverPi * (x + kCubic * x * x * x);
  return 0.5f * x * (1.0f + tanh_approx(u));
}

MOLT_ALWAYS_INLINE float gelu_derivative(float x) {
  const float u = kSqrt2OverPi * (x + kCubic * x * x * x);
  const float t = tanh_approx(u);
  const float du = kSqrt2OverPi * (1.0f + 3.0f * kCubic * x * x);
  return 0.5f * (1.0f + t) + 0.5f * x * (1.0f - t * t) * du;
}

MOLT_VECTOR_CLONES void gelu_chunk(float* y, const float* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = gelu(x[i]);
}

MOLT_VECTOR_CLONES void gelu_backward_chunk(float* dx, const float* dy, const float* x,
                                            int64_t n) {
  for (int64_t i = 0; i < n; ++i) dx[i] += dy[i] * gelu_derivative(x[i]);
}

MOLT_VECTOR_CLONES void gated_gelu_chunk(float* y, const float* gate, const float* linear,
                                         int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = gelu(gate[i]) * linear[i];
}

MOLT_VECTOR_CLONES void gated_gelu_backward_chunk(float* dgate, float* dlinear, const float* dy,
                                                  const float* gate, const float* linear,
                                                  int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    dgate[i] += dy[i] * linear[i] * gelu_derivative(gate[i]);
    dlinear[i] += dy[i] * gelu(gate[i]);
  }
}

MOLT_VECTOR_CLONES void gate_only_backward_chunk(float* dgate, const float* dy, const float* gate,
                                                 const float* linear, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dgate[i] += dy[i] * linear[i] * gelu_derivative(gate[i]);
}

MOLT_VECTOR_CLONES void linear_only_backward_chunk(float* dlinear, const float* dy,
                                                   const float* gate, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dlinear[i] += dy[i] * gelu(gate[i]);
}

}  // namespace

void gelu_forward(Tensor out, Tensor in) {
  require_same_count(out, in, "gelu_forward");
  float* y = f32_covering(out, out.count, "gelu_forward: out");
  const float* x = f32_covering(in, in.count, "gelu_forward: in");
  for_each_chunk(static_cast<int64_t>(in.count),
                 [&](int64_t b, int64_t e) { gelu_chunk(y + b, x + b, e - b); });
}

void gelu_backward(Tensor din, Tensor dout, Tensor in) {
  require_same_count(din, in, "gelu_backward: din, in");
  require_same_count(dout, in, "gelu_backward: dout, in");
  float* dx = f32_covering(din, din.count, "gelu_backward: din");
  const float* dy = f32_covering(dout, dout.count, "gelu_backward: dout");
  const float* x = f32_covering(in, in.count, "gelu_backward: in");
  for_each_chunk(static_cast<int64_t>(in.count), [&](int64_t b, int64_t e) {
    gelu_backward_chunk(dx + b, dy + b, x + b, e - b);
  });
}

void gated_gelu_forward(Tensor out, Tensor gate, Tensor linear) {
  require_same_count(out, gate, "gated_gelu_forward: out, gate");
  require_same_count(out, linear, "gated_gelu_forward: out, linear");
  float* y = f32_covering(out, out.count, "gated_gelu_forward: out");
  const float* g = f32_covering(gate, gate.count, "gated_gelu_forward: gate");
  const float* l = f32_covering(linear, linear.count, "gated_gelu_forward: linear");
  for_each_chunk(static_cast<int64_t>(out.count),
                 [&](int64_t b, int64_t e) { gated_gelu_chunk(y + b, g + b, l + b, e - b); });
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
  for_each_chunk(static_cast<int64_t>(count), [&](int64_t b, int64_t e) {
    if (dg != nullptr && dl != nullptr) {
      gated_gelu_backward_chunk(dg + b, dl + b, dy + b, g + b, l + b, e - b);
    } else if (dg != nullptr) {
      gate_only_backward_chunk(dg + b, dy + b, g + b, l + b, e - b);
    } else if (dl != nullptr) {
      linear_only_backward_chunk(dl + b, dy + b, g + b, e - b);
    }
  });
}

}  // namespace molt::kernels::cpu
