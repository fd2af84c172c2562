// The power laws of Kaplan et al. 2020, each a straight line in log-log space:
//
//   L(N) = (N_c / N)^α_N    ⇔  ln L = α_N·ln N_c − α_N·ln N
//   L(C) = (C_c / C)^α_C    ⇔  ln L = α_C·ln C_c − α_C·ln C
//
// L(N) describes models trained "to convergence", so it is fitted on, for each distinct
// N, the run with the most tokens. With a finite data budget this is an approximation
// (the irreducible and data terms are folded into the power law); the Chinchilla fit is
// the one that separates them.
//
// L(C) is fitted on the compute frontier: the lower envelope of loss against C over every
// point of every run's loss curve (metrics.jsonl) plus each run's final point. A point is
// on the frontier when no point with smaller or equal C has a lower loss. Only C at or
// above the smallest run's final C counts: below it the envelope is one run's own
// training curve (warm-up, plateau and all), which says nothing about how loss scales
// with compute across models, and would otherwise be most of the frontier.
#pragma once

#include <vector>

#include "jobs/fit_data.h"

namespace molt::fit {

struct KaplanPowerLaw {
  double scale = 0;     // N_c or C_c
  double exponent = 0;  // α_N or α_C
  double r_squared = 0;
  int points = 0;
  double at(double x) const;  // (scale / x)^exponent
};

constexpr int kKaplanMinimumSizes = 3;
constexpr int kKaplanMinimumFrontierPoints = 3;

// For each distinct N (the chosen count), the run with the most tokens.
std::vector<RunRecord> largest_data_run_per_size(const std::vector<RunRecord>& runs,
                                                 ParameterCount count);

// L(N) on largest_data_run_per_size; UserError with fewer than 3 distinct N.
KaplanPowerLaw fit_loss_vs_params(const std::vector<RunRecord>& runs, ParameterCount count);

struct FrontierPoint {
  double flops = 0;
  double loss = 0;
  double params = 0;  // of the run the point came from
};

// The compute frontier, by increasing C.
std::vector<FrontierPoint> compute_frontier(const std::vector<RunRecord>& runs,
                                            ParameterCount count);

// L(C) on the frontier of `runs`; UserError with fewer than 3 runs with C or fewer than 3
// frontier points.
KaplanPowerLaw fit_loss_vs_compute(const std::vector<RunRecord>& runs,
                                   const std::vector<FrontierPoint>& frontier);

}  // namespace molt::fit
