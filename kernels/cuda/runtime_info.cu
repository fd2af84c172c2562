#include "kernels/cuda/runtime_info.h"

#include <cuda_runtime.h>

#include <string>

namespace molt::kernels::cuda {

int visible_device_count() {
  int count = 0;
  // Without a driver or GPU this fails; that simply means "no device".
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky error so later calls start clean
    return 0;
  }
  return count;
}

std::string runtime_description() {
  int runtime = 0;
  cudaRuntimeGetVersion(&runtime);
  std::string text = "CUDA runtime " + std::to_string(runtime / 1000) + "." +
                     std::to_string((runtime % 1000) / 10);
  return text + ", " + std::to_string(visible_device_count()) + " device(s)";
}

std::string device_name(int device) {
  cudaDeviceProp properties{};
  if (cudaGetDeviceProperties(&properties, device) != cudaSuccess) {
    cudaGetLastError();  // as above: a missing device is an answer, not a sticky error
    return "";
  }
  return properties.name;
}

}  // namespace molt::kernels::cuda
