// CUDA runtime facts for `molt --version` and for device choice. Built only with nvcc.
#pragma once

#include <string>

namespace molt::kernels::cuda {

// Devices visible to this process; 0 when the driver is missing or no GPU is present.
int visible_device_count();

// "CUDA runtime 13.0, 1 device(s)", or the reason none is usable.
std::string runtime_description();

// The device's marketing name as the driver reports it ("NVIDIA H100 80GB HBM3"); empty when
// the device does not exist or the driver is missing.
std::string device_name(int device);

}  // namespace molt::kernels::cuda
