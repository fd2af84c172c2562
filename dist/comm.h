// dist::Comm — the process group as the trainer sees it.
//
// A narrow seam (STYLE.md): the MPI implementation runs real jobs; tests swap in one that
// fails on a chosen call to check that a failing rank ends the whole job. Comm works on
// buffers and host scalars and knows no model.
//
// Gradient reductions are split into start and wait so a bucket's reduction can run while
// backward is still producing the next bucket (MPI_Iallreduce / NCCL on a side stream).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "kernels/backend.h"

namespace molt::dist {

// An in-flight collective; wait() returns when the buffer holds the result.
class PendingReduction {
 public:
  virtual ~PendingReduction() = default;
  virtual void wait() = 0;
  // Lets the library make progress without blocking (MPI progresses only inside calls);
  // returns true once complete.
  virtual bool poll() = 0;
};

class Comm {
 public:
  virtual ~Comm() = default;

  virtual int rank() const = 0;
  virtual int world() const = 0;
  virtual int local_rank() const = 0;   // rank among the processes of this node
  virtual int local_world() const = 0;  // processes on this node

  // Starts an in-place sum of an f32 buffer over all ranks.
  virtual std::unique_ptr<PendingReduction> start_sum(kernels::Tensor buffer) = 0;
  // ZeRO-1: `full` holds world equal chunks of `chunk` elements (padded by the caller);
  // afterwards chunk r of rank r holds the sum of everyone's chunk r.
  virtual void reduce_scatter_sum(kernels::Tensor full, size_t chunk) = 0;
  // ZeRO-1: rank r's chunk r of `full` is sent to every rank's chunk r.
  virtual void all_gather(kernels::Tensor full, size_t chunk) = 0;

  // Host-side reductions for metrics and agreement (blocking, every rank must call).
  virtual void sum(double* values, int count) = 0;
  virtual void max(int64_t* values, int count) = 0;
  virtual void broadcast(void* data, size_t bytes, int root) = 0;
  virtual void barrier() = 0;

  // Ends every rank of the job with `exit_code` (MPI_Abort); never returns.
  [[noreturn]] virtual void abort(int exit_code) = 0;
};

// The job's process group. Under mpirun/srun every rank joins; run alone it is a group
// of one. The backend is needed to stage device buffers through host memory.
std::unique_ptr<Comm> make_world_comm(kernels::Backend& backend);

// Ends the whole job if this process is one rank of several, else returns. For the
// top-level error handler: a rank that fails must not leave the others waiting.
void abort_job_if_distributed(int exit_code);

}  // namespace molt::dist
