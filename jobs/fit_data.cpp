// Reading run folders and CSVs into RunRecords; see fit_data.h for the rules.
#include "jobs/fit_data.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "kernels/error.h"

namespace fs = std::filesystem;

namespace molt::fit {
namespace {

bool is_run_folder(const fs::path& dir) { return fs::exists(dir / "summary.json"); }

bool looks_like_run(const fs::path& dir) {
  return fs::exists(dir / "metrics.jsonl") || fs::exists(dir / "run.toml");
}

nlohmann::json read_json_file(const fs::path& file) {
  std::ifstream in(file);
  if (!in) throw UserError(file.string() + ": cannot read");
  try {
    return nlohmann::json::parse(in);
  } catch (const nlohmann::json::parse_error& e) {
    throw UserError(file.string() + ": not valid JSON (" + e.what() +
                    "); a NaN loss must be written as null");
  }
}

double required_number(const nlohmann::json& summary, const std::string& key,
                       const fs::path& file) {
  if (!summary.contains(key)) throw UserError(file.string() + ": missing key '" + key + "'");
  const auto& value = summary.at(key);
  if (!value.is_number()) {
    throw UserError(file.string() + ": '" + key + "' is " +
                    (value.is_null() ? std::string("null (NaN or never measured)")
                                     : "not a number: " + value.dump()));
  }
  return value.get<double>();
}

double finite_loss(const nlohmann::json& summary, const std::string& metric,
                   const fs::path& run_dir) {
  const std::string where = "run " + run_dir.string();
  if (!summary.contains(metric)) {
    throw UserError(where + ": summary.json has no '" + metric +
                    "' (choose another --metric, e.g. final_loss)");
  }
  const auto& value = summary.at(metric);
  if (!value.is_number() || !std::isfinite(value.get<double>())) {
    throw UserError(where + ": " + metric + " is " +
                    (value.is_null() ? std::string("null") : value.dump()) +
                    ", not a finite loss (a diverged or unevaluated run: remove it from the "
                    "inputs or choose another --metric)");
  }
  return value.get<double>();
}

std::vector<CurvePoint> read_curve(const fs::path& run_dir, const std::string& metric) {
  std::vector<CurvePoint> curve;
  const std::string column = metrics_column(metric);
  for (const auto& line : read_metrics_log(run_dir.string())) {
    if (!line.contains(column) || !line.contains("flops")) continue;
    const auto& loss = line.at(column);
    const auto& flops = line.at("flops");
    if (!loss.is_number() || !flops.is_number()) continue;  // not evaluated at this step
    CurvePoint point;
    point.flops = flops.get<double>();
    point.tokens = line.value("tokens", 0.0);
    point.loss = loss.get<double>();
    if (std::isfinite(point.loss) && point.flops > 0) curve.push_back(point);
  }
  return curve;
}

RunRecord read_run(const fs::path& run_dir, const std::string& metric) {
  const fs::path file = run_dir / "summary.json";
  const nlohmann::json summary = read_json_file(file);
  RunRecord run;
  run.name = run_dir.filename().string();
  if (run.name.empty()) run.name = run_dir.parent_path().filename().string();
  // Structure variants of a family are fitted apart ("series"; older summaries lack it).
  run.family = summary.value("series", summary.value("family", std::string("decoder")));
  run.params_total = required_number(summary, "N", file);
  run.params_nonembed = required_number(summary, "N_nonembed", file);
  run.tokens = required_number(summary, "D", file);
  run.flops = required_number(summary, "C", file);
  run.loss = finite_loss(summary, metric, run_dir);
  if (summary.contains("budget") && !summary.at("budget").is_null()) {
    const auto& tag = summary.at("budget");
    if (tag.is_number()) {  // a group name for plots and the report: "2e+12", not "2000000000000.0"
      run.budget = format_flops(tag.get<double>());
    } else {
      run.budget = tag.is_string() ? tag.get<std::string>() : tag.dump();
    }
  }
  if (run.params_nonembed <= 0 || run.tokens <= 0) {
    throw UserError(file.string() + ": N_nonembed and D must be positive");
  }
  run.curve = read_curve(run_dir, metric);
  return run;
}

std::vector<std::string> split_csv_line(const std::string& line) {
  std::vector<std::string> cells;
  std::stringstream stream(line);
  std::string cell;
  while (std::getline(stream, cell, ',')) {
    cell.erase(0, cell.find_first_not_of(" \t\r"));
    cell.erase(cell.find_last_not_of(" \t\r") + 1);
    cells.push_back(cell);
  }
  if (!line.empty() && line.back() == ',') cells.push_back("");
  return cells;
}

}  // namespace

const char* parameter_count_name(ParameterCount count) {
  return count == ParameterCount::total ? "total" : "nonembed";
}

std::string metrics_column(const std::string& metric) {
  return metric == "final_loss" ? "loss" : metric;
}

std::vector<nlohmann::json> read_metrics_log(const std::string& run_dir) {
  const fs::path file = fs::path(run_dir) / "metrics.jsonl";
  std::vector<nlohmann::json> lines;
  std::ifstream in(file);
  if (!in) return lines;
  std::string text;
  std::vector<std::string> raw;
  while (std::getline(in, text)) raw.push_back(text);
  for (size_t i = 0; i < raw.size(); ++i) {
    if (raw[i].find_first_not_of(" \t\r") == std::string::npos) continue;
    try {
      lines.push_back(nlohmann::json::parse(raw[i]));
    } catch (const nlohmann::json::parse_error&) {
      if (i + 1 == raw.size()) break;  // a torn last line from a killed run
      throw UserError(file.string() + ":" + std::to_string(i + 1) + ": not valid JSON");
    }
  }
  return lines;
}

RunTable load_run_folders(const std::vector<std::string>& paths, const std::string& metric) {
  RunTable table;
  for (const auto& path_text : paths) {
    const fs::path path(path_text);
    if (!fs::is_directory(path)) throw UserError(path_text + ": no such run or sweep folder");
    if (is_run_folder(path)) {
      table.runs.push_back(read_run(path, metric));
      continue;
    }
    if (looks_like_run(path)) {
      table.skipped.push_back({path_text, "no summary.json (unfinished run?)"});
      continue;
    }
    // A folder written by `molt sweep`: its fit points are under runs/; trunks/ holds the
    // undecayed WSD trunks, which are not points of the frontier.
    const bool sweep_folder = fs::exists(path / "plan.txt") && fs::is_directory(path / "runs");
    std::vector<fs::path> children;
    for (const auto& entry : fs::directory_iterator(sweep_folder ? path / "runs" : path)) {
      if (entry.is_directory()) children.push_back(entry.path());
    }
    std::sort(children.begin(), children.end());
    bool any = false;
    for (const auto& child : children) {
      if (is_run_folder(child)) {
        table.runs.push_back(read_run(child, metric));
        any = true;
      } else if (looks_like_run(child)) {
        table.skipped.push_back({child.string(), "no summary.json (unfinished run?)"});
        any = true;
      }
    }
    if (!any) {
      throw UserError(path_text +
                      ": neither a run folder (no summary.json) nor a sweep folder "
                      "(no subfolder holds a run)");
    }
  }
  return table;
}

RunTable load_csv(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw UserError(path + ": cannot read CSV");
  std::string line;
  if (!std::getline(in, line)) throw UserError(path + ": empty CSV (expected header N,D,loss)");
  std::map<std::string, size_t> column;
  const auto header = split_csv_line(line);
  for (size_t i = 0; i < header.size(); ++i) column[header[i]] = i;
  for (const char* name : {"N", "D", "loss"}) {
    if (!column.count(name)) {
      throw UserError(path + ":1: header lacks column '" + name + "' (need N,D,loss)");
    }
  }
  RunTable table;
  int line_number = 1;
  while (std::getline(in, line)) {
    ++line_number;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const std::string where = path + ":" + std::to_string(line_number);
    const auto cells = split_csv_line(line);
    if (cells.size() != header.size()) {
      throw UserError(where + ": " + std::to_string(cells.size()) + " cells, header has " +
                      std::to_string(header.size()));
    }
    auto number = [&](const std::string& name) {
      const std::string& cell = cells[column.at(name)];
      size_t used = 0;
      double value = 0;
      try {
        value = std::stod(cell, &used);
      } catch (const std::exception&) {
        used = 0;
      }
      if (used == 0 || used != cell.size()) {
        throw UserError(where + ": column " + name + " is not a number: '" + cell + "'");
      }
      if (!std::isfinite(value)) throw UserError(where + ": column " + name + " is " + cell);
      return value;
    };
    RunRecord run;
    run.name = "csv:" + std::to_string(line_number);
    run.family = column.count("family") ? cells[column.at("family")] : "data";
    if (run.family.empty()) run.family = "data";
    run.params_total = run.params_nonembed = number("N");
    run.tokens = number("D");
    run.loss = number("loss");
    if (column.count("C")) run.flops = number("C");
    if (run.params_total <= 0 || run.tokens <= 0 || run.loss <= 0) {
      throw UserError(where + ": N, D and loss must be positive");
    }
    table.runs.push_back(run);
  }
  if (table.runs.empty()) throw UserError(path + ": no data lines after the header");
  return table;
}

std::vector<std::string> family_names(const RunTable& table) {
  std::set<std::string> names;
  for (const auto& run : table.runs) names.insert(run.family);
  return {names.begin(), names.end()};
}

std::vector<RunRecord> runs_of_family(const RunTable& table, const std::string& family) {
  std::vector<RunRecord> runs;
  for (const auto& run : table.runs) {
    if (run.family == family) runs.push_back(run);
  }
  return runs;
}

std::string format_flops(double flops) {
  char text[32];
  std::snprintf(text, sizeof text, "%.3g", flops);
  return text;
}

}  // namespace molt::fit
