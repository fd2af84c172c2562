// Kaplan power laws; the definitions are in fit_kaplan.h.
#include "jobs/fit_kaplan.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "jobs/fit_least_squares.h"
#include "kernels/error.h"

namespace molt::fit {
namespace {

// ln L = intercept + slope·ln x  ⇒  exponent = −slope, scale = exp(intercept / exponent).
KaplanPowerLaw power_law_through(const std::vector<double>& x, const std::vector<double>& loss) {
  std::vector<double> log_x, log_loss;
  for (size_t i = 0; i < x.size(); ++i) {
    log_x.push_back(std::log(x[i]));
    log_loss.push_back(std::log(loss[i]));
  }
  const LineFit line = fit_line(log_x, log_loss);
  KaplanPowerLaw law;
  law.exponent = -line.slope;
  law.scale = std::exp(line.intercept / law.exponent);
  law.r_squared = line.r_squared;
  law.points = static_cast<int>(x.size());
  return law;
}

}  // namespace

double KaplanPowerLaw::at(double x) const { return std::pow(scale / x, exponent); }

std::vector<RunRecord> largest_data_run_per_size(const std::vector<RunRecord>& runs,
                                                 ParameterCount count) {
  std::map<double, RunRecord> best;
  for (const auto& run : runs) {
    auto found = best.find(run.params(count));
    if (found == best.end() || run.tokens > found->second.tokens) best[run.params(count)] = run;
  }
  std::vector<RunRecord> result;
  for (auto& [params, run] : best) result.push_back(run);
  return result;
}

KaplanPowerLaw fit_loss_vs_params(const std::vector<RunRecord>& runs, ParameterCount count) {
  const auto chosen = largest_data_run_per_size(runs, count);
  if (static_cast<int>(chosen.size()) < kKaplanMinimumSizes) {
    throw UserError("L(N) needs at least " + std::to_string(kKaplanMinimumSizes) +
                    " distinct model sizes; got " + std::to_string(chosen.size()));
  }
  std::vector<double> params, loss;
  for (const auto& run : chosen) {
    params.push_back(run.params(count));
    loss.push_back(run.loss);
  }
  return power_law_through(params, loss);
}

std::vector<FrontierPoint> compute_frontier(const std::vector<RunRecord>& runs,
                                            ParameterCount count) {
  double smallest_final_flops = HUGE_VAL;
  for (const auto& run : runs) {
    if (run.flops > 0) smallest_final_flops = std::min(smallest_final_flops, run.flops);
  }
  std::vector<FrontierPoint> candidates;
  for (const auto& run : runs) {
    if (run.flops > 0) candidates.push_back({run.flops, run.loss, run.params(count)});
    for (const auto& point : run.curve) {
      if (point.flops >= smallest_final_flops) {
        candidates.push_back({point.flops, point.loss, run.params(count)});
      }
    }
  }
  std::sort(candidates.begin(), candidates.end(), [](const auto& x, const auto& y) {
    return x.flops < y.flops || (x.flops == y.flops && x.loss < y.loss);
  });
  std::vector<FrontierPoint> frontier;
  for (const auto& point : candidates) {
    if (frontier.empty() || point.loss < frontier.back().loss) {
      if (!frontier.empty() && frontier.back().flops == point.flops) continue;
      frontier.push_back(point);
    }
  }
  return frontier;
}

KaplanPowerLaw fit_loss_vs_compute(const std::vector<RunRecord>& runs,
                                   const std::vector<FrontierPoint>& frontier) {
  const auto with_flops =
      std::count_if(runs.begin(), runs.end(), [](const RunRecord& run) { return run.flops > 0; });
  if (with_flops < kKaplanMinimumSizes) {
    throw UserError("L(C) needs at least " + std::to_string(kKaplanMinimumSizes) +
                    " runs with C (fewer make a frontier of one or two training curves); got " +
                    std::to_string(with_flops));
  }
  if (static_cast<int>(frontier.size()) < kKaplanMinimumFrontierPoints) {
    throw UserError("L(C) needs at least " + std::to_string(kKaplanMinimumFrontierPoints) +
                    " points on the compute frontier (runs with C); got " +
                    std::to_string(frontier.size()));
  }
  std::vector<double> flops, loss;
  for (const auto& point : frontier) {
    flops.push_back(point.flops);
    loss.push_back(point.loss);
  }
  return power_law_through(flops, loss);
}

}  // namespace molt::fit
