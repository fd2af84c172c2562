// state.toml: what a checkpoint needs besides weights and moments to resume exactly.
//
// The data position needs no state of its own: the loader's position is a pure function of
// (seed, step, global batch), so `step` and the job's seed and global batch place it. There
// is no other random state in training (no dropout). The resolved job is stored under
// [job.*] so a checkpoint says exactly what produced it.
#pragma once

#include <cstdint>
#include <string>

#include "jobs/config.h"

namespace molt {

struct RunState {
  int64_t step = 0;          // optimizer steps completed
  int64_t tokens = 0;        // training tokens consumed (all ranks)
  double flops = 0;          // training FLOPs so far (model/flops.h)
  double wall_seconds = 0;   // training time so far, across restarts
  int64_t world_size = 1;    // ranks that wrote it (informational: resume may change it)
  std::string molt_version;
};

std::string state_to_toml(const RunState& state, const JobConfig& job);

// Parses a state.toml; `origin` names the file in errors.
RunState parse_run_state(const std::string& text, const std::string& origin, JobConfig* job);

}  // namespace molt
