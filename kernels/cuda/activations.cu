// GELU in the tanh form GPT-2 and T5 v1.1 use, and the gated GELU of T5's FFN:
//   gelu(x)  = ½·x·(1 + tanh u),   u = √(2/π)·(x + 0.044715·x³)
//   gelu'(x) = ½·(1 + tanh u) + ½·x·(1 − tanh² u)·√(2/π)·(1 + 3·0.044715·x²)
//   gated:   out = gelu(gate) ⊙ linear
//            dgate += dout ⊙ linear ⊙ gelu'(gate);   dlinear += dout ⊙ gelu(gate)
// One grid-stride loop per op, f32 arithmetic with the accurate tanhf (the CPU uses a
// few-ulp approximation; both are far inside the tests' tolerance). These are the
// elementwise passes a fused matmul epilogue (cuBLASLt GELU_AUX) would absorb later.
#include "kernels/cuda/activations.h"

#include "kernels/cuda/checks.h"
#include "kernels/cuda/cuda_check.h"

namespace molt::kernels::cuda {
namespace {

constexpr int kThreads = 256;
constexpr float kSqrt2OverPi = 0.7978845608028654f;
constexpr float kCubic = 0.044715f;

__device__ __forceinline__ float gelu(float x) {
  const float u = kSqrt2OverPi * (x + kCubic * x * x * x);
  return 0.5f * x * (1.0f + tanhf(u));
}

__device__ __forceinline__ float gelu_derivative(float x) {
  const float u = kSqrt2OverPi * (x + kCubic * x * x * x);
  const float t = tanhf(u);
  const float du = kSqrt2OverPi * (1.0f + 3.0f * kCubic * x * x);
  return 0.5f * (1.0f + t) + 0.5f * x * (1.0f - t * t) * du;
}

__global__ void gelu_forward_kernel(FloatArray out, FloatArray in, size_t n) {
  MOLT_GRID_STRIDE(i, n) out.store(i, gelu(in.load(i)));
}

__global__ void gelu_backward_kernel(FloatArray din, FloatArray dout, FloatArray in, size_t n) {
  MOLT_GRID_STRIDE(i, n) din.store(i, din.load(i) + dout.load(i) * gelu_derivative(in.load(i)));
}

__global__ void gated_gelu_forward_kernel(FloatArray out, FloatArray gate, FloatArray linear,
                                          size_t n) {
  MOLT_GRID_STRIDE(i, n) out.store(i, gelu(gate.load(i)) * linear.load(i));
}

// Either gradient may be absent.
__global__ void gated_gelu_backward_kernel(FloatArray dgate, FloatArray dlinear, FloatArray dout,
                                           FloatArray gate, FloatArray linear, size_t n) {
  MOLT_GRID_STRIDE(i, n) {
    const float dy = dout.load(i), g = gate.load(i);
    if (dgate.present()) dgate.store(i, dgate.load(i) + dy * linear.load(i) * gelu_derivative(g));
    if (dlinear.present()) dlinear.store(i, dlinear.load(i) + dy * gelu(g));
  }
}

unsigned blocks(size_t n) { return grid_stride_blocks(n, kThreads); }

}  // namespace

void gelu_forward(const DeviceContext& ctx, Tensor out, Tensor in) {
  require_same_count(out, in, "gelu_forward");
  const FloatArray y = floats_covering(out, out.count, "gelu_forward: out");
  const FloatArray x = floats_covering(in, in.count, "gelu_forward: in");
  if (in.count == 0) return;
  gelu_forward_kernel<<<blocks(in.count), kThreads, 0, ctx.stream>>>(y, x, in.count);
  MOLT_CUDA_CHECK_LAUNCH();
}

void gelu_backward(const DeviceContext& ctx, Tensor din, Tensor dout, Tensor in) {
  require_same_count(din, in, "gelu_backward: din, in");
  require_same_count(dout, in, "gelu_backward: dout, in");
  const FloatArray dx = floats_covering(din, din.count, "gelu_backward: din");
  const FloatArray dy = floats_covering(dout, dout.count, "gelu_backward: dout");
  const FloatArray x = floats_covering(in, in.count, "gelu_backward: in");
  if (in.count == 0) return;
  gelu_backward_kernel<<<blocks(in.count), kThreads, 0, ctx.stream>>>(dx, dy, x, in.count);
  MOLT_CUDA_CHECK_LAUNCH();
}

void gated_gelu_forward(const DeviceContext& ctx, Tensor out, Tensor gate, Tensor linear) {
  require_same_count(out, gate, "gated_gelu_forward: out, gate");
  require_same_count(out, linear, "gated_gelu_forward: out, linear");
  const FloatArray y = floats_covering(out, out.count, "gated_gelu_forward: out");
  const FloatArray g = floats_covering(gate, gate.count, "gated_gelu_forward: gate");
  const FloatArray l = floats_covering(linear, linear.count, "gated_gelu_forward: linear");
  if (out.count == 0) return;
  gated_gelu_forward_kernel<<<blocks(out.count), kThreads, 0, ctx.stream>>>(y, g, l, out.count);
  MOLT_CUDA_CHECK_LAUNCH();
}

void gated_gelu_backward(const DeviceContext& ctx, Tensor dgate, Tensor dlinear, Tensor dout,
                         Tensor gate, Tensor linear) {
  require_same_count(dout, gate, "gated_gelu_backward: dout, gate");
  require_same_count(dout, linear, "gated_gelu_backward: dout, linear");
  const size_t n = dout.count;
  const FloatArray dg = optional_floats(dgate, n, "gated_gelu_backward: dgate");
  const FloatArray dl = optional_floats(dlinear, n, "gated_gelu_backward: dlinear");
  const FloatArray dy = floats_covering(dout, n, "gated_gelu_backward: dout");
  const FloatArray g = floats_covering(gate, n, "gated_gelu_backward: gate");
  const FloatArray l = floats_covering(linear, n, "gated_gelu_backward: linear");
  if (n == 0 || (!dg.present() && !dl.present())) return;
  gated_gelu_backward_kernel<<<blocks(n), kThreads, 0, ctx.stream>>>(dg, dl, dy, g, l, n);
  MOLT_CUDA_CHECK_LAUNCH();
}

}  // namespace molt::kernels::cuda
