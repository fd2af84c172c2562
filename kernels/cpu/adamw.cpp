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

namespace molt::kernels::cpu {

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
  const float m_correction =
      static_cast<float>(1.0 / (1.0 - std::pow(static_cast<double>(step.beta1), step.t)));
  const float v_correction =
      static_cast<float>(1.0 / (1.0 - std::pow(static_cast<double>(step.beta2), step.t)));
  const int64_t n = static_cast<int64_t>(count);
#pragma omp parallel for if (n > (1 << 14))
  for (int64_t i = 0; i < n; ++i) {
    const float gi = step.grad_scale * g[i];
    m1[i] = step.beta1 * m1[i] + (1.0f - step.beta1) * gi;
    m2[i] = step.beta2 * m2[i] + (1.0f - step.beta2) * gi * gi;
    const float update = (m1[i] * m_correction) / (std::sqrt(m2[i] * v_correction) + step.eps);
    p[i] -= step.lr * (update + step.weight_decay * p[i]);
  }
  if (!compute_params.empty() && compute_params.data != params.data) copy(compute_params, params);
}

}  // namespace molt::kernels::cpu
