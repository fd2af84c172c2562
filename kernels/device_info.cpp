#include "kernels/device_info.h"

#include <omp.h>

#include <algorithm>
#include <cctype>
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

std::string cuda_device_name(int device) {
#ifdef MOLT_HAVE_CUDA
  return cuda::device_name(device);
#else
  (void)device;
  return "";
#endif
}

namespace {

// NVIDIA's datasheet peaks, dense. A name matches an entry when it contains both strings
// (case aside); the first match wins, so a form factor precedes its chip's default.
struct DevicePeak {
  const char* chip;
  const char* form;  // "" matches any name with the chip
  double bf16_flops;
  double f32_flops;
};
constexpr DevicePeak kDevicePeaks[] = {
    {"H100", "PCIE", 756e12, 51e12},  // "NVIDIA H100 PCIe"
    {"H100", "NVL", 835e12, 60e12},   // "NVIDIA H100 NVL"
    {"H200", "NVL", 835e12, 60e12},   // "NVIDIA H200 NVL"
    {"H100", "", 989e12, 67e12},      // SXM: "NVIDIA H100 80GB HBM3"
    {"H200", "", 989e12, 67e12},      // SXM: "NVIDIA H200"; also "NVIDIA GH200 480GB"
    {"A100", "", 312e12, 19.5e12},    // SXM4 and PCIe alike: "NVIDIA A100-SXM4-80GB"
};

std::string upper(std::string text) {
  for (char& c : text) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return text;
}

}  // namespace

std::optional<double> dense_peak_flops(const std::string& device_name, DType compute_dtype) {
  if (compute_dtype == DType::kI32) return std::nullopt;
  const std::string name = upper(device_name);
  for (const DevicePeak& peak : kDevicePeaks) {
    if (name.find(peak.chip) != std::string::npos && name.find(peak.form) != std::string::npos) {
      return compute_dtype == DType::kBF16 ? peak.bf16_flops : peak.f32_flops;
    }
  }
  return std::nullopt;
}

std::optional<double> dense_peak_flops(const Backend& backend) {
  if (backend.cuda_device() < 0) return std::nullopt;
  return dense_peak_flops(cuda_device_name(backend.cuda_device()), backend.compute_dtype());
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
