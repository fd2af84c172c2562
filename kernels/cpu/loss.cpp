// Softmax cross-entropy, fused with its gradient.
//
// Per row x[0..V) with target t:
//   lse  = m + log Σ_j exp(x_j − m),  m = max_j x_j     (subtracting m keeps exp ≤ 1)
//   loss = lse − x_t = −log softmax(x)_t
//   dx_j = grad_scale·(exp(x_j − lse) − [j = t])         (written over x when grad_scale ≠ 0)
// Rows whose target is ignore_index get loss 0 and, when a gradient is asked for, an all-
// zero gradient row. The exponentials are stored into the row during the sum so each
// logit costs one exp; that is only allowed when the logits may be overwritten, so the
// loss-only path (grad_scale = 0, evaluation) sums without storing. The sum is in double:
// V reaches 50k terms.
#include "kernels/cpu/loss.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "kernels/cpu/checks.h"

namespace molt::kernels::cpu {
namespace {

float row_max(const float* x, int V) {
  float m = x[0];
  for (int j = 1; j < V; ++j) m = std::max(m, x[j]);
  return m;
}

// Returns the row's loss; leaves x untouched.
float row_loss(const float* x, int V, int target) {
  const float m = row_max(x, V);
  double sum = 0.0;
  for (int j = 0; j < V; ++j) sum += std::exp(x[j] - m);
  return static_cast<float>(m + std::log(sum) - x[target]);
}

// Returns the row's loss and overwrites x with grad_scale·(softmax(x) − onehot(target)).
float row_loss_and_gradient(float* x, int V, int target, float grad_scale) {
  const float m = row_max(x, V);
  const float loss_without_lse = m - x[target];
  double sum = 0.0;
  for (int j = 0; j < V; ++j) {
    x[j] = std::exp(x[j] - m);
    sum += x[j];
  }
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
