// The run's numeric log: RUN/metrics.jsonl (one JSON object per logged step) and
// RUN/summary.json (final numbers). `molt fit` reads both.
//
// Each line is flushed as it is written, so a preempted or crashed run keeps its log up to
// the last step it reached. A resumed run restarts from a checkpoint older than the last
// logged step; the steps it will redo are cut from the log first, so every step appears once
// and the curve has no doubled segments.
#pragma once

#include <cstdint>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace molt::io {

class MetricsWriter {
 public:
  // Starts RUN/metrics.jsonl empty, or with `resume_step` keeps only the lines whose step is
  // <= resume_step (and drops a torn last line). Throws UserError naming the file.
  explicit MetricsWriter(const std::string& run_dir,
                         std::optional<int64_t> resume_step = std::nullopt);

  // Appends `record` as one line and flushes it. Throws UserError when the write fails.
  void write(const nlohmann::json& record);

  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::ofstream out_;
};

// Writes RUN/summary.json atomically (a reader never sees half a file).
void write_summary(const std::string& run_dir, const nlohmann::json& summary);

}  // namespace molt::io
