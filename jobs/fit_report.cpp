// fit.json and report.md; their layout is described in fit_report.h.
#include "jobs/fit_report.h"

#include <cstdio>
#include <sstream>

#include "model/flops.h"

namespace molt::fit {
namespace {

const char* kParametricFormula = "L(N,D) = E + A/N^alpha + B/D^beta";
const char* kParametricObjective =
    "minimise sum_i Huber_delta(LSE(a - alpha*ln N_i, b - beta*ln D_i, e) - ln L_i), "
    "delta = 1e-3, A = e^a, B = e^b, E = e^e; L-BFGS from a grid of 4500 starts";
const char* kAllocationFormula =
    "N_opt(C) = G*(C/6)^(beta/(alpha+beta)), G = (alpha*A/(beta*B))^(1/(alpha+beta)), "
    "D_opt = C/(6*N_opt); assumes C = 6*N*D";
const char* kIsoflopFormula =
    "per budget: L = c0 + c1*ln N + c2*(ln N)^2, N* = exp(-c1/(2*c2)); N_opt = k_N*C^a, "
    "D_opt = k_D*C^b";
const char* kLossVsParamsFormula = "L(N) = (N_c/N)^alpha_N, on the largest-D run per N";
const char* kLossVsComputeFormula = "L(C) = (C_c/C)^alpha_C, on the compute frontier";
const double kAllocationBudgets[] = {1e18, 1e21, 1e24};

std::string g17(double value) {
  char text[40];
  std::snprintf(text, sizeof text, "%.17g", value);
  return text;
}

std::string g4(double value) {
  char text[40];
  std::snprintf(text, sizeof text, "%.4g", value);
  return text;
}

nlohmann::json interval_json(const Interval& interval) {
  return {{"value", interval.value}, {"ci_low", interval.low}, {"ci_high", interval.high}};
}

nlohmann::json parametric_json(const ChinchillaFit& fit) {
  nlohmann::json allocation = nlohmann::json::array();
  for (double flops : kAllocationBudgets) {
    const auto best = compute_optimal_allocation(fit.law, flops);
    allocation.push_back({{"C", flops},
                          {"N_opt", best.params},
                          {"D_opt", best.tokens},
                          {"tokens_per_param", best.tokens_per_param},
                          {"loss", best.loss}});
  }
  return {{"E", interval_json(fit.E)},
          {"A", interval_json(fit.A)},
          {"B", interval_json(fit.B)},
          {"alpha", interval_json(fit.alpha)},
          {"beta", interval_json(fit.beta)},
          {"huber_objective", fit.objective},
          {"points", fit.points},
          {"starts", fit.starts},
          {"bootstrap_rounds", fit.bootstrap_rounds},
          {"interval", "95% bootstrap percentile (2.5th, 97.5th), runs resampled"},
          {"compute_optimal", allocation}};
}

nlohmann::json isoflop_json(const IsoflopFit& fit) {
  nlohmann::json budgets = nlohmann::json::array();
  for (const auto& b : fit.budgets) {
    budgets.push_back({{"label", b.label},
                       {"C", b.flops},
                       {"runs", b.runs},
                       {"parabola", {b.c0, b.c1, b.c2}},
                       {"N_opt", b.optimal_params},
                       {"D_opt", b.optimal_tokens},
                       {"loss_at_opt", b.optimal_loss},
                       {"inside_sampled_range", b.inside_sampled_range}});
  }
  return {{"budgets", budgets},
          {"N_opt",
           {{"coefficient", fit.optimal_params.coefficient},
            {"exponent_a", fit.optimal_params.exponent},
            {"r_squared", fit.optimal_params.r_squared}}},
          {"D_opt",
           {{"coefficient", fit.optimal_tokens.coefficient},
            {"exponent_b", fit.optimal_tokens.exponent},
            {"r_squared", fit.optimal_tokens.r_squared}}}};
}

nlohmann::json power_law_json(const KaplanPowerLaw& law, const char* scale, const char* exponent) {
  return {{scale, law.scale},
          {exponent, law.exponent},
          {"r_squared", law.r_squared},
          {"points", law.points}};
}

nlohmann::json family_json(const FamilyFits& family) {
  nlohmann::json result = {{"runs", family.runs.size()}, {"notes", family.notes}};
  if (family.parametric) result.update(parametric_json(*family.parametric));
  if (family.isoflop) result["isoflop"] = isoflop_json(*family.isoflop);
  nlohmann::json kaplan = nlohmann::json::object();
  if (family.loss_vs_params) {
    kaplan["L_N"] = power_law_json(*family.loss_vs_params, "N_c", "alpha_N");
  }
  if (family.loss_vs_compute) {
    kaplan["L_C"] = power_law_json(*family.loss_vs_compute, "C_c", "alpha_C");
    kaplan["L_C"]["frontier_points"] = family.frontier.size();
  }
  if (!kaplan.empty()) result["kaplan"] = kaplan;
  return result;
}

void write_parametric(std::ostringstream& md, const ChinchillaFit& fit) {
  md << "Fit to " << fit.points << " runs, best of " << fit.starts << " L-BFGS starts; "
     << "95 % intervals from " << fit.bootstrap_rounds << " bootstrap rounds over runs.\n\n"
     << "| constant | value | 95 % low | 95 % high |\n|---|---|---|---|\n";
  const std::pair<const char*, const Interval*> rows[] = {
      {"E", &fit.E}, {"A", &fit.A}, {"B", &fit.B}, {"α", &fit.alpha}, {"β", &fit.beta}};
  for (const auto& [name, interval] : rows) {
    md << "| " << name << " | " << g17(interval->value) << " | " << g17(interval->low) << " | "
       << g17(interval->high) << " |\n";
  }
  md << "\nHuber objective at the optimum: " << g17(fit.objective) << "\n\n"
     << "Compute-optimal allocation (`" << kAllocationFormula << "`). molt's own C also "
     << "counts attention, so C ≈ 6ND is an approximation here:\n\n"
     << "| C (FLOPs) | N_opt | D_opt | tokens per parameter | L(N_opt, D_opt) |\n"
     << "|---|---|---|---|---|\n";
  for (double flops : kAllocationBudgets) {
    const auto best = compute_optimal_allocation(fit.law, flops);
    md << "| " << g4(flops) << " | " << g4(best.params) << " | " << g4(best.tokens) << " | "
       << g4(best.tokens_per_param) << " | " << g4(best.loss) << " |\n";
  }
}

void write_isoflop(std::ostringstream& md, const IsoflopFit& fit) {
  md << "| budget | C | runs | N* | D* | L at N* | inside sampled N |\n"
     << "|---|---|---|---|---|---|---|\n";
  for (const auto& b : fit.budgets) {
    md << "| " << b.label << " | " << g4(b.flops) << " | " << b.runs << " | "
       << g4(b.optimal_params) << " | " << g4(b.optimal_tokens) << " | " << g4(b.optimal_loss)
       << " | " << (b.inside_sampled_range ? "yes" : "no (extrapolated)") << " |\n";
  }
  md << "\nN_opt = " << g17(fit.optimal_params.coefficient) << " · C^"
     << g17(fit.optimal_params.exponent) << " (r² = " << g4(fit.optimal_params.r_squared)
     << ")  \nD_opt = " << g17(fit.optimal_tokens.coefficient) << " · C^"
     << g17(fit.optimal_tokens.exponent) << " (r² = " << g4(fit.optimal_tokens.r_squared) << ")\n";
}

void write_family(std::ostringstream& md, const FamilyFits& family) {
  md << "\n## Family `" << family.family << "` (" << family.runs.size() << " runs)\n";
  md << "\n### Parametric fit: `" << kParametricFormula << "`\n\n`" << kParametricObjective
     << "`\n\n";
  if (family.parametric) {
    write_parametric(md, *family.parametric);
  } else {
    md << "Not fitted (see notes).\n";
  }
  md << "\n### IsoFLOP profiles\n\n`" << kIsoflopFormula << "`\n\n";
  if (family.isoflop) {
    write_isoflop(md, *family.isoflop);
  } else {
    md << "Not fitted (see notes).\n";
  }
  md << "\n### Kaplan power laws\n\n";
  if (family.loss_vs_params) {
    md << "`" << kLossVsParamsFormula << "`: N_c = " << g17(family.loss_vs_params->scale)
       << ", α_N = " << g17(family.loss_vs_params->exponent) << " ("
       << family.loss_vs_params->points << " sizes, r² = " << g4(family.loss_vs_params->r_squared)
       << ")\n\n";
  }
  if (family.loss_vs_compute) {
    md << "`" << kLossVsComputeFormula << "`: C_c = " << g17(family.loss_vs_compute->scale)
       << ", α_C = " << g17(family.loss_vs_compute->exponent) << " ("
       << family.loss_vs_compute->points
       << " frontier points, r² = " << g4(family.loss_vs_compute->r_squared) << ")\n";
  }
  if (!family.notes.empty()) {
    md << "\n### Notes\n\n";
    for (const auto& note : family.notes) md << "- " << note << "\n";
  }
}

}  // namespace

nlohmann::json fit_json(const ScalingFits& fits) {
  nlohmann::json result = nlohmann::json::object();
  nlohmann::json families = nlohmann::json::object();
  size_t runs = 0;
  for (const auto& family : fits.families) {
    families[family.family] = family_json(family);
    runs += family.runs.size();
  }
  if (!fits.families.empty()) {
    result = families[fits.families.front().family];
    result["family"] = fits.families.front().family;
  }
  nlohmann::json skipped = nlohmann::json::array();
  for (const auto& s : fits.skipped) skipped.push_back({{"path", s.path}, {"reason", s.reason}});
  result["families"] = families;
  result["source"] = fits.source;
  result["metric"] = fits.metric;
  result["params"] = parameter_count_name(fits.count);
  result["counts"] = {
      {"runs", runs}, {"skipped", fits.skipped.size()}, {"families", fits.families.size()}};
  result["skipped"] = skipped;
  result["formulas"] = {
      {"parametric", kParametricFormula},      {"objective", kParametricObjective},
      {"compute_optimal", kAllocationFormula}, {"isoflop", kIsoflopFormula},
      {"kaplan_L_N", kLossVsParamsFormula},    {"kaplan_L_C", kLossVsComputeFormula}};
  result["flops_formula"] = model::training_flops_formula();
  return result;
}

std::string report_markdown(const ScalingFits& fits, const std::vector<std::string>& plots,
                            const std::string& plots_note) {
  std::ostringstream md;
  size_t runs = 0;
  for (const auto& family : fits.families) runs += family.runs.size();
  md << "# molt scaling-law fit\n\n"
     << "- input: `" << fits.source << "`\n"
     << "- loss: `" << fits.metric << "`\n"
     << "- N: " << (fits.count == ParameterCount::total ? "total" : "non-embedding")
     << " parameters (`--params " << parameter_count_name(fits.count) << "`)\n"
     << "- runs fitted: " << runs << ", skipped: " << fits.skipped.size() << "\n"
     << "- FLOP accounting (model/flops.h): `" << model::training_flops_formula() << "`\n";
  for (const auto& s : fits.skipped) md << "  - skipped `" << s.path << "`: " << s.reason << "\n";
  md << "\n## Plots\n\n";
  if (plots.empty()) md << "Plots skipped: " << plots_note << "\n";
  for (const auto& stem : plots) {
    md << "![" << stem << "](" << stem << ".png) ([svg](" << stem << ".svg))\n\n";
  }
  for (const auto& family : fits.families) write_family(md, family);
  md << "\n## Runs\n\n| run | family | N total | N non-embedding | D (tokens) | C (FLOPs) | "
        "loss |\n|---|---|---|---|---|---|---|\n";
  for (const auto& family : fits.families) {
    for (const auto& run : family.runs) {
      md << "| " << run.name << " | " << run.family << " | " << g17(run.params_total) << " | "
         << g17(run.params_nonembed) << " | " << g17(run.tokens) << " | " << g17(run.flops) << " | "
         << g17(run.loss) << " |\n";
    }
  }
  return md.str();
}

}  // namespace molt::fit
