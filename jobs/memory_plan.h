// The device memory a training job needs per rank, counted without running it: the job's
// model, its optimizer and one micro-batch's activations are built on kernels' sizing
// backend (which allocates nothing) in the job's compute dtype. The sizes are those of the
// buffers the trainer allocates through its backend, so the total is the peak the trainer
// reports (its "memory:" line, summary.json's peak_memory_bytes); tests/jobs/memory_test.sh
// checks the two agree exactly on the CPU. `molt memory` prints it.
//
// Not counted, as in Backend::memory_usage: the CUDA context, cuBLAS workspaces, NCCL's own
// buffers and the allocator's rounding.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "jobs/config.h"

namespace molt {

struct MemoryPlan {
  int64_t parameters = 0;
  size_t master_weights = 0;  // f32
  size_t gradients = 0;       // f32
  size_t compute_copy = 0;    // the weights in the compute dtype; 0 in fp32 (masters serve)
  size_t optimizer = 0;       // AdamW m and v, f32: this rank's shard under ZeRO-1
  size_t activations = 0;     // what one micro-batch's forward and backward hold
  size_t total() const {
    return master_weights + gradients + compute_copy + optimizer + activations;
  }
};

// Rank 0's memory for `job` at world size `world`, with activation recomputation on or off
// (whatever the job says). vocab_size is the model's vocabulary when the job leaves it to
// the dataset (model.vocab_size = 0).
MemoryPlan plan_memory(const JobConfig& job, int64_t vocab_size, int world, bool recompute);

// Why the job cannot fit, or "" when it does: `ranks_on_device` ranks each needing
// plan_memory(job, ..., job.train.recompute) against `free_bytes` on their device. The
// message names both sizes and what would help (recomputation, with what it would need; a
// smaller micro-batch; ZeRO-1 when there is more than one rank). The trainer checks this on a
// GPU before it allocates anything, so a job that cannot fit ends with one message (exit 2)
// instead of an out-of-memory error some way into its first step.
std::string memory_shortfall(const JobConfig& job, const MemoryPlan& need,
                             const MemoryPlan& recomputed, size_t free_bytes,
                             int ranks_on_device, int world);

}  // namespace molt
