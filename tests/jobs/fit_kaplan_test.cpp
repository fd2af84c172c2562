// Contract: L(N) = (N_c/N)^α_N is recovered from noisy runs using, per size, the run with
// the most data; the compute frontier is the lower envelope of all curves and L(C) fitted
// on it recovers α_C; too few sizes or runs is a UserError.
//
// Tolerances: α_N = 0.076 over three decades of N with 1 % noise on L has a standard error
// near 0.0015, so ±0.006 (4σ). The frontier test is noiseless; each run's curve falls as
// C^-1 into its end point on the law, so between end points a few curve points lie just
// above the law (the last 10 % of each run): α_C = 0.05 is held to ±0.003.
#include "jobs/fit_kaplan.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "kernels/error.h"

namespace molt::fit {
namespace {

RunRecord run_with(double params, double tokens, double loss) {
  RunRecord run;
  run.name = "N" + std::to_string(params) + "-D" + std::to_string(tokens);
  run.family = "decoder";
  run.params_total = run.params_nonembed = params;
  run.tokens = tokens;
  run.flops = 6 * params * tokens;
  run.loss = loss;
  return run;
}

TEST(FitKaplan, RecoversLossVersusParamsFromTheLargestDataRuns) {
  const double scale = 8.8e13, exponent = 0.076;
  std::mt19937_64 rng(11);
  std::normal_distribution<double> noise(0.0, 0.01);
  std::vector<RunRecord> runs;
  for (int i = 0; i < 10; ++i) {
    const double params = std::pow(10.0, 6 + i / 3.0);
    const double loss = std::pow(scale / params, exponent) * (1 + noise(rng));
    runs.push_back(run_with(params, 1e10, loss));
    runs.push_back(run_with(params, 1e8, loss * 1.3));  // under-trained: must be ignored
  }
  EXPECT_EQ(largest_data_run_per_size(runs, ParameterCount::non_embedding).size(), 10u);
  const KaplanPowerLaw law = fit_loss_vs_params(runs, ParameterCount::non_embedding);
  EXPECT_NEAR(law.exponent, exponent, 0.006);
  EXPECT_NEAR(std::log10(law.scale), std::log10(scale), 0.5);
  EXPECT_EQ(law.points, 10);
}

TEST(FitKaplan, FrontierIsTheLowerEnvelopeAndRecoversLossVersusCompute) {
  const double scale = 3.1e8, exponent = 0.05;  // L(C) = (C_c/C)^α_C, C in PF-days-free units
  auto law = [&](double flops) { return std::pow(scale / flops, exponent); };
  std::vector<RunRecord> runs;
  for (int i = 0; i < 6; ++i) {
    const double end_flops = std::pow(10.0, 15 + i);
    RunRecord run = run_with(1e6 * (i + 1), end_flops / 6e6 / (i + 1), law(end_flops));
    for (int k = 1; k <= 20; ++k) {  // the curve falls as C^-1 into its end point
      const double flops = end_flops * k / 20.0;
      run.curve.push_back({flops, run.tokens * k / 20.0, law(end_flops) * end_flops / flops});
    }
    runs.push_back(run);
  }
  const auto frontier = compute_frontier(runs, ParameterCount::non_embedding);
  for (size_t i = 1; i < frontier.size(); ++i) {
    EXPECT_GT(frontier[i].flops, frontier[i - 1].flops);
    EXPECT_LT(frontier[i].loss, frontier[i - 1].loss);
  }
  for (const auto& run : runs) {  // every end point lies on the law, so on the frontier
    bool found = false;
    for (const auto& point : frontier) found |= std::fabs(point.flops / run.flops - 1) < 1e-9;
    EXPECT_TRUE(found) << run.name;
  }
  const KaplanPowerLaw fit = fit_loss_vs_compute(runs, frontier);
  EXPECT_NEAR(fit.exponent, exponent, 0.003);
}

TEST(FitKaplan, TooFewSizesIsAUserError) {
  std::vector<RunRecord> runs{run_with(1e6, 1e9, 4.0), run_with(2e6, 1e9, 3.8),
                              run_with(2e6, 1e8, 4.1)};
  try {
    fit_loss_vs_params(runs, ParameterCount::non_embedding);
    FAIL() << "two sizes accepted";
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("at least 3 distinct model sizes; got 2"),
              std::string::npos)
        << e.what();
  }
  runs.pop_back();
  try {
    fit_loss_vs_compute(runs, compute_frontier(runs, ParameterCount::non_embedding));
    FAIL() << "two runs accepted for L(C)";
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("at least 3 runs with C"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace molt::fit
