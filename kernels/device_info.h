// What this build of molt can run on: the CPU always, CUDA devices when built with nvcc.
#pragma once

#include <string>

namespace molt::kernels {

// Number of CUDA devices visible to this process; 0 in a CPU-only build or without a GPU.
int cuda_device_count();

// One line for `molt --version`: backends compiled in and, with CUDA, the runtime version.
std::string build_description();

}  // namespace molt::kernels
