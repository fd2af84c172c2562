#include "kernels/device_info.h"

#ifdef MOLT_HAVE_CUDA
#include "kernels/cuda/runtime_info.h"
#endif

namespace molt::kernels {

int cuda_device_count() {
#ifdef MOLT_HAVE_CUDA
  return cuda::visible_device_count();
#else
  return 0;
#endif
}

std::string build_description() {
#ifdef MOLT_HAVE_CUDA
  return "backends: cpu, cuda; " + cuda::runtime_description();
#else
  return "backends: cpu";
#endif
}

}  // namespace molt::kernels
