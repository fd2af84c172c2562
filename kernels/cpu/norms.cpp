// LayerNorm and RMSNorm over rows of length C.
//
// With x̂ = (x − μ)·rstd (LayerNorm) or x̂ = x·rstd (RMSNorm) and g = dout ⊙ w:
//   LayerNorm  din += rstd·( g − mean(g) − x̂·mean(g ⊙ x̂) )
//   RMSNorm    din += rstd·( g − x̂·mean(g ⊙ x̂) )
//   dw += Σ_rows dout ⊙ x̂;   db += Σ_rows dout   (LayerNorm only)
// (RMSNorm has no mean to subtract, so the mean(g) term vanishes.) The variance is the
// biased one, as torch's LayerNorm uses, computed in two passes (mean first) so it never
// cancels catastrophically. Rows are independent and split across threads; dw and db sum
// over rows, so each thread sums its own rows into a private copy and the copies are
// added in thread order afterwards — no atomics, and deterministic for a thread count.
#include "kernels/cpu/norms.h"

#include <omp.h>

#include <cmath>
#include <vector>

#include "kernels/cpu/checks.h"

namespace molt::kernels::cpu {
namespace {

constexpr size_t kParallelElements = 1 << 14;

float row_mean(const float* x, int C) {
  float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
  for (int c = 0; c < C; ++c) sum += x[c];
  return sum / static_cast<float>(C);
}

float row_mean_square(const float* x, float center, int C) {
  float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
  for (int c = 0; c < C; ++c) sum += (x[c] - center) * (x[c] - center);
  return sum / static_cast<float>(C);
}

// Per-thread partial sums of the parameter gradients, reduced into the outputs at the end.
class ParameterGradientPartials {
 public:
  ParameterGradientPartials(int threads, int C, int vectors)
      : C_(C), vectors_(vectors), sums_(static_cast<size_t>(threads) * C * vectors, 0.0f) {}
  float* for_thread(int thread, int vector) {
    return sums_.data() + (static_cast<size_t>(thread) * vectors_ + vector) * C_;
  }
  void add_into(float* dst, int vector, int threads) {
    for (int t = 0; t < threads; ++t) {
      const float* part = for_thread(t, vector);
      for (int c = 0; c < C_; ++c) dst[c] += part[c];
    }
  }

