// The figures of a fit report, all families on the same axes (one point shape and line
// style per family):
//   loss_vs_compute   every loss-curve point against C, coloured by log10 N, with each
//                     family's compute frontier and its fitted L(C) = (C_c/C)^α_C
//   isoflop           loss against N per compute budget, the fitted parabolas in ln N and
//                     their minima N*
//   observed_vs_fitted  each run's loss against the parametric law's prediction, with y = x
//   loss_vs_params    the largest-data run per size and the fitted L(N) = (N_c/N)^α_N
// A figure whose fit was skipped for every family is not drawn.
#pragma once

#include <string>
#include <vector>

#include "jobs/fit_families.h"

namespace molt::fit {

// Writes OUT/STEM.png and OUT/STEM.svg per figure, their data and scripts under
// OUT/plot_data/. Returns the stems drawn. Needs gnuplot (see plots.h).
std::vector<std::string> draw_fit_plots(const ScalingFits& fits, const std::string& out_dir);

}  // namespace molt::fit
