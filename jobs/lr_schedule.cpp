// See lr_schedule.h for the formulas.
#include "jobs/lr_schedule.h"

#include <algorithm>
#include <cmath>

namespace molt {
namespace {

constexpr double kPi = 3.14159265358979323846;

double cosine_rate(double lr, double lr_min, int64_t step, int64_t warmup, int64_t steps) {
  int64_t span = steps - 1 - warmup;
  double progress = span <= 0 ? 1.0 : static_cast<double>(step - warmup) / span;
  progress = std::clamp(progress, 0.0, 1.0);
  return lr_min + (lr - lr_min) * 0.5 * (1.0 + std::cos(kPi * progress));
}

double wsd_rate(double lr, double lr_min, int64_t step, int64_t steps, double decay_fraction,
                int64_t fixed_decay_steps) {
  int64_t decay_steps = fixed_decay_steps > 0
                            ? std::min(fixed_decay_steps, steps)
                            : std::max<int64_t>(1, std::llround(decay_fraction * steps));
  int64_t decay_start = steps - decay_steps;
  if (step < decay_start) return lr;
  double progress = static_cast<double>(step - decay_start + 1) / decay_steps;
  return lr - (lr - lr_min) * std::min(progress, 1.0);
}

}  // namespace

double learning_rate(const JobConfig& config, int64_t step) {
  const double lr = config.optimizer.lr;
  const double lr_min = config.schedule.min_lr_ratio * lr;
  const int64_t warmup = config.schedule.warmup_steps;
  const int64_t steps = config.train.steps;
  step = std::min(step, steps - 1);
  if (step < warmup) return lr * static_cast<double>(step + 1) / warmup;
  const std::string& kind = config.schedule.kind;
  if (kind == "cosine") return cosine_rate(lr, lr_min, step, warmup, steps);
  if (kind == "wsd")
    return wsd_rate(lr, lr_min, step, steps, config.schedule.decay_fraction,
                    config.schedule.decay_steps);
  return lr;
}

}  // namespace molt
