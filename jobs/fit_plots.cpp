// Figures for `molt fit`; see fit_plots.h.
#include "jobs/fit_plots.h"

#include <cmath>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "jobs/plots.h"
#include "kernels/error.h"

namespace fs = std::filesystem;

namespace molt::fit {
namespace {

const char* kPointTypes[] = {"7", "5", "9", "13"};  // circle, square, triangle, diamond
const char* kDashTypes[] = {"1", "2", "3", "4"};

std::string number(double value) {
  char text[40];
  std::snprintf(text, sizeof text, "%.17g", value);
  return text;
}

class FigureWriter {
 public:
  FigureWriter(const std::string& out_dir) : out_(out_dir), data_(fs::path(out_dir) / "plot_data") {
    fs::create_directories(data_);
  }
  // A data file under plot_data/, returned as a quoted gnuplot string. Series names such as
  // "encdec/shared-xattn+shared-stack" become one flat file name.
  std::string data_file(const std::string& name, const std::string& rows) const {
    std::string flat = name;
    for (char& c : flat) {
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '-' && c != '_') c = '_';
    }
    const fs::path path = data_ / flat;
    std::ofstream file(path);
    file << rows;
    if (!file) throw UserError(path.string() + ": cannot write plot data");
    return gnuplot_quote(path.string());
  }
  void draw(const std::string& stem, const std::string& body) const {
    run_gnuplot(png_and_svg_script((fs::path(out_) / stem).string(), body),
                (data_ / (stem + ".gp")).string());
  }

