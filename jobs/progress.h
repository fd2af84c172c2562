// Console progress for `molt train`.
//
// On a terminal, a status line is redrawn in place every step and a permanent line is
// printed every log step; in a log file (Slurm, pipes) only the permanent lines appear, one
// per log step, so logs stay readable and greppable. Under mpirun or srun a rank's stdout
// may be the launcher's pseudo-terminal even when the job's output goes to a file, so there
// molt always prints plain lines. Only rank 0 prints.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace molt {

struct StepReport {
  int64_t step = 0;  // completed optimizer steps
  int64_t total_steps = 0;
  double loss = 0;
  std::optional<double> val_loss;
  double lr = 0;
  double grad_norm = 0;
  double tokens_per_second = 0;
  std::optional<double> mfu;
  double eta_seconds = 0;
};

class ProgressPrinter {
 public:
  explicit ProgressPrinter(bool enabled);
  void step(const StepReport& report, bool permanent);
  void note(const std::string& text);  // a line of its own (checkpoint written, resumed, ...)

 private:
  std::string format(const StepReport& report) const;
  bool enabled_;
  bool tty_;
  bool status_shown_ = false;
};

}  // namespace molt
