// Tensor views, dtypes and CPU memory: the contracts every other op relies on.
#include <algorithm>
#include <cstdint>
#include <stdexcept>

#include "kernels/sizing_backend.h"
#include "tests/kernels/kernel_test_support.h"

namespace molt::kernels::testing {
namespace {

using TensorTest = KernelTest;

TEST(DTypeTest, BytesAndNames) {
  EXPECT_EQ(dtype_bytes(DType::kF32), 4u);
  EXPECT_EQ(dtype_bytes(DType::kBF16), 2u);
  EXPECT_EQ(dtype_bytes(DType::kI32), 4u);
  EXPECT_STREQ(dtype_name(DType::kF32), "f32");
  EXPECT_STREQ(dtype_name(DType::kBF16), "bf16");
  EXPECT_STREQ(dtype_name(DType::kI32), "i32");
}

TEST_F(TensorTest, AllocateIsZeroFilledAnd64ByteAligned) {
  // Both sides of the size where the CPU backend maps pages instead of allocating (1 MiB).
  for (size_t count : {1u, 7u, 1000u, 4097u, 262143u, 262144u, 3000001u}) {
    Tensor t = zeros(count);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(t.data) % 64, 0u) << count;
    for (float x : host(t)) ASSERT_EQ(x, 0.0f);
  }
  Tensor bf = zeros(5, DType::kBF16);
  EXPECT_EQ(bf.bytes(), 10u);
}

TEST_F(TensorTest, MemoryFreedAndAllocatedAgainIsZeroAgain) {
  for (size_t count : {1000u, 3000001u}) {
    Tensor t = backend().allocate(DType::kF32, count);
    std::vector<float> ones(count, 1.0f);
    backend().upload(t, ones.data());
    backend().free(t);
    Tensor again = backend().allocate(DType::kF32, count);
    std::vector<float> back(count, -1.0f);
    backend().download(back.data(), again);
    EXPECT_EQ(std::count(back.begin(), back.end(), 0.0f), static_cast<long>(count)) << count;
    backend().free(again);
  }
}

TEST_F(TensorTest, MemoryUsageCountsLiveBuffersAndTheirPeak) {
  auto cpu = make_cpu_backend();
  EXPECT_EQ(cpu->memory_usage().current_bytes, 0u);
  Tensor a = cpu->allocate(DType::kF32, 1000);       // 4000 bytes, below the mapped size
  Tensor b = cpu->allocate(DType::kBF16, 3000001);   // 6000002 bytes, mapped
  EXPECT_EQ(cpu->memory_usage().current_bytes, 4000u + 6000002u);
  cpu->free(b);
  EXPECT_EQ(cpu->memory_usage().current_bytes, 4000u);
  EXPECT_EQ(cpu->memory_usage().peak_bytes, 4000u + 6000002u);
  cpu->free(cpu->allocate(DType::kI32, 10));
  EXPECT_EQ(cpu->memory_usage().peak_bytes, 4000u + 6000002u);  // 4040 < the old peak
  cpu->reset_peak_memory();
  EXPECT_EQ(cpu->memory_usage().peak_bytes, 4000u);
  Tensor c = cpu->allocate(DType::kF32, 0);  // empty: nothing held
  cpu->free(c);
  cpu->free(a);
  EXPECT_EQ(cpu->memory_usage().current_bytes, 0u);
  EXPECT_EQ(cpu->memory_usage().peak_bytes, 4000u);
}

TEST(SizingBackendTest, CountsDistinctBuffersAndRunsNoOp) {
  auto sizing = make_sizing_backend(DType::kBF16);
  EXPECT_EQ(sizing->compute_dtype(), DType::kBF16);
  // Far more than this machine's memory: nothing is allocated.
  Tensor a = sizing->allocate(DType::kF32, size_t(1) << 40);
  Tensor b = sizing->allocate(DType::kBF16, 3);
  EXPECT_NE(a.data, nullptr);
  EXPECT_NE(a.data, b.data);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(b.data) % 64, 0u);
  EXPECT_EQ(sizing->memory_usage().current_bytes, (size_t(4) << 40) + 6);
  sizing->upload(b, nullptr);  // nothing to write
  sizing->fill(b, 0.0f);
  EXPECT_THROW(sizing->copy(a, b), std::logic_error);
  EXPECT_THROW(sizing->matmul_forward(a, a, a, Tensor{}, 1, 1, 1), std::logic_error);
  sizing->free(a);
  EXPECT_EQ(sizing->memory_usage().current_bytes, 6u);
  EXPECT_EQ(sizing->memory_usage().peak_bytes, (size_t(4) << 40) + 6);
  sizing->free(b);
}

TEST_F(TensorTest, SliceViewsTheRightElements) {
  Tensor t = device(std::vector<float>{0, 1, 2, 3, 4, 5});
  Tensor s = t.slice(2, 3);
  EXPECT_EQ(s.count, 3u);
  EXPECT_EQ(host(s), (std::vector<float>{2, 3, 4}));
  EXPECT_EQ(t.slice(6, 0).count, 0u);
  EXPECT_THROW(t.slice(4, 3), std::logic_error);
  EXPECT_THROW(t.slice(7, 0), std::logic_error);
}

TEST_F(TensorTest, TypedAccessorsRejectTheWrongDtype) {
  Tensor f = zeros(2);
  Tensor i = zeros(2, DType::kI32);
  EXPECT_NE(f.f32(), nullptr);
  EXPECT_NE(i.i32(), nullptr);
  EXPECT_THROW(f.i32(), std::logic_error);
  EXPECT_THROW(i.f32(), std::logic_error);
}

TEST_F(TensorTest, UploadDownloadRoundTrip) {
  const std::vector<float> values = random_normal(33, 1);
  EXPECT_EQ(host(device(values)), values);
  const std::vector<int32_t> ids = {3, -1, 7};
  EXPECT_EQ(host_i32(device(ids)), ids);
}

TEST_F(TensorTest, CpuBackendComputesInF32) {
  EXPECT_EQ(backend().compute_dtype(), DType::kF32);
  EXPECT_EQ(backend().name(), "cpu");
}

}  // namespace
}  // namespace molt::kernels::testing
