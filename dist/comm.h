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
#include <stdexcept>
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
  // Same, but only rank `root` receives the sum (ZeRO-1: the owner of that slice); the
  // other ranks' buffers are left unspecified.
  virtual std::unique_ptr<PendingReduction> start_sum_to(kernels::Tensor buffer, int root) = 0;
  // ZeRO-1: `full` is cut into world chunks of `chunk` elements, the last ones short when
  // full.count < world·chunk (see ShardLayout); afterwards chunk r of rank r holds the sum
  // of everyone's chunk r. The rest of `full` is left unspecified.
  virtual void reduce_scatter_sum(kernels::Tensor full, size_t chunk) = 0;
  // ZeRO-1: rank r's chunk r of `full` is sent to every rank's chunk r (same cutting).
  virtual void all_gather(kernels::Tensor full, size_t chunk) = 0;

  // Host-side reductions for metrics and agreement (blocking, every rank must call).
  virtual void sum(double* values, int count) = 0;
  virtual void max(int64_t* values, int count) = 0;
  virtual void broadcast(void* data, size_t bytes, int root) = 0;
  virtual void barrier() = 0;

  // Ends every rank of the job with `exit_code` (MPI_Abort); never returns.
  [[noreturn]] virtual void abort(int exit_code) = 0;

  // What carries the gradient sums, for the log: "mpi", "mpi, staged through host memory"
  // or "nccl".
  virtual std::string transport() const { return "mpi"; }
};

// Which library sums device buffers (the job's dist.backend).
//  kAuto: NCCL when the build has it and every rank on the node has a GPU of its own;
//         otherwise MPI, staging device buffers through pinned host memory (slow, but it
//         lets several ranks share one GPU, which NCCL refuses).
//  kNccl: NCCL, or a UserError saying why it cannot be used.
//  kMpi:  MPI always.
// CPU buffers always go through MPI.
enum class CommBackend : uint8_t { kAuto, kNccl, kMpi };

struct CommOptions {
  CommBackend backend = CommBackend::kAuto;
  // A collective (NCCL or MPI) still unfinished after this long ends the job with a message
  // instead of hanging it (a peer died or stalled). 0 = wait forever.
  double timeout_seconds = 600;
};

// Where this process sits in the job, known before any backend exists so that the device
// can be chosen from it: local_rank is the rank among the processes sharing this node
// (MPI_Comm_split_type SHARED, which holds under mpirun and srun alike).
struct Placement {
  int rank = 0, world = 1, local_rank = 0, local_world = 1;
};

// Joins the job's process group (initialising MPI once per process) and says where this
// process sits in it.
Placement join_world();

// The job's process group. Under mpirun/srun every rank joins; run alone it is a group
// of one. Device buffers are summed as `options` says (CommBackend); the backend gives the
// stream NCCL orders itself after and the pinned memory MPI stages through.
//
// Testing aid: when the environment variable MOLT_FAULT_INJECT is set, e.g.
//   MOLT_FAULT_INJECT=comm_fail_at=3:rank=1
// the Comm of rank 1 throws CommFault at its 3rd gradient reduction (start_sum,
// start_sum_to or reduce_scatter_sum), as a failing network or device would; the job must then end on
// every rank with that rank's message. rank defaults to 0. Never set it in real runs.
std::unique_ptr<Comm> make_world_comm(kernels::Backend& backend,
                                      const CommOptions& options = CommOptions());

// What an injected (or detected) communication failure throws.
class CommFault : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Ends the whole job if this process is one rank of several, else returns. For the
// top-level error handler: a rank that fails must not leave the others waiting.
void abort_job_if_distributed(int exit_code);
// Same, printing `message` (one line, to stderr) first when it does end the job.
void abort_job_if_distributed(int exit_code, const std::string& message);

}  // namespace molt::dist