 private:
  int C_;
  int vectors_;
  std::vector<float> sums_;
};

}  // namespace

void layernorm_forward(Tensor out, Tensor mean, Tensor rstd, Tensor in, Tensor weight,
                       Tensor bias, int N, int C, float eps) {
  float* y = f32_covering(out, product(N, C), "layernorm_forward: out");
  float* mu = f32_covering(mean, N, "layernorm_forward: mean");
  float* rs = f32_covering(rstd, N, "layernorm_forward: rstd");
  const float* x = f32_covering(in, product(N, C), "layernorm_forward: in");
  const float* w = f32_covering(weight, C, "layernorm_forward: weight");
  const float* b = optional_f32(bias, C, "layernorm_forward: bias");
#pragma omp parallel for if (product(N, C) > kParallelElements)
  for (int n = 0; n < N; ++n) {
    const float* xr = x + product(n, C);
    float* yr = y + product(n, C);
    const float m = row_mean(xr, C);
    const float r = 1.0f / std::sqrt(row_mean_square(xr, m, C) + eps);
    for (int c = 0; c < C; ++c) yr[c] = (xr[c] - m) * r * w[c] + (b != nullptr ? b[c] : 0.0f);
    mu[n] = m;
    rs[n] = r;
  }
}

void layernorm_backward(Tensor din, Tensor dweight, Tensor dbias, Tensor dout, Tensor in,
                        Tensor weight, Tensor mean, Tensor rstd, int N, int C) {
  float* dx = optional_f32(din, product(N, C), "layernorm_backward: din");
  float* dw = optional_f32(dweight, C, "layernorm_backward: dweight");
  float* db = optional_f32(dbias, C, "layernorm_backward: dbias");
  const float* dy = f32_covering(dout, product(N, C), "layernorm_backward: dout");
  const float* x = f32_covering(in, product(N, C), "layernorm_backward: in");
  const float* w = f32_covering(weight, C, "layernorm_backward: weight");
  const float* mu = f32_covering(mean, N, "layernorm_backward: mean");
  const float* rs = f32_covering(rstd, N, "layernorm_backward: rstd");
  const int threads = product(N, C) > kParallelElements ? omp_get_max_threads() : 1;
  ParameterGradientPartials partials(threads, C, 2);
#pragma omp parallel num_threads(threads)
  {
    float* dw_part = partials.for_thread(omp_get_thread_num(), 0);
    float* db_part = partials.for_thread(omp_get_thread_num(), 1);
#pragma omp for schedule(static)
    for (int n = 0; n < N; ++n) {
      const float* xr = x + product(n, C);
      const float* dyr = dy + product(n, C);
      float mean_g = 0.0f, mean_gx = 0.0f;
      for (int c = 0; c < C; ++c) {
        const float xhat = (xr[c] - mu[n]) * rs[n];
        const float g = dyr[c] * w[c];
        mean_g += g;
        mean_gx += g * xhat;
        dw_part[c] += dyr[c] * xhat;
        db_part[c] += dyr[c];
      }
      mean_g /= static_cast<float>(C);
      mean_gx /= static_cast<float>(C);
      if (dx == nullptr) continue;
      float* dxr = dx + product(n, C);
      for (int c = 0; c < C; ++c) {
        const float xhat = (xr[c] - mu[n]) * rs[n];
        dxr[c] += rs[n] * (dyr[c] * w[c] - mean_g - xhat * mean_gx);
      }
    }
  }
  if (dw != nullptr) partials.add_into(dw, 0, threads);
  if (db != nullptr) partials.add_into(db, 1, threads);
}

void rmsnorm_forward(Tensor out, Tensor rstd, Tensor in, Tensor weight, int N, int C,
                     float eps) {
  float* y = f32_covering(out, product(N, C), "rmsnorm_forward: out");
  float* rs = f32_covering(rstd, N, "rmsnorm_forward: rstd");
  const float* x = f32_covering(in, product(N, C), "rmsnorm_forward: in");
  const float* w = f32_covering(weight, C, "rmsnorm_forward: weight");
#pragma omp parallel for if (product(N, C) > kParallelElements)
  for (int n = 0; n < N; ++n) {
    const float* xr = x + product(n, C);
    float* yr = y + product(n, C);
    const float r = 1.0f / std::sqrt(row_mean_square(xr, 0.0f, C) + eps);
    for (int c = 0; c < C; ++c) yr[c] = xr[c] * r * w[c];
    rs[n] = r;
  }
}

void rmsnorm_backward(Tensor din, Tensor dweight, Tensor dout, Tensor in, Tensor weight,
                      Tensor rstd, int N, int C) {
  float* dx = optional_f32(din, product(N, C), "rmsnorm_backward: din");
  float* dw = optional_f32(dweight, C, "rmsnorm_backward: dweight");
  const float* dy = f32_covering(dout, product(N, C), "rmsnorm_backward: dout");
  const float* x = f32_covering(in, product(N, C), "rmsnorm_backward: in");
  const float* w = f32_covering(weight, C, "rmsnorm_backward: weight");
  const float* rs = f32_covering(rstd, N, "rmsnorm_backward: rstd");
  const int threads = product(N, C) > kParallelElements ? omp_get_max_threads() : 1;
  ParameterGradientPartials partials(threads, C, 1);
#pragma omp parallel num_threads(threads)
  {
    float* dw_part = partials.for_thread(omp_get_thread_num(), 0);
#pragma omp for schedule(static)
    for (int n = 0; n < N; ++n) {
      const float* xr = x + product(n, C);
      const float* dyr = dy + product(n, C);
      float mean_gx = 0.0f;
      for (int c = 0; c < C; ++c) {
        const float xhat = xr[c] * rs[n];
        mean_gx += dyr[c] * w[c] * xhat;
        dw_part[c] += dyr[c] * xhat;
      }
      mean_gx /= static_cast<float>(C);
      if (dx == nullptr) continue;
      float* dxr = dx + product(n, C);
      for (int c = 0; c < C; ++c) {
        dxr[c] += rs[n] * (dyr[c] * w[c] - xr[c] * rs[n] * mean_gx);
      }
    }
  }
  if (dw != nullptr) partials.add_into(dw, 0, threads);
}

}  // namespace molt::kernels::cpu
