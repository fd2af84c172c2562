#include "jobs/progress.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>

namespace molt {
namespace {

std::string duration(double seconds) {
  long s = static_cast<long>(seconds + 0.5);
  char text[32];
  if (s >= 3600) {
    std::snprintf(text, sizeof text, "%ld:%02ld:%02ld", s / 3600, (s / 60) % 60, s % 60);
  } else {
    std::snprintf(text, sizeof text, "%ld:%02ld", s / 60, s % 60);
  }
  return text;
}

std::string rate(double per_second) {
  char text[32];
  if (per_second >= 1e6) {
    std::snprintf(text, sizeof text, "%.2fM", per_second / 1e6);
  } else if (per_second >= 1e3) {
    std::snprintf(text, sizeof text, "%.1fk", per_second / 1e3);
  } else {
    std::snprintf(text, sizeof text, "%.0f", per_second);
  }
  return text;
}

}  // namespace

namespace {

// A terminal that will show a redrawn line. mpirun hands its ranks a pseudo-terminal even
// when its own output goes to a file (a Slurm log), so under a launcher a rank cannot tell
// and keeps to plain lines.
bool interactive_terminal() {
  for (const char* launcher_variable : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "SLURM_PROCID"}) {
    if (std::getenv(launcher_variable)) return false;
  }
  return isatty(STDOUT_FILENO) != 0;
}

}  // namespace

ProgressPrinter::ProgressPrinter(bool enabled) : enabled_(enabled), tty_(interactive_terminal()) {}

std::string ProgressPrinter::format(const StepReport& r) const {
  char text[256];
  int n = std::snprintf(text, sizeof text, "step %lld/%lld | loss %.4f", (long long)r.step,
                        (long long)r.total_steps, r.loss);
  if (r.val_loss) n += std::snprintf(text + n, sizeof text - n, " | val %.4f", *r.val_loss);
  n += std::snprintf(text + n, sizeof text - n, " | lr %.2e | gnorm %.3f | %s tok/s", r.lr,
                     r.grad_norm, rate(r.tokens_per_second).c_str());
  if (r.mfu) n += std::snprintf(text + n, sizeof text - n, " | mfu %.1f%%", *r.mfu * 100);
  std::snprintf(text + n, sizeof text - n, " | eta %s", duration(r.eta_seconds).c_str());
  return text;
}

void ProgressPrinter::step(const StepReport& report, bool permanent) {
  if (!enabled_) return;
  if (permanent) {
    std::printf("%s%s\n", tty_ && status_shown_ ? "\r\033[K" : "", format(report).c_str());
    status_shown_ = false;
  } else if (tty_) {
    std::printf("\r\033[K%s", format(report).c_str());
    status_shown_ = true;
  }
  std::fflush(stdout);
}

void ProgressPrinter::note(const std::string& text) {
  if (!enabled_) return;
  std::printf("%s%s\n", tty_ && status_shown_ ? "\r\033[K" : "", text.c_str());
  status_shown_ = false;
  std::fflush(stdout);
}

}  // namespace molt
