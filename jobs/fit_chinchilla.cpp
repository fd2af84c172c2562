// The Chinchilla parametric fit; the equations are in fit_chinchilla.h.
#include "jobs/fit_chinchilla.h"

#include <lbfgs.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <set>
#include <string>

#include "kernels/error.h"

namespace molt::fit {
namespace {

// θ = (a, b, e, α, β): log A, log B, log E and the two exponents.
constexpr int kThetaSize = 5;
struct Theta {
  double a, b, e, alpha, beta;
};

struct LogPoint {
  double log_params, log_tokens, log_loss;
};

struct Objective {
  const std::vector<LogPoint>* points;
  double delta;
};

// Σ Huber_δ(r_i)/δ and its gradient. Dividing by δ keeps the gradient O(1) in the linear
// part, so liblbfgs' relative stopping test means the same thing for any δ.
lbfgsfloatval_t huber_objective(void* instance, const lbfgsfloatval_t* x, lbfgsfloatval_t* g,
                                const int /*n*/, const lbfgsfloatval_t /*step*/) {
  const auto& objective = *static_cast<const Objective*>(instance);
  const double delta = objective.delta;
  double total = 0;
  for (int k = 0; k < kThetaSize; ++k) g[k] = 0;
  for (const LogPoint& p : *objective.points) {
    const double t1 = x[0] - x[3] * p.log_params;  // a − α·log N
    const double t2 = x[1] - x[4] * p.log_tokens;  // b − β·log D
    const double t3 = x[2];                        // e
    const double top = std::max(t1, std::max(t2, t3));
    const double w1 = std::exp(t1 - top), w2 = std::exp(t2 - top), w3 = std::exp(t3 - top);
    const double sum = w1 + w2 + w3;
    const double residual = top + std::log(sum) - p.log_loss;
    // Huber_δ(r) = r²/2 for |r| ≤ δ, δ(|r| − δ/2) beyond; its slope is clamp(r, −δ, δ).
    const double magnitude = std::fabs(residual);
    total += magnitude <= delta ? 0.5 * residual * residual : delta * (magnitude - 0.5 * delta);
    const double slope = std::clamp(residual, -delta, delta) / delta;
    // ∂ LSE/∂ t_j = softmax weight w_j / Σ w.
    g[0] += slope * w1 / sum;
    g[1] += slope * w2 / sum;
    g[2] += slope * w3 / sum;
    g[3] -= slope * w1 / sum * p.log_params;
    g[4] -= slope * w2 / sum * p.log_tokens;
  }
  return total / delta;
}

struct LocalFit {
  Theta theta;
  double objective;
};

LocalFit minimise_from(const Theta& start, const Objective& objective) {
  lbfgsfloatval_t* x = lbfgs_malloc(kThetaSize);
  x[0] = start.a, x[1] = start.b, x[2] = start.e, x[3] = start.alpha, x[4] = start.beta;
  lbfgs_parameter_t parameters;
  lbfgs_parameter_init(&parameters);
  parameters.max_iterations = 1000;
  parameters.epsilon = 1e-9;
  parameters.past = 5;
  parameters.delta = 1e-12;
  lbfgsfloatval_t value = 0;
  // Line-search failures (rounding errors near a kink of the Huber loss) still leave x at
  // the best point reached; it is kept and competes with the other starts on its value.
  lbfgs(kThetaSize, x, &value, huber_objective, nullptr, const_cast<Objective*>(&objective),
        &parameters);
  LocalFit fit{{x[0], x[1], x[2], x[3], x[4]}, value};
  lbfgs_free(x);
  if (!std::isfinite(fit.objective)) fit.objective = HUGE_VAL;
  return fit;
}

std::vector<Theta> initial_grid() {
  std::vector<Theta> grid;
  for (double alpha : {0.0, 0.5, 1.0, 1.5, 2.0}) {
    for (double beta : {0.0, 0.5, 1.0, 1.5, 2.0}) {
      for (double e : {-1.0, -0.5, 0.0, 0.5, 1.0}) {
        for (double a = 0; a <= 25; a += 5) {
          for (double b = 0; b <= 25; b += 5) grid.push_back({a, b, e, alpha, beta});
        }
      }
    }
  }
  return grid;
}

ChinchillaLaw law_of(const Theta& theta) {
  return {std::exp(theta.e), std::exp(theta.a), std::exp(theta.b), theta.alpha, theta.beta};
}

std::vector<LogPoint> to_log(const std::vector<LossPoint>& points) {
  std::vector<LogPoint> logs;
  for (const auto& p : points) {
    logs.push_back({std::log(p.params), std::log(p.tokens), std::log(p.loss)});
  }
  return logs;
}

void check_identifiable(const std::vector<LossPoint>& points) {
  std::set<double> params, tokens;
  for (const auto& p : points) {
    params.insert(p.params);
    tokens.insert(p.tokens);
  }
  if (static_cast<int>(points.size()) < kChinchillaMinimumRuns) {
    throw UserError("the parametric fit L(N,D) needs at least " +
                    std::to_string(kChinchillaMinimumRuns) + " runs (it has 5 constants); got " +
                    std::to_string(points.size()));
  }
  if (params.size() < 2 || tokens.size() < 2) {
    throw UserError(
        "the parametric fit L(N,D) needs at least 2 distinct N and 2 distinct D; "
        "got " +
        std::to_string(params.size()) + " N and " + std::to_string(tokens.size()) + " D values");
  }
}

double percentile(std::vector<double> values, double fraction) {
  std::sort(values.begin(), values.end());
  const double position = fraction * (values.size() - 1);
  const size_t below = static_cast<size_t>(std::floor(position));
  const size_t above = std::min(below + 1, values.size() - 1);
  return values[below] + (position - below) * (values[above] - values[below]);
}

Interval interval(double value, const std::vector<double>& samples) {
  if (samples.size() < 2) return {value, value, value};
  return {value, percentile(samples, 0.025), percentile(samples, 0.975)};
}

}  // namespace

double ChinchillaLaw::predict(double params, double tokens) const {
  return E + A / std::pow(params, alpha) + B / std::pow(tokens, beta);
}

ChinchillaFit fit_chinchilla(const std::vector<LossPoint>& points,
                             const ChinchillaOptions& options) {
  check_identifiable(points);
  const std::vector<LogPoint> logs = to_log(points);
  const Objective objective{&logs, options.huber_delta};

  std::vector<LocalFit> ends;
  for (const Theta& start : initial_grid()) ends.push_back(minimise_from(start, objective));
  std::sort(ends.begin(), ends.end(),
            [](const LocalFit& x, const LocalFit& y) { return x.objective < y.objective; });
  const LocalFit best = ends.front();
  if (!std::isfinite(best.objective)) throw UserError("the parametric fit did not converge");

  ChinchillaFit fit;
  fit.law = law_of(best.theta);
  fit.objective = best.objective * options.huber_delta;
  fit.points = static_cast<int>(points.size());
  fit.starts = static_cast<int>(ends.size());

  std::vector<Theta> bootstrap_starts{best.theta};
  for (size_t i = 0; i < std::min<size_t>(10, ends.size()); ++i) {
    bootstrap_starts.push_back(ends[i].theta);
  }
  std::mt19937_64 rng(options.seed);
  std::uniform_int_distribution<size_t> pick(0, logs.size() - 1);
  std::vector<double> E, A, B, alpha, beta;
  for (int round = 0; round < options.bootstrap_rounds; ++round) {
    std::vector<LogPoint> sample;
    for (size_t i = 0; i < logs.size(); ++i) sample.push_back(logs[pick(rng)]);
    const Objective resampled{&sample, options.huber_delta};
    LocalFit round_best{{}, HUGE_VAL};
    for (const Theta& start : bootstrap_starts) {
      LocalFit local = minimise_from(start, resampled);
      if (local.objective < round_best.objective) round_best = local;
    }
    if (!std::isfinite(round_best.objective)) continue;
    const ChinchillaLaw law = law_of(round_best.theta);
    E.push_back(law.E), A.push_back(law.A), B.push_back(law.B);
    alpha.push_back(law.alpha), beta.push_back(law.beta);
  }
  fit.bootstrap_rounds = static_cast<int>(E.size());
  fit.E = interval(fit.law.E, E);
  fit.A = interval(fit.law.A, A);
  fit.B = interval(fit.law.B, B);
  fit.alpha = interval(fit.law.alpha, alpha);
  fit.beta = interval(fit.law.beta, beta);
  return fit;
}

ComputeOptimalAllocation compute_optimal_allocation(const ChinchillaLaw& law, double flops) {
  const double sum = law.alpha + law.beta;
  const double G = std::pow(law.alpha * law.A / (law.beta * law.B), 1.0 / sum);
  ComputeOptimalAllocation allocation;
  allocation.flops = flops;
  allocation.params = G * std::pow(flops / 6.0, law.beta / sum);
  allocation.tokens = flops / (6.0 * allocation.params);
  allocation.tokens_per_param = allocation.tokens / allocation.params;
  allocation.loss = law.predict(allocation.params, allocation.tokens);
  return allocation;
}

}  // namespace molt::fit
