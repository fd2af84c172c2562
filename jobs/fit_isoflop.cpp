// IsoFLOP profiles; the method is in fit_isoflop.h.
#include "jobs/fit_isoflop.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>

#include "jobs/fit_least_squares.h"
#include "kernels/error.h"

namespace molt::fit {
namespace {

std::vector<std::vector<size_t>> group_by_tag(const std::vector<RunRecord>& runs) {
  std::map<std::string, std::vector<size_t>> groups;
  for (size_t i = 0; i < runs.size(); ++i) groups[*runs[i].budget].push_back(i);
  std::vector<std::vector<size_t>> result;
  for (auto& [tag, members] : groups) result.push_back(members);
  return result;
}

// Runs sorted by C; a group closes when the next C exceeds 1.2× the group's smallest.
std::vector<std::vector<size_t>> group_by_flops(const std::vector<RunRecord>& runs) {
  std::vector<size_t> order(runs.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(),
            [&](size_t x, size_t y) { return runs[x].flops < runs[y].flops; });
  std::vector<std::vector<size_t>> groups;
  for (size_t index : order) {
    if (groups.empty() || runs[index].flops > 1.2 * runs[groups.back().front()].flops) {
      groups.push_back({});
    }
    groups.back().push_back(index);
  }
  return groups;
}

double geometric_mean_flops(const std::vector<RunRecord>& runs, const std::vector<size_t>& group) {
  double sum = 0;
  for (size_t i : group) sum += std::log(runs[i].flops);
  return std::exp(sum / group.size());
}

PowerLawInC fit_power_in_c(const std::vector<double>& flops, const std::vector<double>& values) {
  std::vector<double> x, y;
  for (size_t i = 0; i < flops.size(); ++i) {
    x.push_back(std::log(flops[i]));
    y.push_back(std::log(values[i]));
  }
  const LineFit line = fit_line(x, y);
  return {std::exp(line.intercept), line.slope, line.r_squared};
}

}  // namespace

IsoflopFit fit_isoflop(const std::vector<RunRecord>& runs, ParameterCount count) {
  for (const auto& run : runs) {
    if (!(run.flops > 0)) {
      throw UserError("IsoFLOP profiles need C for every run; " + run.name + " has none");
    }
  }
  const bool tagged = !runs.empty() && std::all_of(runs.begin(), runs.end(), [](const auto& r) {
    return r.budget.has_value();
  });
  IsoflopFit fit;
  for (const auto& group : tagged ? group_by_tag(runs) : group_by_flops(runs)) {
    IsoflopBudget budget;
    budget.flops = geometric_mean_flops(runs, group);
    budget.label = tagged ? *runs[group.front()].budget : format_flops(budget.flops);
    budget.runs = static_cast<int>(group.size());
    budget.members = group;
    std::vector<double> log_params, losses, log_tokens;
    std::set<double> sizes;
    for (size_t i : group) {
      log_params.push_back(std::log(runs[i].params(count)));
      log_tokens.push_back(std::log(runs[i].tokens));
      losses.push_back(runs[i].loss);
      sizes.insert(runs[i].params(count));
    }
    if (static_cast<int>(sizes.size()) < kIsoflopMinimumSizes) {
      fit.notes.push_back("budget " + budget.label + ": " + std::to_string(sizes.size()) +
                          " distinct sizes, an IsoFLOP profile needs " +
                          std::to_string(kIsoflopMinimumSizes) + "; dropped");
      continue;
    }
    const ParabolaFit parabola = fit_parabola(log_params, losses);
    if (!parabola.has_minimum()) {
      fit.notes.push_back("budget " + budget.label +
                          ": loss against ln N curves downward (no valley); dropped");
      continue;
    }
    budget.c0 = parabola.c0, budget.c1 = parabola.c1, budget.c2 = parabola.c2;
    budget.min_params = *sizes.begin();
    budget.max_params = *sizes.rbegin();
    const double log_optimum = parabola.argmin();
    budget.optimal_params = std::exp(log_optimum);
    budget.optimal_loss = parabola.at(log_optimum);
    const LineFit tokens_line = fit_line(log_params, log_tokens);
    budget.optimal_tokens = std::exp(tokens_line.intercept + tokens_line.slope * log_optimum);
    budget.inside_sampled_range =
        budget.optimal_params >= budget.min_params && budget.optimal_params <= budget.max_params;
    if (!budget.inside_sampled_range) {
      fit.notes.push_back("budget " + budget.label +
                          ": the minimum lies outside the sampled sizes (extrapolated)");
    }
    fit.budgets.push_back(budget);
  }
  std::sort(fit.budgets.begin(), fit.budgets.end(),
            [](const auto& x, const auto& y) { return x.flops < y.flops; });
  if (static_cast<int>(fit.budgets.size()) < kIsoflopMinimumBudgets) {
    std::string message =
        "IsoFLOP profiles need at least " + std::to_string(kIsoflopMinimumBudgets) +
        " compute budgets with >= " + std::to_string(kIsoflopMinimumSizes) +
        " model sizes each; found " + std::to_string(fit.budgets.size()) + " usable";
    for (const auto& note : fit.notes) message += "; " + note;
    throw UserError(message);
  }
  std::vector<double> flops, params, tokens;
  for (const auto& budget : fit.budgets) {
    flops.push_back(budget.flops);
    params.push_back(budget.optimal_params);
    tokens.push_back(budget.optimal_tokens);
  }
  fit.optimal_params = fit_power_in_c(flops, params);
  fit.optimal_tokens = fit_power_in_c(flops, tokens);
  return fit;
}

}  // namespace molt::fit
