// All of `molt fit`'s fits, per model family. Decoder and encoder-decoder runs given
// together are fitted separately (their laws are the thing being compared) and drawn on
// the same axes. Each fit that the data cannot support is skipped with a note saying why;
// only when no fit at all can be made is that a UserError, carrying every reason.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "jobs/fit_chinchilla.h"
#include "jobs/fit_data.h"
#include "jobs/fit_isoflop.h"
#include "jobs/fit_kaplan.h"

namespace molt::fit {

struct FamilyFits {
  std::string family;
  std::vector<RunRecord> runs;
  std::optional<ChinchillaFit> parametric;
  std::optional<IsoflopFit> isoflop;
  std::optional<KaplanPowerLaw> loss_vs_params;
  std::vector<FrontierPoint> frontier;
  std::optional<KaplanPowerLaw> loss_vs_compute;
  std::vector<std::string> notes;  // fits skipped, budgets dropped
};

struct ScalingFits {
  std::string source;  // what was read: folders or a CSV
  std::string metric;  // val_loss, final_loss, val/NAME, or "loss" for a CSV
  ParameterCount count = ParameterCount::non_embedding;
  std::vector<FamilyFits> families;  // alphabetical by family name
  std::vector<SkippedInput> skipped;
};

ScalingFits fit_all_families(const RunTable& table, const std::string& source,
                             const std::string& metric, ParameterCount count,
                             const ChinchillaOptions& options);

}  // namespace molt::fit
