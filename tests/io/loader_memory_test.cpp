// Contract: the loader streams. Reading a dataset far larger than its prefetch queue grows
// resident memory by less than kGrowthBoundBytes, a bound the delivered data exceeds
// several times over (so a loader that held the dataset, or leaked each batch, would fail).
//
// RSS is sampled from /proc/self/statm (current resident pages) while streaming, and the
// peak growth over the baseline taken after the first batch is what is bounded; the OS
// page cache holding the shard files is not part of RSS (HDF5 reads with pread, no mmap).
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>

#include "io/token_loader.h"
#include "tests/io/io_fixtures.h"

namespace molt::io {
namespace {

int64_t resident_bytes() {
  std::ifstream statm("/proc/self/statm");
  int64_t total_pages = 0, resident_pages = 0;
  statm >> total_pages >> resident_pages;
  return resident_pages * sysconf(_SC_PAGESIZE);
}

TEST(LoaderMemory, StreamingADatasetManyTimesThePrefetchQueueKeepsRssBounded) {
  constexpr int64_t kGrowthBoundBytes = 8 << 20;
  testing::TempDir tmp;
  // 4 shards x 2.5M tokens, stored as uint32: 40 MB of tokens.
  testing::write_synthetic_dataset(tmp.path(), {2500000, 2500000, 2500000, 2500000});
  LoaderOptions options;
  options.dataset_dir = tmp.path();
  options.seq_len = 1024;
  options.micro_batch = 8;
  options.prefetch_depth = 4;  // queue: 4 x 8 x 1025 x 4 B = 131 KB
  TokenLoader loader(options);

  loader.next();
  const int64_t baseline = resident_bytes();
  int64_t peak_growth = 0, delivered_bytes = 0;
  const int64_t batches = loader.sequences_per_epoch() / options.micro_batch;
  for (int64_t i = 0; i < batches; ++i) {
    MicroBatch batch = loader.next();
    delivered_bytes += static_cast<int64_t>(batch.tokens.size() * sizeof(int32_t));
    if (i % 64 == 0) peak_growth = std::max(peak_growth, resident_bytes() - baseline);
  }
  peak_growth = std::max(peak_growth, resident_bytes() - baseline);
  EXPECT_GT(delivered_bytes, 4 * kGrowthBoundBytes) << "the test must stream more than it bounds";
  EXPECT_LT(peak_growth, kGrowthBoundBytes) << "delivered " << delivered_bytes << " bytes";
}

}  // namespace
}  // namespace molt::io
