// `molt fit RUNS... | --csv FILE`: fits the Chinchilla, IsoFLOP and Kaplan scaling laws to
// finished runs and writes fit.json, report.md and plots (see fit_report.h, fit_plots.h).
//
// RUNS are run folders or sweep folders. The output goes to --out, by default SWEEP/fit
// when one folder is given and ./fit otherwise. Without gnuplot the numbers are still
// written and the report says the plots were skipped.
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "jobs/commands.h"
#include "jobs/fit_families.h"
#include "jobs/fit_plots.h"
#include "jobs/fit_report.h"
#include "jobs/plots.h"
#include "kernels/error.h"

namespace fs = std::filesystem;

namespace molt {
namespace {

struct FitOptions {
  std::vector<std::string> inputs;
  std::string csv;
  std::string out;
  std::string metric = "val_loss";
  std::string params = "nonembed";
  int bootstrap_rounds = 200;
  uint64_t seed = 1234;
};

void write_text(const fs::path& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
  if (!out) throw UserError(path.string() + ": cannot write");
}

void run_fit(const FitOptions& options) {
  if (options.inputs.empty() == options.csv.empty()) {
    throw UserError("molt fit: give run/sweep folders or --csv FILE (exactly one of them)");
  }
  const fit::ParameterCount count =
      options.params == "total" ? fit::ParameterCount::total : fit::ParameterCount::non_embedding;
  fit::RunTable table;
  std::string source, metric = options.metric;
  if (!options.csv.empty()) {
    table = fit::load_csv(options.csv);
    source = options.csv;
    metric = "loss";
  } else {
    table = fit::load_run_folders(options.inputs, options.metric);
    for (const auto& input : options.inputs) source += (source.empty() ? "" : " ") + input;
  }
  fit::ChinchillaOptions chinchilla;
  chinchilla.bootstrap_rounds = options.bootstrap_rounds;
  chinchilla.seed = options.seed;
  const fit::ScalingFits fits = fit::fit_all_families(table, source, metric, count, chinchilla);

  fs::path out = options.out;
  if (out.empty()) {
    out = options.inputs.size() == 1 ? fs::path(options.inputs.front()) / "fit" : fs::path("fit");
  }
  fs::create_directories(out);
  write_text(out / "fit.json", fit::fit_json(fits).dump(2) + "\n");

  std::vector<std::string> plots;
  std::string plots_note;
  if (gnuplot_available()) {
    plots = fit::draw_fit_plots(fits, out.string());
  } else {
    plots_note = "gnuplot was not found on PATH (scripts/install-deps.sh installs it).";
    std::fprintf(stderr, "molt fit: gnuplot not found; plots skipped\n");
  }
  write_text(out / "report.md", fit::report_markdown(fits, plots, plots_note));

  for (const auto& family : fits.families) {
    std::printf("%s: %zu runs", family.family.c_str(), family.runs.size());
    if (family.parametric) {
      const auto& law = family.parametric->law;
      std::printf("; L(N,D) = %.4g + %.4g/N^%.4g + %.4g/D^%.4g", law.E, law.A, law.alpha, law.B,
                  law.beta);
    }
    if (family.isoflop) std::printf("; N_opt ~ C^%.3g", family.isoflop->optimal_params.exponent);
    std::printf("\n");
    for (const auto& note : family.notes) std::printf("  note: %s\n", note.c_str());
  }
  std::printf("wrote %s/fit.json, %s/report.md and %zu plots\n", out.c_str(), out.c_str(),
              plots.size());
}

}  // namespace

void add_fit_command(CLI::App& app) {
  auto options = std::make_shared<FitOptions>();
  auto* cmd = app.add_subcommand("fit", "Fit scaling laws (Chinchilla, IsoFLOP, Kaplan) to runs");
  cmd->add_option("runs", options->inputs, "Run folders or sweep folders");
  cmd->add_option("--csv", options->csv, "CSV with columns N,D,loss (optional C, family)");
  cmd->add_option("--out", options->out, "Output folder (default SWEEP/fit or ./fit)");
  cmd->add_option("--metric", options->metric, "val_loss, final_loss or val/NAME")
      ->capture_default_str();
  cmd->add_option("--params", options->params, "Which N: nonembed or total")
      ->check(CLI::IsMember({"nonembed", "total"}))
      ->capture_default_str();
  cmd->add_option("--bootstrap", options->bootstrap_rounds, "Bootstrap rounds for intervals")
      ->check(CLI::Range(0, 100000))
      ->capture_default_str();
  cmd->add_option("--seed", options->seed, "Bootstrap seed")->capture_default_str();
  cmd->callback([options] { run_fit(*options); });
}

}  // namespace molt
