// AdamW (Loshchilov & Hutter), decoupled weight decay, as torch.optim.AdamW computes it:
//   g = grad_scale·grad
//   m ← β1·m + (1−β1)·g;   v ← β2·v + (1−β2)·g²
//   p ← p − lr·( m̂ / (√v̂ + eps) + weight_decay·p ),   m̂ = m/(1−β1^t),  v̂ = v/(1−β2^t)
// The bias corrections depend only on t, so they are computed once, in double, on the
// host. Every element is independent: one parallel loop. The CPU computes in f32, so the
// compute copy is the master itself unless the caller passes a distinct buffer, which
// then receives the new values (converted if it is bf16).
#include "kernels/cpu/adamw.h"

#include <cmath>
#include <cstdint>

#include "kernels/cpu/checks.h"
#include "kernels/cpu/elementwise.h"
#include "kernels/cpu/fast_math.h"
#include "kernels/cpu/parallel_chunks.h"

namespace molt::kernels::cpu {
namespace {

// The step's scalars, with the bias corrections folded to multipliers.
struct AdamWScalars {
  float lr, beta1, beta2, eps, weight_decay, grad_scale, m_correction, v_correction;
};

AdamWScalars scalars_for(const AdamWStep& step) {
  const double t = static_cast<double>(step.t);
  return {step.lr,
          step.beta1,
          step.beta2,
          step.eps,
          step.weight_decay,
          step.grad_scale,
          static_cast<float>(1.0 / (1.0 - std::pow(static_cast<double>(step.beta1), t))),
          static_cast<float>(1.0 / (1.0 - std::pow(static_cast<double>(step.beta2), t)))};
}

MOLT_VECTOR_CLONES void adamw_chunk(float* p, const float* g, float* m, float* v, int64_t n,
                                    const AdamWScalars s) {
  for (int64_t i = 0; i < n; ++i) {
    const float gi = s.grad_scale * g[i];
    m[i] = s.beta1 * m[i] + (1.0f - s.beta1) * gi;
    v[i] = s.beta2 * v[i] + (1.0f - s.beta2) * gi * gi;
    const float update = (m[i] * s.m_correction) / (std::sqrt(v[i] * s.v_correction) + s.eps);
    p[i] -= s.lr * (update + s.weight_decay * p[i]);
  }
}

}  // namespace

void adamw(Tensor params, Tensor grads, Tensor m, Tensor v, Tensor compute_params,
           const AdamWStep& step) {
  require_same_count(params, grads, "adamw: params, grads");
  require_same_count(params, m, "adamw: params, m");
  require_same_count(params, v, "adamw: params, v");
  require(step.t >= 1, "adamw: step.t counts from 1");
  const size_t count = params.count;
  float* p = f32_covering(params, count, "adamw: params");
  const float* g = f32_covering(grads, count, "adamw: grads");
  float* m1 = f32_covering(m, count, "adamw: m");
  float* m2 = f32_covering(v, count, "adamw: v");
  const AdamWScalars scalars = scalars_for(step);
  for_each_chunk(static_cast<int64_t>(count), [&](int64_t b, int64_t e) {
    adamw_chunk(p + b, g + b, m1 + b, m2 + b, e - b, scalars);
  });
  if (!compute_params.empty() && compute_params.data != params.data) copy(compute_params, params);
}

}  // namespace molt::kernels::cpu
