#include "io/metrics.h"

#include <filesystem>
#include <sstream>

#include "io/file_ops.h"
#include "kernels/error.h"

namespace molt::io {
namespace {

namespace fs = std::filesystem;

// A line that the run may keep after resuming at `resume_step`. A line that does not parse
// is the torn tail of a crashed write; a line without a step is not step-indexed and stays.
bool keep_line(const std::string& line, int64_t resume_step) {
  nlohmann::json record = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (record.is_discarded() || !record.is_object()) return false;
  auto step = record.find("step");
  return step == record.end() || !step->is_number() || step->get<int64_t>() <= resume_step;
}

// Rewrites the log without the steps after `resume_step`.
void cut_after(const std::string& path, int64_t resume_step) {
  std::ifstream in(path);
  if (!in) return;  // no log yet: nothing to cut
  std::string kept, line;
  while (std::getline(in, line))
    if (!line.empty() && keep_line(line, resume_step)) kept += line + "\n";
  write_text_atomic(path, kept);
}

}  // namespace

MetricsWriter::MetricsWriter(const std::string& run_dir, std::optional<int64_t> resume_step)
    : path_((fs::path(run_dir) / "metrics.jsonl").string()) {
  posix_file_ops().create_dirs(run_dir);
  if (resume_step) cut_after(path_, *resume_step);
  out_.open(path_, resume_step ? std::ios::app : std::ios::trunc);
  if (!out_) throw UserError("cannot open metrics log " + path_);
}

void MetricsWriter::write(const nlohmann::json& record) {
  out_ << record.dump() << '\n';
  out_.flush();
  if (!out_) throw UserError("cannot write metrics log " + path_);
}

void write_summary(const std::string& run_dir, const nlohmann::json& summary) {
  write_text_atomic((fs::path(run_dir) / "summary.json").string(), summary.dump(2) + "\n");
}

}  // namespace molt::io
