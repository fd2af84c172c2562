// Runs every fit per family; see fit_families.h.
#include "jobs/fit_families.h"

#include "kernels/error.h"

namespace molt::fit {
namespace {

// Runs `fit` and stores its result, or the UserError's message as a note.
template <typename Fit>
void attempt(const std::string& what, std::vector<std::string>& notes, Fit&& fit) {
  try {
    fit();
  } catch (const UserError& e) {
    notes.push_back(what + " skipped: " + e.what());
  }
}

FamilyFits fit_family(const std::string& family, std::vector<RunRecord> runs, ParameterCount count,
                      const ChinchillaOptions& options) {
  FamilyFits fits;
  fits.family = family;
  fits.runs = std::move(runs);
  std::vector<LossPoint> points;
  for (const auto& run : fits.runs) points.push_back({run.params(count), run.tokens, run.loss});
  attempt("parametric fit L(N,D)", fits.notes,
          [&] { fits.parametric = fit_chinchilla(points, options); });
  attempt("IsoFLOP profiles", fits.notes, [&] {
    fits.isoflop = fit_isoflop(fits.runs, count);
    for (const auto& note : fits.isoflop->notes) fits.notes.push_back("IsoFLOP: " + note);
  });
  attempt("Kaplan L(N)", fits.notes,
          [&] { fits.loss_vs_params = fit_loss_vs_params(fits.runs, count); });
  fits.frontier = compute_frontier(fits.runs, count);
  attempt("Kaplan L(C)", fits.notes,
          [&] { fits.loss_vs_compute = fit_loss_vs_compute(fits.runs, fits.frontier); });
  return fits;
}

bool any_fit(const FamilyFits& fits) {
  return fits.parametric || fits.isoflop || fits.loss_vs_params || fits.loss_vs_compute;
}

}  // namespace

ScalingFits fit_all_families(const RunTable& table, const std::string& source,
                             const std::string& metric, ParameterCount count,
                             const ChinchillaOptions& options) {
  if (table.runs.empty()) {
    std::string message = source + ": no finished runs to fit";
    for (const auto& skipped : table.skipped) {
      message += "; skipped " + skipped.path + " (" + skipped.reason + ")";
    }
    throw UserError(message);
  }
  ScalingFits result;
  result.source = source;
  result.metric = metric;
  result.count = count;
  result.skipped = table.skipped;
  bool anything = false;
  std::string reasons;
  for (const auto& family : family_names(table)) {
    result.families.push_back(fit_family(family, runs_of_family(table, family), count, options));
    anything |= any_fit(result.families.back());
    for (const auto& note : result.families.back().notes) reasons += "\n  " + family + ": " + note;
  }
  if (!anything) throw UserError("no scaling law could be fitted:" + reasons);
  return result;
}

}  // namespace molt::fit
