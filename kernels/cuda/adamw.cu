// AdamW (decoupled weight decay, as torch.optim.AdamW), one fused elementwise pass:
//   g = grad_scale·grad
//   m ← β1·m + (1−β1)·g;   v ← β2·v + (1−β2)·g²
//   p ← p − lr·( m̂ / (√v̂ + eps) + weight_decay·p ),   m̂ = m/(1−β1^t),  v̂ = v/(1−β2^t)
// and, in the same pass, the compute copy of p (bf16 on a bf16 backend) when the caller
// passes one, so a step reads and writes each parameter once. The bias corrections depend
// only on t and are computed on the host in double, exactly as the CPU backend does.
// Master params, grads and both moments are f32; the compute copy may be f32 or bf16.
#include "kernels/cuda/adamw.h"

#include <cmath>

#include "kernels/cuda/checks.h"
#include "kernels/cuda/cuda_check.h"

namespace molt::kernels::cuda {
namespace {

constexpr int kThreads = 256;

struct AdamWScalars {
  float lr, beta1, beta2, eps, weight_decay, grad_scale, m_correction, v_correction;
};

__global__ void adamw_kernel(float* p, const float* g, float* m, float* v, FloatArray compute,
                             size_t n, AdamWScalars s) {
  MOLT_GRID_STRIDE(i, n) {
    const float gi = s.grad_scale * g[i];
    const float mi = s.beta1 * m[i] + (1.0f - s.beta1) * gi;
    const float vi = s.beta2 * v[i] + (1.0f - s.beta2) * gi * gi;
    const float update = (mi * s.m_correction) / (sqrtf(vi * s.v_correction) + s.eps);
    const float pi = p[i] - s.lr * (update + s.weight_decay * p[i]);
    m[i] = mi;
    v[i] = vi;
    p[i] = pi;
    if (compute.present()) compute.store(i, pi);
  }
}

}  // namespace

void adamw(const DeviceContext& ctx, Tensor params, Tensor grads, Tensor m, Tensor v,
           Tensor compute_params, const AdamWStep& step) {
  require_same_count(params, grads, "adamw: params, grads");
  require_same_count(params, m, "adamw: params, m");
  require_same_count(params, v, "adamw: params, v");
  require(step.t >= 1, "adamw: step.t counts from 1");
  const size_t n = params.count;
  float* p = f32_covering(params, n, "adamw: params");
  const float* g = f32_covering(grads, n, "adamw: grads");
  float* m1 = f32_covering(m, n, "adamw: m");
  float* m2 = f32_covering(v, n, "adamw: v");
  FloatArray compute;
  if (!compute_params.empty() && compute_params.data != params.data) {
    require_same_count(params, compute_params, "adamw: params, compute_params");
    compute = floats_covering(compute_params, n, "adamw: compute_params");
  }
  if (n == 0) return;
  const double t = static_cast<double>(step.t);
  const AdamWScalars scalars{
      step.lr,
      step.beta1,
      step.beta2,
      step.eps,
      step.weight_decay,
      step.grad_scale,
      static_cast<float>(1.0 / (1.0 - std::pow(static_cast<double>(step.beta1), t))),
      static_cast<float>(1.0 / (1.0 - std::pow(static_cast<double>(step.beta2), t)))};
  adamw_kernel<<<grid_stride_blocks(n, kThreads), kThreads, 0, ctx.stream>>>(p, g, m1, m2, compute,
                                                                             n, scalars);
  MOLT_CUDA_CHECK_LAUNCH();
}

}  // namespace molt::kernels::cuda
