#include "kernels/device_info.h"

#include <omp.h>

#include <algorithm>
#include <cstdlib>
#include <thread>

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

int configure_cpu_threads(int ranks_on_node) {
  int threads = 0;
  if (const char* forced = std::getenv("OMP_NUM_THREADS")) threads = std::atoi(forced);
  if (threads <= 0) {
    int cores = static_cast<int>(std::thread::hardware_concurrency());
    threads = std::max(1, cores / std::max(1, ranks_on_node));
  }
  omp_set_num_threads(threads);
  return threads;
}

std::string build_description() {
#ifdef MOLT_HAVE_CUDA
  return "backends: cpu, cuda; " + cuda::runtime_description();
#else
  return "backends: cpu";
#endif
}

}  // namespace molt::kernels