 private:
  std::string out_;
  fs::path data_;
};

std::string join_plot(const std::vector<std::string>& parts) {
  std::string command = "plot ";
  for (size_t i = 0; i < parts.size(); ++i) command += (i ? ", \\\n     " : "") + parts[i];
  return command + "\n";
}

bool draw_loss_vs_compute(const ScalingFits& fits, const FigureWriter& writer) {
  std::vector<std::string> parts;
  for (size_t f = 0; f < fits.families.size(); ++f) {
    const FamilyFits& family = fits.families[f];
    std::string points, frontier;
    for (const auto& run : family.runs) {
      const double log_params = std::log10(run.params(fits.count));
      for (const auto& p : run.curve) {
        points += number(p.flops) + " " + number(p.loss) + " " + number(log_params) + "\n";
      }
      if (run.flops > 0) {
        points += number(run.flops) + " " + number(run.loss) + " " + number(log_params) + "\n";
      }
      points += "\n";
    }
    for (const auto& p : family.frontier) frontier += number(p.flops) + " " + number(p.loss) + "\n";
    if (frontier.empty()) continue;
    const std::string pt = kPointTypes[f % 4], dt = kDashTypes[f % 4];
    parts.push_back(writer.data_file("curves_" + family.family + ".dat", points) +
                    " using 1:2:3 with points pt " + pt + " ps 0.5 lc palette title '" +
                    family.family + " runs'");
    parts.push_back(writer.data_file("frontier_" + family.family + ".dat", frontier) +
                    " using 1:2 with lines lw 2 dt " + dt + " lc rgb 'black' title '" +
                    family.family + " frontier'");
    if (family.loss_vs_compute) {
      const auto& law = *family.loss_vs_compute;
      parts.push_back("(" + number(law.scale) + "/x)**" + number(law.exponent) +
                      " with lines lw 2 dt " + dt + " lc rgb '#d62728' title '" + family.family +
                      " L(C) fit'");
    }
  }
  if (parts.empty()) return false;
  writer.draw("loss_vs_compute",
              "set logscale xy\nset xlabel 'training FLOPs C'\nset ylabel 'loss (" + fits.metric +
                  ")'\nset cblabel 'log10 N (" + parameter_count_name(fits.count) +
                  ")'\nset palette rgb 33,13,10\nset grid\nset key top right\n" + join_plot(parts));
  return true;
}

bool draw_isoflop(const ScalingFits& fits, const FigureWriter& writer) {
  std::vector<std::string> parts;
  int colour = 1;
  for (size_t f = 0; f < fits.families.size(); ++f) {
    const FamilyFits& family = fits.families[f];
    if (!family.isoflop) continue;
    std::string minima;
    for (size_t b = 0; b < family.isoflop->budgets.size(); ++b, ++colour) {
      const IsoflopBudget& budget = family.isoflop->budgets[b];
      std::string points, curve;
      for (size_t i : budget.members) {
        points +=
            number(family.runs[i].params(fits.count)) + " " + number(family.runs[i].loss) + "\n";
      }
      const double low = std::log(std::min(budget.min_params, budget.optimal_params));
      const double high = std::log(std::max(budget.max_params, budget.optimal_params));
      for (int k = 0; k <= 60; ++k) {
        const double x = low + (high - low) * k / 60;
        curve += number(std::exp(x)) + " " + number(budget.c0 + budget.c1 * x + budget.c2 * x * x) +
                 "\n";
      }
      minima += number(budget.optimal_params) + " " + number(budget.optimal_loss) + "\n";
      const std::string name = family.family + "_" + std::to_string(b);
      const std::string colour_spec = " lc " + std::to_string(colour);
      parts.push_back(writer.data_file("isoflop_points_" + name + ".dat", points) +
                      " using 1:2 with points pt " + kPointTypes[f % 4] + colour_spec + " title '" +
                      family.family + " C=" + budget.label + "'");
      parts.push_back(writer.data_file("isoflop_curve_" + name + ".dat", curve) +
                      " using 1:2 with lines dt " + kDashTypes[f % 4] + colour_spec + " notitle");
    }
    parts.push_back(writer.data_file("isoflop_minima_" + family.family + ".dat", minima) +
                    " using 1:2 with points pt 3 ps 2.5 lw 2 lc rgb 'black' title '" +
                    family.family + " minima N*'");
  }
  if (parts.empty()) return false;
  writer.draw("isoflop", std::string("set logscale x\nset xlabel 'parameters N (") +
                             parameter_count_name(fits.count) + ")'\nset ylabel 'loss (" +
                             fits.metric + ")'\nset grid\nset key outside right\n" +
                             join_plot(parts));
  return true;
}

bool draw_observed_vs_fitted(const ScalingFits& fits, const FigureWriter& writer) {
  std::vector<std::string> parts;
  for (size_t f = 0; f < fits.families.size(); ++f) {
    const FamilyFits& family = fits.families[f];
    if (!family.parametric) continue;
    std::string rows;
    for (const auto& run : family.runs) {
      rows += number(family.parametric->law.predict(run.params(fits.count), run.tokens)) + " " +
              number(run.loss) + "\n";
    }
    parts.push_back(writer.data_file("observed_vs_fitted_" + family.family + ".dat", rows) +
                    " using 1:2 with points pt " + kPointTypes[f % 4] + " lc " +
                    std::to_string(f + 1) + " title '" + family.family + "'");
  }
  if (parts.empty()) return false;
  parts.push_back("x with lines lc rgb 'gray' dt 2 title 'observed = fitted'");
  writer.draw("observed_vs_fitted",
              "set logscale xy\nset xlabel 'fitted L(N,D) = E + A/N^α + B/D^β'\nset ylabel "
              "'observed loss (" +
                  fits.metric + ")'\nset grid\nset key top left\n" + join_plot(parts));
  return true;
}

bool draw_loss_vs_params(const ScalingFits& fits, const FigureWriter& writer) {
  std::vector<std::string> parts;
  for (size_t f = 0; f < fits.families.size(); ++f) {
    const FamilyFits& family = fits.families[f];
    if (!family.loss_vs_params) continue;
    std::string rows;
    for (const auto& run : largest_data_run_per_size(family.runs, fits.count)) {
      rows += number(run.params(fits.count)) + " " + number(run.loss) + "\n";
    }
    const auto& law = *family.loss_vs_params;
    parts.push_back(writer.data_file("loss_vs_params_" + family.family + ".dat", rows) +
                    " using 1:2 with points pt " + kPointTypes[f % 4] + " lc " +
                    std::to_string(f + 1) + " title '" + family.family + " (most data per N)'");
    parts.push_back("(" + number(law.scale) + "/x)**" + number(law.exponent) + " with lines dt " +
                    kDashTypes[f % 4] + " lc " + std::to_string(f + 1) + " title '" +
                    family.family + " L(N) fit'");
  }
  if (parts.empty()) return false;
  writer.draw("loss_vs_params", std::string("set logscale xy\nset xlabel 'parameters N (") +
                                    parameter_count_name(fits.count) + ")'\nset ylabel 'loss (" +
                                    fits.metric + ")'\nset grid\n" + join_plot(parts));
  return true;
}

}  // namespace

std::vector<std::string> draw_fit_plots(const ScalingFits& fits, const std::string& out_dir) {
  const FigureWriter writer(out_dir);
  std::vector<std::string> drawn;
  if (draw_loss_vs_compute(fits, writer)) drawn.push_back("loss_vs_compute");
  if (draw_isoflop(fits, writer)) drawn.push_back("isoflop");
  if (draw_observed_vs_fitted(fits, writer)) drawn.push_back("observed_vs_fitted");
  if (draw_loss_vs_params(fits, writer)) drawn.push_back("loss_vs_params");
  return drawn;
}

}  // namespace molt::fit
