// Naive reference implementations of every Backend op, for the kernel tests.
//
// Plain loops in double precision that follow the formulas in kernels/backend.h literally
// (attention materialises the full probability matrix, masks are tested key by key), so
// the fast kernels are compared against something obviously right rather than against a
// second clever implementation. Backward functions return the gradient alone (no +=); the
// tests add it to whatever the buffer held to check the accumulate contract.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "kernels/backend.h"

namespace molt::kernels::reference {

using Vec = std::vector<double>;
using FVec = std::vector<float>;

// ---- linear ----------------------------------------------------------------------------
inline Vec matmul_forward(const FVec& x, const FVec& w, const FVec& b, int M, int K, int N) {
  Vec y(static_cast<size_t>(M) * N);
  for (int m = 0; m < M; ++m)
    for (int n = 0; n < N; ++n) {
      double sum = b.empty() ? 0.0 : b[n];
      for (int k = 0; k < K; ++k) sum += static_cast<double>(x[m * K + k]) * w[n * K + k];
      y[m * N + n] = sum;
    }
  return y;
}

struct LinearGrads {
  Vec dx, dw, db;
};
inline LinearGrads matmul_backward(const FVec& dy, const FVec& x, const FVec& w, int M, int K,
                                   int N) {
  LinearGrads g{Vec(static_cast<size_t>(M) * K), Vec(static_cast<size_t>(N) * K), Vec(N)};
  for (int m = 0; m < M; ++m)
    for (int n = 0; n < N; ++n) {
      const double d = dy[m * N + n];
      g.db[n] += d;
      for (int k = 0; k < K; ++k) {
        g.dx[m * K + k] += d * w[n * K + k];
        g.dw[n * K + k] += d * x[m * K + k];
      }
    }
  return g;
}

// ---- normalisation ---------------------------------------------------------------------
struct NormForward {
  Vec out, mean, rstd;
};
inline NormForward layernorm_forward(const FVec& x, const FVec& w, const FVec& b, int N, int C,
                                     double eps) {
  NormForward f{Vec(x.size()), Vec(N), Vec(N)};
  for (int n = 0; n < N; ++n) {
    double mean = 0.0, var = 0.0;
    for (int c = 0; c < C; ++c) mean += x[n * C + c];
    mean /= C;
    for (int c = 0; c < C; ++c) var += (x[n * C + c] - mean) * (x[n * C + c] - mean);
    var /= C;
    const double rstd = 1.0 / std::sqrt(var + eps);
    for (int c = 0; c < C; ++c)
      f.out[n * C + c] = (x[n * C + c] - mean) * rstd * w[c] + (b.empty() ? 0.0 : b[c]);
    f.mean[n] = mean;
    f.rstd[n] = rstd;
  }
  return f;
}

inline NormForward rmsnorm_forward(const FVec& x, const FVec& w, int N, int C, double eps) {
  NormForward f{Vec(x.size()), Vec(N), Vec(N)};
  for (int n = 0; n < N; ++n) {
    double ms = 0.0;
    for (int c = 0; c < C; ++c) ms += static_cast<double>(x[n * C + c]) * x[n * C + c];
    const double rstd = 1.0 / std::sqrt(ms / C + eps);
    for (int c = 0; c < C; ++c) f.out[n * C + c] = x[n * C + c] * rstd * w[c];
    f.rstd[n] = rstd;
  }
  return f;
}

struct NormGrads {
  Vec dx, dw, db;
};
// Gradient of Σ dy ⊙ norm(x), derived per row from the Jacobian entry by entry:
//   ∂x̂_c/∂x_k = rstd·([c=k] − 1/C − x̂_c·x̂_k/C)  (LayerNorm),  rstd·([c=k] − x̂_c·x̂_k/C) (RMS)
inline NormGrads norm_backward(const FVec& dy, const FVec& x, const FVec& w, int N, int C,
                               double eps, bool centered) {
  NormGrads g{Vec(x.size()), Vec(C), Vec(C)};
  const NormForward f = centered ? layernorm_forward(x, w, {}, N, C, eps)
                                 : rmsnorm_forward(x, w, N, C, eps);
  for (int n = 0; n < N; ++n) {
    const double mean = centered ? f.mean[n] : 0.0;
    const double rstd = f.rstd[n];
    Vec xhat(C);
    for (int c = 0; c < C; ++c) xhat[c] = (x[n * C + c] - mean) * rstd;
    for (int c = 0; c < C; ++c) {
      g.dw[c] += dy[n * C + c] * xhat[c];
      g.db[c] += dy[n * C + c];
    }
    for (int k = 0; k < C; ++k) {
      double sum = 0.0;
      for (int c = 0; c < C; ++c) {
        const double jac =
            rstd * ((c == k ? 1.0 : 0.0) - (centered ? 1.0 / C : 0.0) - xhat[c] * xhat[k] / C);
        sum += dy[n * C + c] * w[c] * jac;
      }
      g.dx[n * C + k] = sum;
    }
  }
  return g;
}

// ---- activations -----------------------------------------------------------------------
inline double gelu(double x) {
  const double u = std::sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x);
  return 0.5 * x * (1.0 + std::tanh(u));
}
inline double gelu_derivative(double x) {
  const double u = std::sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x);
  const double t = std::tanh(u);
  return 0.5 * (1.0 + t) +
         0.5 * x * (1.0 - t * t) * std::sqrt(2.0 / M_PI) * (1.0 + 3.0 * 0.044715 * x * x);
}

