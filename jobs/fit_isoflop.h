// IsoFLOP profiles (Hoffmann et al. 2022, approach 2): at a fixed compute budget C, loss
// against log N is a valley; its bottom is the compute-optimal size for that budget.
//
// 1. Group runs by budget. A sweep that records a `budget` tag in summary.json is grouped
//    by the tag. Otherwise runs are grouped by C itself: sorted by C, a run joins the
//    current group while the group's largest C stays within 1.2× its smallest, so every
//    member lies within ±10 % of the group's geometric-mean C (the group's budget).
// 2. Per budget with at least 3 distinct N: least squares L = c0 + c1·x + c2·x², x = ln N.
//    If c2 ≤ 0 the profile has no valley and the budget is dropped with a note. Otherwise
//    N* = exp(−c1 / 2c2). A minimum outside the sampled N range is kept but flagged.
//    D* comes from the runs themselves: within a budget ln D is (nearly) linear in ln N,
//    since D = C / (FLOPs per token), so a line through (ln N, ln D) is read at ln N*.
//    This uses molt's C (with attention) rather than assuming C = 6ND.
// 3. Across ≥ 2 budgets: ln N* = ln k_N + a·ln C and ln D* = ln k_D + b·ln C (least squares).
//    Chinchilla's law predicts a = β/(α+β), b = α/(α+β), a + b ≈ 1.
#pragma once

#include <string>
#include <vector>

#include "jobs/fit_data.h"

namespace molt::fit {

struct IsoflopBudget {
  std::string label;  // the budget tag, or the geometric-mean C printed
  double flops = 0;   // geometric mean of the members' C
  int runs = 0;
  double c0 = 0, c1 = 0, c2 = 0;  // L = c0 + c1·ln N + c2·(ln N)²
  double min_params = 0, max_params = 0;
  double optimal_params = 0;  // N*
  double optimal_tokens = 0;  // D*
  double optimal_loss = 0;    // the parabola at N*
  bool inside_sampled_range = true;
  std::vector<size_t> members;  // indices into the input runs
};

struct PowerLawInC {
  double coefficient = 0;  // k in y = k·C^exponent
  double exponent = 0;
  double r_squared = 0;
};

struct IsoflopFit {
  std::vector<IsoflopBudget> budgets;  // the usable ones, by increasing C
  PowerLawInC optimal_params;          // N_opt ∝ C^a
  PowerLawInC optimal_tokens;          // D_opt ∝ C^b
  std::vector<std::string> notes;      // budgets dropped and why
};

constexpr int kIsoflopMinimumSizes = 3;
constexpr int kIsoflopMinimumBudgets = 2;

// Throws UserError naming what is missing when fewer than 2 budgets have ≥ 3 sizes each
// and a valley.
IsoflopFit fit_isoflop(const std::vector<RunRecord>& runs, ParameterCount count);

}  // namespace molt::fit
