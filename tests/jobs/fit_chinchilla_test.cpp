// Contract: fit_chinchilla recovers known constants of L(N,D) = E + A/N^α + B/D^β from
// noisy synthetic runs, its bootstrap intervals cover them, and it refuses data that
// cannot determine the law.
//
// Tolerances. The data are an 8×8 grid, N ∈ [1e7, 1e10] and D ∈ [1e9, 1e12] log-spaced,
// with Hoffmann et al.'s constants (E=1.69, A=406.4, B=410.7, α=0.34, β=0.28) times
// (1 + 1% Gaussian noise), seeded. At these sizes the A/N^α and B/D^β terms are 0.03–0.4
// nats, so 1 % noise on L ≈ 2 moves each point by a tenth of them; A and α (and B and β)
// trade off along a ridge, so exponents are held to ±0.05, E to ±0.1 and the
// loss the law predicts inside the sampled range to 1 %. A, B are checked through their
// effect (predictions) rather than directly: along the ridge they move by factors of 2.
#include "jobs/fit_chinchilla.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "kernels/error.h"

namespace molt::fit {
namespace {

const ChinchillaLaw kHoffmann{1.69, 406.4, 410.7, 0.34, 0.28};

std::vector<LossPoint> synthetic_grid(double noise, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> gauss(0.0, noise);
  std::vector<LossPoint> points;
  for (int i = 0; i < 8; ++i) {
    for (int j = 0; j < 8; ++j) {
      const double params = std::pow(10.0, 7 + 3.0 * i / 7);
      const double tokens = std::pow(10.0, 9 + 3.0 * j / 7);
      const double loss = kHoffmann.predict(params, tokens) * (1 + gauss(rng));
      points.push_back({params, tokens, loss});
    }
  }
  return points;
}

TEST(FitChinchilla, RecoversExactConstantsWithoutNoise) {
  ChinchillaOptions options;
  options.bootstrap_rounds = 0;
  const ChinchillaFit fit = fit_chinchilla(synthetic_grid(0.0, 1), options);
  EXPECT_NEAR(fit.law.E, 1.69, 1e-3);
  EXPECT_NEAR(fit.law.alpha, 0.34, 1e-3);
  EXPECT_NEAR(fit.law.beta, 0.28, 1e-3);
  EXPECT_NEAR(std::log(fit.law.A), std::log(406.4), 1e-2);
  EXPECT_NEAR(std::log(fit.law.B), std::log(410.7), 1e-2);
}

TEST(FitChinchilla, RecoversConstantsFromOnePercentNoiseWithCoveringIntervals) {
  ChinchillaOptions options;
  options.bootstrap_rounds = 60;
  const ChinchillaFit fit = fit_chinchilla(synthetic_grid(0.01, 7), options);
  EXPECT_NEAR(fit.law.alpha, 0.34, 0.05);
  EXPECT_NEAR(fit.law.beta, 0.28, 0.05);
  EXPECT_NEAR(fit.law.E, 1.69, 0.1);
  for (double params : {1e7, 1e8, 1e9, 1e10}) {
    for (double tokens : {1e9, 1e10, 1e11, 1e12}) {
      const double truth = kHoffmann.predict(params, tokens);
      EXPECT_NEAR(fit.law.predict(params, tokens) / truth, 1.0, 0.01) << params << " " << tokens;
    }
  }
  EXPECT_EQ(fit.bootstrap_rounds, 60);
  for (const Interval* interval : {&fit.E, &fit.alpha, &fit.beta}) {
    EXPECT_LE(interval->low, interval->value);
    EXPECT_GE(interval->high, interval->value);
    EXPECT_LT(interval->low, interval->high);
  }
  EXPECT_LE(fit.alpha.low, 0.34);
  EXPECT_GE(fit.alpha.high, 0.34);
  EXPECT_LE(fit.beta.low, 0.28);
  EXPECT_GE(fit.beta.high, 0.28);
}

TEST(FitChinchilla, ComputeOptimalAllocationMinimisesLossAtFixedCompute) {
  const double flops = 1e21;
  const ComputeOptimalAllocation best = compute_optimal_allocation(kHoffmann, flops);
  EXPECT_NEAR(6 * best.params * best.tokens / flops, 1.0, 1e-12);
  EXPECT_NEAR(best.tokens_per_param, best.tokens / best.params, 1e-12);
  for (double factor : {0.8, 1.25}) {  // any other split of the same C loses
    const double params = best.params * factor;
    EXPECT_GT(kHoffmann.predict(params, flops / (6 * params)), best.loss);
  }
  // Exponent β/(α+β) of N_opt in C.
  const double slope =
      std::log(compute_optimal_allocation(kHoffmann, 1e24).params / best.params) / std::log(1e3);
  EXPECT_NEAR(slope, 0.28 / 0.62, 1e-12);
}

TEST(FitChinchilla, RefusesTooFewRuns) {
  auto points = synthetic_grid(0.0, 1);
  points.resize(4);
  try {
    fit_chinchilla(points);
    FAIL() << "4 points accepted";
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("at least 5 runs"), std::string::npos) << e.what();
  }
}

TEST(FitChinchilla, RefusesASingleDataSize) {
  std::vector<LossPoint> points;
  for (double params : {1e6, 2e6, 4e6, 8e6, 16e6, 32e6}) {
    points.push_back({params, 1e9, kHoffmann.predict(params, 1e9)});
  }
  try {
    fit_chinchilla(points);
    FAIL() << "one D accepted";
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("2 distinct D"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace molt::fit
