// Softmax cross-entropy, fused with its gradient.
//
// Per row x[0..V) with target t:
//   lse  = m + log Σ_j exp(x_j − m),  m = max_j x_j     (subtracting m keeps exp ≤ 1)
//   loss = lse − x_t = −log softmax(x)_t
//   dx_j = grad_scale·(exp(x_j − lse) − [j = t])         (written over x when grad_scale ≠ 0)
// Rows whose target is ignore_index get loss 0 and, when a gradient is asked for, an all-
// zero gradient row. The exponentials are stored into the row during the sum so each
// logit costs one exp; that is only allowed when the logits may be overwritten, so the
// loss-only path (grad_scale = 0, evaluation) sums without storing. V reaches 50k terms,
// so the sum is blockwise (see sum_exp). exp is exp_approx (fast_math.h) so the row loops vectorize.
#include "kernels/cpu/loss.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "kernels/cpu/checks.h"
#include "kernels/cpu/fast_math.h"

namespace molt::kernels::cpu {
namespace {

MOLT_VECTOR_CLONES float row_max(const float* x, int V) {
  float m = x[0];
#pragma omp simd reduction(max : m)
  for (int j = 1; j < V; ++j) m = x[j] > m ? x[j] : m;  // not std::max: see fast_math.h
  return m;
}

// Σ exp(x − m) over the row; with `store` the exponentials also replace x.
// Float sums over blocks of kSumBlock (vectorizable), added into a double: each float
// partial has ≤ kSumBlock terms in (0, 1], so the total keeps double-like accuracy at
// float speed.
constexpr int kSumBlock = 256;

MOLT_VECTOR_CLONES double sum_exp(float* x, int V, float m, bool store) {
  double sum = 0.0;
  for (int j0 = 0; j0 < V; j0 += kSumBlock) {
    const int j1 = j0 + kSumBlock < V ? j0 + kSumBlock : V;
    float block = 0.0f;
    if (store) {
#pragma omp simd reduction(+ : block)
      for (int j = j0; j < j1; ++j) {
        x[j] = exp_approx(x[j] - m);
        block += x[j];
      }
    } else {
#pragma omp simd reduction(+ : block)
      for (int j = j0; j < j1; ++j) block += exp_approx(x[j] - m);
    }
    sum += block;
  }
  return sum;
}

// Returns the row's loss; leaves x untouched.
float row_loss(const float* x, int V, int target) {
  const float m = row_max(x, V);
  const double sum = sum_exp(const_cast<float*>(x), V, m, /*store=*/false);
  return static_cast<float>(m + std::log(sum) - x[target]);
}

// Returns the row's loss and overwrites x with grad_scale·(softmax(x) − onehot(target)).
MOLT_VECTOR_CLONES float row_loss_and_gradient(float* x, int V, int target, float grad_scale) {
  const float m = row_max(x, V);
  const float loss_without_lse = m - x[target];
  const double sum = sum_exp(x, V, m, /*store=*/true);
  const float to_gradient = static_cast<float>(grad_scale / sum);
  for (int j = 0; j < V; ++j) x[j] *= to_gradient;
  x[target] -= grad_scale;
  return static_cast<float>(std::log(sum)) + loss_without_lse;
}

}  // namespace

void cross_entropy(Tensor logits, Tensor losses, Tensor targets, int N, int V, int ignore_index,
                   float grad_scale) {
  float* x = f32_covering(logits, product(N, V), "cross_entropy: logits");
  float* loss = f32_covering(losses, N, "cross_entropy: losses");
  const int32_t* target = i32_covering(targets, N, "cross_entropy: targets");
  for (int n = 0; n < N; ++n) {
    require(target[n] == ignore_index || (target[n] >= 0 && target[n] < V),
            "cross_entropy: target " + std::to_string(target[n]) + " of row " +
                std::to_string(n) + " is outside [0, " + std::to_string(V) + ")");
  }
#pragma omp parallel for if (product(N, V) > (1 << 14))
  for (int n = 0; n < N; ++n) {
    float* row = x + product(n, V);
    if (target[n] == ignore_index) {
      loss[n] = 0.0f;
      if (grad_scale != 0.0f) std::fill(row, row + V, 0.0f);
    } else if (grad_scale != 0.0f) {
      loss[n] = row_loss_and_gradient(row, V, target[n], grad_scale);
    } else {
      loss[n] = row_loss(row, V, target[n]);
    }
  }
}

}  // namespace molt::kernels::cpu
