// A Comm that fails on purpose, for the tests of a failing rank (STYLE.md: seams that tests
// can swap). make_world_comm() wraps the real Comm in it only when MOLT_FAULT_INJECT is set.
//
// MOLT_FAULT_INJECT holds `key=value` pairs separated by ':'
//   comm_fail_at=N   the Nth gradient reduction (start_sum, start_sum_to or
//                    reduce_scatter_sum, counted from 1) throws CommFault instead of
//                    communicating
//   comm_stall_at=N  the Nth gradient reduction never starts: the rank sleeps until the
//                    job is ended, as a rank stuck on a hung file system would
//   nccl_join_stall=1  the rank never joins the NCCL communicator (NcclComm's join sleeps),
//                    as a rank stuck before its first collective would
//   rank=R           only rank R fails (default 0); the other ranks behave normally
// A malformed value is a UserError naming the variable.
#pragma once

#include <memory>

#include "dist/comm.h"

namespace molt::dist {

// `comm` itself when MOLT_FAULT_INJECT is unset or names another rank, else `comm`
// wrapped so that it fails as the variable asks.
std::unique_ptr<Comm> with_fault_injection(std::unique_ptr<Comm> comm);

// Whether MOLT_FAULT_INJECT asks rank `rank` to stall instead of joining NCCL.
bool nccl_join_stalls(int rank);

}  // namespace molt::dist
