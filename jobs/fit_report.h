// What `molt fit` leaves in its output folder:
//
// fit.json — machine-readable. Top level: the parametric constants `E`, `A`, `B`, `alpha`,
//   `beta`, each {value, ci_low, ci_high}, plus `isoflop` and `kaplan`, for the first
//   family in alphabetical order (the only one, usually; "decoder" before "encdec").
//   `family` names it. Every family, the first included, is under `families: {name: {...}}`
//   with the same keys. Also: `formulas`, `flops_formula`, `params` (the N used),
//   `metric`, `counts`, `skipped`, `notes`. A fit that was skipped is absent and a note says
//   why.
// report.md — for people: the constants unrounded (%.17g) with their 95 % intervals, the
//   formulas, molt's FLOP accounting, the compute-optimal allocation at 1e18, 1e21 and
//   1e24 FLOPs, IsoFLOP minima, Kaplan exponents, the plots, notes and a table of runs.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "jobs/fit_families.h"

namespace molt::fit {

nlohmann::json fit_json(const ScalingFits& fits);

// `plots` are the stems drawn (see fit_plots.h); `plots_note` says why there are none.
std::string report_markdown(const ScalingFits& fits, const std::vector<std::string>& plots,
                            const std::string& plots_note);

}  // namespace molt::fit
