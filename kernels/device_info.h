// What this build of molt can run on: the CPU always, CUDA devices when built with nvcc.
#pragma once

#include <optional>
#include <string>

#include "kernels/backend.h"

namespace molt::kernels {

// Number of CUDA devices visible to this process; 0 in a CPU-only build or without a GPU.
int cuda_device_count();

// The CUDA device's name as the driver reports it ("NVIDIA H100 80GB HBM3"); empty in a
// CPU-only build or when there is no such device.
std::string cuda_device_name(int device);

// The denominator of MFU: a GPU's dense peak FLOP/s when it computes in `compute_dtype`,
// known from its name (cuda_device_name). bf16 is the tensor-core peak without sparsity
// (half the datasheet's sparse figure); f32 is the plain FP32 peak, since molt's f32 GEMMs
// do not use TF32 (cuda/matmul.cu). nullopt for a GPU not in the table, and for i32.
std::optional<double> dense_peak_flops(const std::string& device_name, DType compute_dtype);
// The same for the device `backend` computes on, in its compute dtype; nullopt on the CPU.
std::optional<double> dense_peak_flops(const Backend& backend);

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
