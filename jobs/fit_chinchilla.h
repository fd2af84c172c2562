// The parametric scaling law of Hoffmann et al. 2022 ("Chinchilla", approach 3):
//
//   L(N, D) = E + A/N^α + B/D^β
//
// fitted in log space. With A = e^a, B = e^b, E = e^e the log of the prediction is a
// log-sum-exp, which is smooth and has no sign constraints to enforce:
//
//   log L̂ = LSE(a − α·log N,  b − β·log D,  e)
//
// The objective is Σ_i Huber_δ(log L̂_i − log L_i) with δ = 1e-3: quadratic for residuals
// under 0.1 % and linear beyond, so a few runs that went wrong (a loss spike at the end,
// a bad learning rate) pull on the fit with bounded force. The objective has many local
// minima in (a, b, α, β) — A and α trade off against each other — so L-BFGS (liblbfgs,
// analytic gradient) starts from every point of a grid and the best end point wins:
//   α, β ∈ {0, 0.5, 1, 1.5, 2},  e ∈ {−1, −0.5, 0, 0.5, 1},  a, b ∈ {0, 5, …, 25}.
//
// Uncertainty: a bootstrap over runs. Each round draws n runs with replacement (seeded)
// and refits; 95 % intervals are the 2.5th and 97.5th percentiles of the refits. A round
// does not search the whole grid again (4,500 starts × 200 rounds is minutes, not
// seconds): it starts from the full-data optimum and from the end points of the ten best
// grid starts, which covers the basins the full search found.
//
// Compute-optimal allocation: minimising L at fixed C with C ≈ 6·N·D gives
//   N_opt(C) = G·(C/6)^(β/(α+β)),  D_opt(C) = C/(6·N_opt),  G = (αA/(βB))^(1/(α+β)).
// molt's own C also counts attention (model/flops.h), so C = 6ND is an approximation
// here, good when 6·N dominates the per-token FLOPs; the report says so.
#pragma once

#include <cstdint>
#include <vector>

namespace molt::fit {

struct LossPoint {
  double params = 0;  // N (total or non-embedding; the caller chose)
  double tokens = 0;  // D
  double loss = 0;
};

struct ChinchillaLaw {
  double E = 0, A = 0, B = 0, alpha = 0, beta = 0;
  double predict(double params, double tokens) const;
};

struct Interval {
  double value = 0;  // from the fit to all runs
  double low = 0;    // 2.5th percentile of the bootstrap
  double high = 0;   // 97.5th percentile
};

struct ChinchillaFit {
  ChinchillaLaw law;
  double objective = 0;  // Σ Huber at the optimum
  Interval E, A, B, alpha, beta;
  int points = 0;
  int starts = 0;
  int bootstrap_rounds = 0;  // rounds that produced a finite fit
};

struct ChinchillaOptions {
  double huber_delta = 1e-3;
  int bootstrap_rounds = 200;
  uint64_t seed = 1234;
};

// At least this many points, with at least two distinct N and two distinct D: the law has
// five free constants.
constexpr int kChinchillaMinimumRuns = 5;

// Throws UserError when the points cannot determine the law (too few, one N, one D).
ChinchillaFit fit_chinchilla(const std::vector<LossPoint>& points,
                             const ChinchillaOptions& options = {});

struct ComputeOptimalAllocation {
  double flops = 0;
  double params = 0;  // N_opt
  double tokens = 0;  // D_opt
  double tokens_per_param = 0;
  double loss = 0;  // L(N_opt, D_opt)
};

ComputeOptimalAllocation compute_optimal_allocation(const ChinchillaLaw& law, double flops);

}  // namespace molt::fit
