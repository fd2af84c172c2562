// The learning-rate schedule: a pure function of the job and the step.
//
// Pure so that a resumed run (at any world size) gets the same rate at the same step without
// storing schedule state in the checkpoint, and so sweeps can plot a schedule without training.
//
//   warmup (all kinds): lr·(s+1)/W for s < W. The first step already moves; the rate reaches
//                       lr at step W-1 (a step at rate 0 would be wasted compute).
//   cosine:   lr_min + (lr - lr_min)·½(1 + cos(π·p)),  p = (s - W)/(T - 1 - W), so the last
//             step (s = T-1) runs at lr_min = min_lr_ratio·lr.
//   wsd:      lr until the last D = round(decay_fraction·T) steps, then linear to lr_min:
//             lr - (lr - lr_min)·(s - (T - D) + 1)/D, reaching lr_min at s = T-1.
//             schedule.decay_steps > 0 sets D exactly (capped at T): a sweep's cooldown branch
//             from a trunk checkpoint at step s uses T = s + k, D = k, so it follows the
//             trunk's constant rate up to s and decays over exactly its k steps.
//   constant: lr.
// Steps past the end keep the last step's rate.
#pragma once

#include <cstdint>

#include "jobs/config.h"

namespace molt {

// Learning rate for 0-based optimizer step `step`.
double learning_rate(const JobConfig& config, int64_t step);

}  // namespace molt
