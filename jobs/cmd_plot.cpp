// `molt plot RUN... [--x steps|tokens|flops] [--out FILE.png]`: training and validation
// loss curves of one or more runs, read from RUN/metrics.jsonl, as PNG and SVG. This is
// the first thing to look at after a run: is the loss falling, did validation follow it,
// which run is ahead at equal compute (use --x flops to compare sizes fairly).
//
// Training loss is a line, each validation set (val_loss and every val/NAME column) a
// line with points, in the run's colour. Against tokens or FLOPs the x axis is
// logarithmic, as scaling curves are read; against steps it is linear. The data and the
// gnuplot script are kept beside the figure in FILE_data/.
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "jobs/commands.h"
#include "jobs/fit_data.h"
#include "jobs/plots.h"
#include "kernels/error.h"

namespace fs = std::filesystem;

namespace molt {
namespace {

struct PlotOptions {
  std::vector<std::string> runs;
  std::string x_axis = "steps";
  std::string out;
};

std::string x_column(const std::string& axis) { return axis == "steps" ? "step" : axis; }

// One series: the rows "x loss" of one column of one run.
std::string series_rows(const std::vector<nlohmann::json>& log, const std::string& x_key,
                        const std::string& column) {
  std::string rows;
  char line[96];
  for (const auto& record : log) {
    if (!record.contains(x_key) || !record.contains(column)) continue;
    const auto &x = record.at(x_key), &y = record.at(column);
    if (!x.is_number() || !y.is_number()) continue;
    std::snprintf(line, sizeof line, "%.17g %.17g\n", x.get<double>(), y.get<double>());
    rows += line;
  }
  return rows;
}

void run_plot(const PlotOptions& options) {
  if (!gnuplot_available()) {
    throw UserError("molt plot needs gnuplot on PATH (scripts/install-deps.sh installs it)");
  }
  for (const auto& run : options.runs) {
    if (!fs::is_directory(run)) throw UserError(run + ": no such run folder");
  }
  fs::path out = options.out;
  if (out.empty())
    out = options.runs.size() == 1 ? fs::path(options.runs[0]) / "loss.png" : "loss.png";
  if (out.extension() != ".png") {
    throw UserError("--out " + out.string() + ": expected a file name ending in .png");
  }
  const fs::path stem = out.parent_path() / out.stem();
  const fs::path data_dir = stem.string() + "_data";
  fs::create_directories(data_dir);
  const std::string x_key = x_column(options.x_axis);

  std::vector<std::string> parts;
  for (size_t r = 0; r < options.runs.size(); ++r) {
    const fs::path run(options.runs[r]);
    const auto log = fit::read_metrics_log(run.string());
    if (log.empty()) throw UserError(run.string() + ": no metrics.jsonl (or it is empty)");
    std::set<std::string> columns{"loss", "val_loss"};
    for (const auto& record : log) {
      for (const auto& item : record.items()) {
        if (item.key().rfind("val/", 0) == 0) columns.insert(item.key());
      }
    }
    std::string name = fs::absolute(run).lexically_normal().filename().string();
    if (name.empty()) name = fs::absolute(run).lexically_normal().parent_path().filename().string();
    int set = 0;
    for (const auto& column : columns) {
      const std::string rows = series_rows(log, x_key, column);
      if (rows.empty()) continue;
      std::string file_name = "run" + std::to_string(r) + "_" + column + ".dat";
      for (char& c : file_name) c = c == '/' ? '_' : c;
      std::ofstream(data_dir / file_name) << rows;
      const bool train = column == "loss";
      const std::string style =
          train ? " with lines lw 1.5"
                : " with linespoints pt 7 ps 0.6 lw 2 dt " + std::to_string(2 + set++ % 4);
      parts.push_back(gnuplot_quote((data_dir / file_name).string()) + " using 1:2" + style +
                      " lc " + std::to_string(r + 1) + " title " +
                      gnuplot_quote(name + (train ? " train" : " " + column)));
    }
  }
  if (parts.empty()) throw UserError("no loss values against " + options.x_axis + " in the runs");
  std::string body = "set xlabel " +
                     gnuplot_quote(options.x_axis == "flops" ? "training FLOPs" : options.x_axis) +
                     "\nset ylabel 'loss (nats/token)'\nset grid\nset key top right\n";
  if (options.x_axis != "steps") body += "set logscale x\n";
  body += "plot ";
  for (size_t i = 0; i < parts.size(); ++i) body += (i ? ", \\\n     " : "") + parts[i];
  body += "\n";
  run_gnuplot(png_and_svg_script(stem.string(), body), (data_dir / "plot.gp").string());
  std::printf("wrote %s.png and %s.svg\n", stem.c_str(), stem.c_str());
}

}  // namespace

void add_plot_command(CLI::App& app) {
  auto options = std::make_shared<PlotOptions>();
  auto* cmd = app.add_subcommand("plot", "Loss curves of runs (train and validation), PNG and SVG");
  cmd->add_option("runs", options->runs, "Run folders")->required();
  cmd->add_option("--x", options->x_axis, "x axis: steps, tokens or flops")
      ->check(CLI::IsMember({"steps", "tokens", "flops"}))
      ->capture_default_str();
  cmd->add_option("--out", options->out, "Figure file (.png; an .svg is written beside it)");
  cmd->callback([options] { run_plot(*options); });
}

}  // namespace molt
