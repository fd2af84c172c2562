// What `molt fit` fits: one (N, D, C, loss) point per finished run, read from run folders
// (RUN/summary.json, RUN/metrics.jsonl) or from a CSV of published numbers.
//
// Which N: a run records both its total parameter count and its non-embedding count. The
// fit uses one of them (`--params`); molt's default is non-embedding, because the sweeps
// molt runs on a CPU are small (50K–3M non-embedding parameters) and there the embedding
// table is most of the total: a law in total parameters would mostly measure the
// vocabulary size (Kaplan et al. 2020 make the same choice for the same reason). Both
// counts are kept and reported.
//
// Which loss: `--metric` picks a column, the same name in summary.json and metrics.jsonl:
// `val_loss` (default), `final_loss` (the last training loss; its metrics.jsonl column is
// `loss`), or `val/NAME` for a named validation set.
//
// Degenerate input is a UserError naming what is wrong: a run whose chosen loss is null,
// NaN or infinite (molt writes a NaN loss as null, since JSON has no NaN), a summary.json
// lacking a key, a CSV line that does not parse. A folder without summary.json is an
// unfinished run: it is skipped and listed, not an error.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace molt::fit {

enum class ParameterCount { total, non_embedding };

const char* parameter_count_name(ParameterCount count);  // "total" | "nonembed"

// A point on a run's loss curve: training FLOPs so far and the chosen loss there.
struct CurvePoint {
  double flops = 0;
  double tokens = 0;
  double loss = 0;
};

struct RunRecord {
  std::string name;    // folder name (or "csv:LINE")
  std::string family;  // "decoder", "encdec", or "data" for a CSV without the column
  double params_total = 0;
  double params_nonembed = 0;
  double tokens = 0;                  // D
  double flops = 0;                   // C, molt's accounting (model/flops.h); 0 when a CSV has no C
  double loss = 0;                    // the chosen metric at the end of training
  std::optional<std::string> budget;  // the sweep's budget tag, when summary.json has one
  std::vector<CurvePoint> curve;      // from metrics.jsonl; empty when there is none

  double params(ParameterCount count) const {
    return count == ParameterCount::total ? params_total : params_nonembed;
  }
};

struct SkippedInput {
  std::string path;
  std::string reason;
};

struct RunTable {
  std::vector<RunRecord> runs;
  std::vector<SkippedInput> skipped;
};

// Reads run folders and sweep folders (folders whose subfolders are run folders). A path
// that is neither is a UserError. Subfolders with no run files at all (no summary.json,
// metrics.jsonl or run.toml, e.g. the fit's own output folder) are ignored silently.
RunTable load_run_folders(const std::vector<std::string>& paths, const std::string& metric);

// Reads a CSV with a header naming at least N, D and loss (optional C, family, in any
// order). A bad line is a UserError naming the file and line number.
RunTable load_csv(const std::string& path);

// The lines of RUN/metrics.jsonl as JSON objects (empty when the file is absent). A line
// that is not JSON is a UserError naming file and line, except a torn last line.
std::vector<nlohmann::json> read_metrics_log(const std::string& run_dir);

// The metrics.jsonl column for a --metric name.
std::string metrics_column(const std::string& metric);

// Family names in a fixed order (alphabetical), each with at least one run.
std::vector<std::string> family_names(const RunTable& table);

// The runs of one family.
std::vector<RunRecord> runs_of_family(const RunTable& table, const std::string& family);

// A compute budget as plots and reports name it: "2e+12" (3 significant digits).
std::string format_flops(double flops);

}  // namespace molt::fit
