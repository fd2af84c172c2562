// The NCCL communicator: gradient sums between GPUs, one GPU per rank.
//
// Built only when CMake found nccl.h and libnccl next to the CUDA toolkit (MOLT_HAVE_NCCL);
// otherwise nccl_available() is false and make_world_comm() keeps MPI (comm.h CommBackend).
//
// How it works (nccl_comm.cpp):
//  * One communicator per job: rank 0 makes the unique id, MPI_Bcast hands it to every rank
//    (the host Comm), and each rank joins on the device its backend already made current.
//  * Collectives run on a stream of their own. Each is ordered after the ops that produced
//    its buffer by an event recorded on the backend's stream (Backend::stream_handle), so a
//    bucket's sum runs while backward keeps computing the next bucket on the backend's
//    stream. wait() makes the backend's stream wait for the sum's event in turn, so later
//    ops (the norm, AdamW) see the summed gradients.
//  * Sums, not averages, as on the MPI path: the trainer scales the loss by 1/(targets on
//    all ranks) before backward (jobs/trainer.h).
//  * Hangs and failures end the job: a host wait polls the event and
//    ncclCommGetAsyncError, and after `timeout_seconds` (or on an NCCL error) aborts the
//    communicator and throws CommFault with a message; the trainer then ends every rank
//    (MPI_Abort) instead of hanging.
//  * ZeRO-1's reduce-scatter and all-gather need equal blocks: a buffer that is not
//    world·chunk long is copied into a padded device scratch buffer first (shard_layout.h).
// Host scalars (metrics, agreement, broadcast, barrier, abort) stay on the MPI host Comm.
#pragma once

#include <memory>
#include <stdexcept>

#include "dist/comm.h"

namespace molt::dist {

#ifdef MOLT_HAVE_NCCL
constexpr bool nccl_available() { return true; }
// Whether no two ranks of the job drive the same GPU (same host, same PCI bus id of the
// current device), which NCCL requires. Counting visible devices is not enough: under
// Slurm's per-task GPU binding every rank sees one device, its own. Every rank must call
// it; all get the same answer.
bool every_rank_has_its_own_gpu(Comm& host);
// `host` carries placement, host scalars and the id broadcast; `backend` must be a device
// backend (stream_handle() not null) whose device is current on this thread.
std::unique_ptr<Comm> make_nccl_comm(std::unique_ptr<Comm> host, kernels::Backend& backend,
                                     double timeout_seconds);
#else
constexpr bool nccl_available() { return false; }
inline bool every_rank_has_its_own_gpu(Comm&) { return false; }
inline std::unique_ptr<Comm> make_nccl_comm(std::unique_ptr<Comm>, kernels::Backend&, double) {
  throw std::logic_error("make_nccl_comm: this build has no NCCL");
}
#endif

}  // namespace molt::dist