// ---- attention -------------------------------------------------------------------------
inline bool visible(const AttentionShape& s, int prefix, int i, int j) {
  switch (s.mask) {
    case AttentionMask::kBidirectional: return true;
    case AttentionMask::kCausal: return j <= i + (s.kv_tokens - s.q_tokens);
    case AttentionMask::kPrefix: return j <= i + (s.kv_tokens - s.q_tokens) || j < prefix;
  }
  return false;
}

struct AttentionForward {
  Vec out, lse;
};
struct AttentionGrads {
  Vec dq, dk, dv, dbias;
};

// Probabilities P[b][h][i][j] and scores, materialised in full.
struct AttentionInternals {
  std::vector<Vec> probs;  // index (b·H + h), each Tq·Tk
  Vec lse;
};

inline AttentionInternals attention_probabilities(const FVec& q, const FVec& k, const FVec& bias,
                                                  const std::vector<int32_t>& prefix,
                                                  const AttentionShape& s) {
  const int B = s.batch, H = s.heads, Tq = s.q_tokens, Tk = s.kv_tokens, D = s.head_dim;
  AttentionInternals r{std::vector<Vec>(B * H, Vec(static_cast<size_t>(Tq) * Tk)),
                       Vec(static_cast<size_t>(B) * H * Tq)};
  for (int b = 0; b < B; ++b)
    for (int h = 0; h < H; ++h)
      for (int i = 0; i < Tq; ++i) {
        const int prefix_length = prefix.empty() ? 0 : prefix[b];
        Vec score(Tk, -std::numeric_limits<double>::infinity());
        double max = -std::numeric_limits<double>::infinity();
        for (int j = 0; j < Tk; ++j) {
          if (!visible(s, prefix_length, i, j)) continue;
          double dot = 0.0;
          for (int d = 0; d < D; ++d)
            dot += static_cast<double>(q[(b * Tq + i) * s.q_row_stride + h * D + d]) *
                   k[(b * Tk + j) * s.kv_row_stride + h * D + d];
          score[j] = s.scale * dot + (bias.empty() ? 0.0 : bias[(h * Tq + i) * Tk + j]);
          max = std::max(max, score[j]);
        }
        double sum = 0.0;
        for (int j = 0; j < Tk; ++j) sum += std::isinf(score[j]) ? 0.0 : std::exp(score[j] - max);
        Vec& p = r.probs[b * H + h];
        for (int j = 0; j < Tk; ++j)
          p[i * Tk + j] = std::isinf(score[j]) ? 0.0 : std::exp(score[j] - max) / sum;
        r.lse[(b * H + h) * Tq + i] = max + std::log(sum);
      }
  return r;
}

inline AttentionForward attention_forward(const FVec& q, const FVec& k, const FVec& v,
                                          const FVec& bias, const std::vector<int32_t>& prefix,
                                          const AttentionShape& s) {
  const int B = s.batch, H = s.heads, Tq = s.q_tokens, Tk = s.kv_tokens, D = s.head_dim;
  const AttentionInternals r = attention_probabilities(q, k, bias, prefix, s);
  AttentionForward f{Vec(static_cast<size_t>(B) * Tq * H * D), r.lse};
  for (int b = 0; b < B; ++b)
    for (int h = 0; h < H; ++h)
      for (int i = 0; i < Tq; ++i)
        for (int d = 0; d < D; ++d) {
          double sum = 0.0;
          for (int j = 0; j < Tk; ++j)
            sum += r.probs[b * H + h][i * Tk + j] * v[(b * Tk + j) * s.kv_row_stride + h * D + d];
          f.out[(b * Tq + i) * H * D + h * D + d] = sum;
        }
  return f;
}

