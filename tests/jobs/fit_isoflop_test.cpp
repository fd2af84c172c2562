// Contract: IsoFLOP profiles of runs generated from a known parametric law recover the law's
// compute-optimal exponents a = β/(α+β) and b = α/(α+β); runs are grouped by budget tag or
// by C within ±10 %; budgets that cannot give a profile are dropped with a note, and fewer
// than two usable budgets is a UserError.
//
// Tolerance: the data are noiseless, but a parabola in ln N is only an approximation of
// the law's valley, and the size grid is deliberately off-centre (from 0.7 decades below
// to 0.9 above the true optimum), so each N* is biased by a similar factor at every budget.
// The exponents are held to ±0.02 and N* itself to a factor of 1.25.
#include "jobs/fit_isoflop.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "jobs/fit_chinchilla.h"
#include "kernels/error.h"

namespace molt::fit {
namespace {

const ChinchillaLaw kLaw{1.69, 406.4, 410.7, 0.34, 0.28};

RunRecord run_at(double params, double flops, double jitter = 1.0) {
  RunRecord run;
  run.name = "N" + std::to_string(params);
  run.family = "decoder";
  run.params_total = run.params_nonembed = params;
  run.flops = flops * jitter;
  run.tokens = run.flops / (6 * params);
  run.loss = kLaw.predict(params, run.tokens);
  return run;
}

std::vector<RunRecord> isoflop_sweep(const std::vector<double>& budgets, int sizes,
                                     double jitter_fraction = 0) {
  std::mt19937_64 rng(3);
  std::uniform_real_distribution<double> jitter(1 - jitter_fraction, 1 + jitter_fraction);
  std::vector<RunRecord> runs;
  for (double flops : budgets) {
    const double optimum = compute_optimal_allocation(kLaw, flops).params;
    for (int k = 0; k < sizes; ++k) {
      const double decades = -0.7 + 1.6 * k / (sizes - 1);
      runs.push_back(run_at(optimum * std::pow(10.0, decades), flops, jitter(rng)));
    }
  }
  return runs;
}

TEST(FitIsoflop, RecoversComputeOptimalExponents) {
  const std::vector<double> budgets{1e18, 1e19, 1e20, 1e21};
  const IsoflopFit fit = fit_isoflop(isoflop_sweep(budgets, 9), ParameterCount::non_embedding);
  ASSERT_EQ(fit.budgets.size(), 4u);
  EXPECT_NEAR(fit.optimal_params.exponent, 0.28 / 0.62, 0.02);
  EXPECT_NEAR(fit.optimal_tokens.exponent, 0.34 / 0.62, 0.02);
  for (const auto& budget : fit.budgets) {
    const double truth = compute_optimal_allocation(kLaw, budget.flops).params;
    EXPECT_NEAR(std::log(budget.optimal_params / truth), 0.0, std::log(1.25)) << budget.label;
    EXPECT_TRUE(budget.inside_sampled_range);
    EXPECT_EQ(budget.runs, 9);
  }
}

TEST(FitIsoflop, GroupsRunsWhoseComputeDiffersByUnderTenPercent) {
  const std::vector<double> budgets{1e18, 1e19, 1e20};
  const IsoflopFit fit =
      fit_isoflop(isoflop_sweep(budgets, 7, 0.08), ParameterCount::non_embedding);
  ASSERT_EQ(fit.budgets.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(fit.budgets[i].runs, 7);
    EXPECT_NEAR(std::log10(fit.budgets[i].flops), std::log10(budgets[i]), 0.05);
  }
}

TEST(FitIsoflop, GroupsByBudgetTagWhenEveryRunHasOne) {
  auto runs = isoflop_sweep({1e18, 1e19}, 5);
  for (size_t i = 0; i < runs.size(); ++i) runs[i].budget = i < 5 ? "small" : "large";
  const IsoflopFit fit = fit_isoflop(runs, ParameterCount::non_embedding);
  ASSERT_EQ(fit.budgets.size(), 2u);
  EXPECT_EQ(fit.budgets[0].label, "small");
  EXPECT_EQ(fit.budgets[1].label, "large");
}

TEST(FitIsoflop, OneBudgetIsAUserErrorThatSaysWhatIsNeeded) {
  try {
    fit_isoflop(isoflop_sweep({1e19}, 6), ParameterCount::non_embedding);
    FAIL() << "one budget accepted";
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("at least 2 compute budgets with >= 3 model sizes"),
              std::string::npos)
        << e.what();
  }
}

TEST(FitIsoflop, BudgetWithTwoSizesIsDroppedWithANote) {
  auto runs = isoflop_sweep({1e18, 1e19, 1e20}, 5);
  auto sparse = isoflop_sweep({1e22}, 2);
  runs.insert(runs.end(), sparse.begin(), sparse.end());
  const IsoflopFit fit = fit_isoflop(runs, ParameterCount::non_embedding);
  EXPECT_EQ(fit.budgets.size(), 3u);
  ASSERT_EQ(fit.notes.size(), 1u);
  EXPECT_NE(fit.notes[0].find("2 distinct sizes"), std::string::npos) << fit.notes[0];
}

}  // namespace
}  // namespace molt::fit
