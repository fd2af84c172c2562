// Checkpoint writes that fail on purpose: a testing aid for the fault tests
// (tests/jobs/faults_*_test.sh), built on the FileOps seam of io/file_ops.h.
//
// MOLT_CHECKPOINT_FAULT holds one `kind=STEP` pair; only the checkpoint of that step fails:
//   kill_during_write=STEP  the process kills itself (SIGKILL) once model.h5 of the step is
//                           written and synced into step_XXXXXXXX.tmp/, before optim.h5:
//                           a crash in the middle of a checkpoint
//   disk_full_at=STEP       syncing optim.h5 of the step fails with ENOSPC, as a full disk
//                           does
// Unset (the normal case), every step gets the real filesystem. A malformed value is a
// UserError naming the variable.
#pragma once

#include <cstdint>

#include "io/file_ops.h"

namespace molt::io {

// The FileOps to write the checkpoint of `step` with.
FileOps& checkpoint_file_ops(int64_t step);

}  // namespace molt::io
