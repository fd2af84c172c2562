// BufferSet (model/buffer_set.h): a dry run counts what a shape's requests take; a set
// carves its buffers from the block of the set before it when that is large enough,
// zeroed, and replaces it when it is not; every byte is back with the backend once the
// sets are gone.
#include "model/buffer_set.h"

#include <gtest/gtest.h>

#include <vector>

#include "kernels/backend.h"

namespace molt::model {
namespace {

using kernels::DType;
using kernels::Tensor;

// The requests of one "shape": n f32 values, then 16 bf16 and 10 i32.
void request(BufferSet& set, size_t n, Tensor* first = nullptr) {
  const Tensor a = set.allocate(DType::kF32, n);
  if (first != nullptr) *first = a;
  set.allocate(DType::kBF16, 16);
  set.allocate(DType::kI32, 10);
}

size_t measured(kernels::Backend& backend, size_t n) {
  BufferSet dry(backend, BufferSet::kMeasure);
  request(dry, n);
  return dry.bytes();
}

TEST(BufferSetTest, ADryRunCountsEachRequestRoundedTo256Bytes) {
  auto backend = kernels::make_cpu_backend();
  EXPECT_EQ(measured(*backend, 1000), 4096u + 256u + 256u);
  EXPECT_EQ(measured(*backend, 64), 256u + 256u + 256u);
  EXPECT_EQ(backend->memory_usage().peak_bytes, 0u);  // it allocated nothing
}

TEST(BufferSetTest, ShapesShareOneBlockThatGrowsToTheLargest) {
  auto backend = kernels::make_cpu_backend();
  auto held = [&] { return backend->memory_usage().current_bytes; };
  Tensor block;
  const void* first_at = nullptr;
  {
    BufferSet set(*backend, block, measured(*backend, 1000));  // a block of 4608 bytes
    Tensor a;
    EXPECT_EQ(held(), 4608u);
    request(set, 1000, &a);
    EXPECT_EQ(held(), 4608u);  // carved, nothing more allocated
    first_at = a.data;
    const std::vector<float> junk(1000, -3.0f);
    backend->upload(a, junk.data());  // must not reach the next set's buffers
    block = set.take_block();
  }
  EXPECT_EQ(held(), 4608u);  // the block, handed on
  {
    // A smaller shape keeps the block; its buffers are zero.
    BufferSet set(*backend, block, measured(*backend, 500));
    Tensor a;
    request(set, 500, &a);
    EXPECT_EQ(a.data, first_at);
    EXPECT_EQ(held(), 4608u);
    std::vector<float> values(500, 1.0f);
    backend->download(values.data(), a);
    for (float v : values) ASSERT_EQ(v, 0.0f);
    block = set.take_block();
  }
  {
    // A larger one replaces it (the old block goes first).
    BufferSet set(*backend, block, measured(*backend, 2000));
    EXPECT_EQ(held(), 8192u + 512u);
    request(set, 2000);
    EXPECT_EQ(backend->memory_usage().peak_bytes, 8192u + 512u);
  }
  EXPECT_EQ(held(), 0u);
}

TEST(BufferSetTest, RequestsBeyondTheBlockGetAllocationsOfTheirOwn) {
  auto backend = kernels::make_cpu_backend();
  {
    BufferSet set(*backend, Tensor{}, measured(*backend, 100));  // 1024 bytes
    Tensor a;
    request(set, 100, &a);
    const Tensor extra = set.allocate(DType::kF32, 300);
    EXPECT_EQ(backend->memory_usage().current_bytes, 1024u + 1200u);
    EXPECT_NE(extra.data, nullptr);
    EXPECT_EQ(set.bytes(), 1024u + 1280u);
  }
  EXPECT_EQ(backend->memory_usage().current_bytes, 0u);
}

}  // namespace
}  // namespace molt::model