// dq, dk, dv are returned in the strided layouts of q, k, v (sized like them).
inline AttentionGrads attention_backward(const FVec& dout, const FVec& q, const FVec& k,
                                         const FVec& v, const FVec& bias,
                                         const std::vector<int32_t>& prefix,
                                         const AttentionShape& s) {
  const int B = s.batch, H = s.heads, Tq = s.q_tokens, Tk = s.kv_tokens, D = s.head_dim;
  const AttentionInternals r = attention_probabilities(q, k, bias, prefix, s);
  AttentionGrads g{Vec(q.size()), Vec(k.size()), Vec(v.size()),
                   Vec(static_cast<size_t>(H) * Tq * Tk)};
  for (int b = 0; b < B; ++b)
    for (int h = 0; h < H; ++h) {
      const Vec& P = r.probs[b * H + h];
      auto qa = [&](int i, int d) { return (b * Tq + i) * s.q_row_stride + h * D + d; };
      auto ka = [&](int j, int d) { return (b * Tk + j) * s.kv_row_stride + h * D + d; };
      auto oa = [&](int i, int d) { return (b * Tq + i) * H * D + h * D + d; };
      for (int i = 0; i < Tq; ++i) {
        Vec dP(Tk, 0.0);
        for (int j = 0; j < Tk; ++j)
          for (int d = 0; d < D; ++d) {
            dP[j] += dout[oa(i, d)] * static_cast<double>(v[ka(j, d)]);
            g.dv[ka(j, d)] += P[i * Tk + j] * dout[oa(i, d)];
          }
        double row = 0.0;
        for (int j = 0; j < Tk; ++j) row += P[i * Tk + j] * dP[j];
        for (int j = 0; j < Tk; ++j) {
          const double dS = P[i * Tk + j] * (dP[j] - row);
          g.dbias[(h * Tq + i) * Tk + j] += dS;
          for (int d = 0; d < D; ++d) {
            g.dq[qa(i, d)] += s.scale * dS * k[ka(j, d)];
            g.dk[ka(j, d)] += s.scale * dS * q[qa(i, d)];
          }
        }
      }
    }
  return g;
}

// ---- loss ------------------------------------------------------------------------------
struct CrossEntropy {
  Vec losses, dlogits;
};
inline CrossEntropy cross_entropy(const FVec& logits, const std::vector<int32_t>& targets, int N,
                                  int V, int ignore_index, double grad_scale) {
  CrossEntropy r{Vec(N), Vec(logits.size())};
  for (int n = 0; n < N; ++n) {
    if (targets[n] == ignore_index) continue;
    double max = logits[n * V];
    for (int j = 0; j < V; ++j) max = std::max(max, static_cast<double>(logits[n * V + j]));
    double sum = 0.0;
    for (int j = 0; j < V; ++j) sum += std::exp(logits[n * V + j] - max);
    const double lse = max + std::log(sum);
    r.losses[n] = lse - logits[n * V + targets[n]];
    for (int j = 0; j < V; ++j)
      r.dlogits[n * V + j] =
          grad_scale * (std::exp(logits[n * V + j] - lse) - (j == targets[n] ? 1.0 : 0.0));
  }
  return r;
}

// ---- optimizer -------------------------------------------------------------------------
struct AdamWState {
  double p, m, v;
};
inline AdamWState adamw_step(AdamWState s, double grad, const AdamWStep& step) {
  const double g = step.grad_scale * grad;
  s.m = step.beta1 * s.m + (1.0 - step.beta1) * g;
  s.v = step.beta2 * s.v + (1.0 - step.beta2) * g * g;
  const double mhat = s.m / (1.0 - std::pow(static_cast<double>(step.beta1), step.t));
  const double vhat = s.v / (1.0 - std::pow(static_cast<double>(step.beta2), step.t));
  s.p -= step.lr * (mhat / (std::sqrt(vhat) + step.eps) + step.weight_decay * s.p);
  return s;
}

}  // namespace molt::kernels::reference
