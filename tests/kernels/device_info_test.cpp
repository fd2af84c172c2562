// The peak table behind MFU: names as cudaGetDeviceProperties reports them map to the
// datasheet's dense peak for the compute dtype; anything else is unknown, never a guess.
#include "kernels/device_info.h"

#include <gtest/gtest.h>

namespace molt::kernels {
namespace {

TEST(DensePeakFlops, KnowsHopperAndAmpereByTheirDriverNames) {
  struct Case {
    const char* name;
    double bf16_flops, f32_flops;
  };
  for (const Case& c :
       {Case{"NVIDIA H100 80GB HBM3", 989e12, 67e12}, Case{"NVIDIA H200", 989e12, 67e12},
        Case{"NVIDIA GH200 480GB", 989e12, 67e12}, Case{"NVIDIA H100 PCIe", 756e12, 51e12},
        Case{"NVIDIA H100 NVL", 835e12, 60e12}, Case{"NVIDIA H200 NVL", 835e12, 60e12},
        Case{"NVIDIA A100-SXM4-80GB", 312e12, 19.5e12},
        Case{"NVIDIA A100-PCIE-40GB", 312e12, 19.5e12},
        Case{"NVIDIA A100 80GB PCIe", 312e12, 19.5e12}}) {
    EXPECT_EQ(dense_peak_flops(c.name, DType::kBF16), c.bf16_flops) << c.name;
    EXPECT_EQ(dense_peak_flops(c.name, DType::kF32), c.f32_flops) << c.name;
  }
}

TEST(DensePeakFlops, IgnoresCase) {
  EXPECT_EQ(dense_peak_flops("nvidia h100 pcie", DType::kBF16), 756e12);
}

TEST(DensePeakFlops, UnknownDevicesAndIntegerComputeHaveNoPeak) {
  for (const char* name : {"", "cpu", "NVIDIA GeForce RTX 4090", "Tesla V100-SXM2-32GB"}) {
    EXPECT_FALSE(dense_peak_flops(name, DType::kBF16).has_value()) << name;
    EXPECT_FALSE(dense_peak_flops(name, DType::kF32).has_value()) << name;
  }
  EXPECT_FALSE(dense_peak_flops("NVIDIA H100 80GB HBM3", DType::kI32).has_value());
}

TEST(CudaDeviceName, IsEmptyForADeviceThatDoesNotExist) {
  EXPECT_EQ(cuda_device_name(cuda_device_count()), "");
}

}  // namespace
}  // namespace molt::kernels
