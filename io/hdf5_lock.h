// One process-wide lock for every HDF5 call.
//
// Debian builds HDF5 without its thread-safe option, so two threads inside the library at
// once can corrupt its global state (the ID tables, the free lists, the error stack). The
// loader's prefetch thread, the trainer's checkpoint writer and the main thread may all
// touch HDF5; they serialise through this one mutex. Hold it only around HDF5 calls, never
// around waiting on a queue, so a reader never blocks a writer for longer than one call.
#pragma once

#include <mutex>

namespace molt::io {

// The mutex every HDF5 call in molt runs under.
std::mutex& hdf5_mutex();

// Silences HDF5's automatic error printing (once per process). molt turns failed HDF5 calls
// into one UserError naming the file instead of HDF5's multi-line stack dump.
// Call with hdf5_mutex() held.
void silence_hdf5_error_printing();

}  // namespace molt::io
