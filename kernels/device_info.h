// What this build of molt can run on: the CPU always, CUDA devices when built with nvcc.
#pragma once

#include <string>

namespace molt::kernels {

// Number of CUDA devices visible to this process; 0 in a CPU-only build or without a GPU.
int cuda_device_count();

// Threads for the CPU backend's OpenMP regions (OpenBLAS itself stays single-threaded;
// cpu/gemm.cpp splits GEMMs over OpenMP threads). Ranks that share a node share
// its cores, and OpenMP threads that outnumber cores spin against each other (a 2-core
// machine running 2 ranks × 2 threads was measured 80× slower than 2 × 1), so each rank
// takes cores / ranks_on_node — unless OMP_NUM_THREADS is set, which always wins.
// Returns the count chosen.
int configure_cpu_threads(int ranks_on_node);

// One line for `molt --version`: backends compiled in and, with CUDA, the runtime version.
std::string build_description();

}  // namespace molt::kernels
