// A progress line on stderr for long-running work, at most one per second, so a prep of a
// gigabyte corpus shows it is alive without flooding a log file.
#pragma once

#include <chrono>
#include <cstdio>
#include <string>

namespace molt::io {

class ProgressLine {
 public:
  explicit ProgressLine(std::string task) : task_(std::move(task)) {}

  // Prints "<task>: <MB> MB (<MB/s> MB/s), <detail>" if a second has passed since the last.
  void update(uint64_t bytes_done, const std::string& detail) {
    auto now = std::chrono::steady_clock::now();
    if (now - last_print_ < std::chrono::seconds(1)) return;
    last_print_ = now;
    double seconds = std::chrono::duration<double>(now - start_).count();
    std::fprintf(stderr, "molt prep: %s: %.1f MB (%.1f MB/s), %s\n", task_.c_str(),
                 bytes_done / 1e6, bytes_done / 1e6 / seconds, detail.c_str());
  }

 private:
  std::string task_;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point last_print_ = start_;
};

}  // namespace molt::io
