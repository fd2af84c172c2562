// GradientBuckets contracts, over a recording Comm: a bucket's sum starts the moment its
// last element is reported (so communication overlaps the rest of backward), in-flight sums
// are polled on every report (MPI progresses only inside calls), finish() starts what was
// never reported and waits for everything, ZeRO-1 buckets stay inside one shard and go to
// its owner, and a group of one communicates nothing.
#include "dist/gradient_buckets.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace molt::dist {
namespace {

struct Log {
  std::vector<std::string> events;  // "start 0 4", "poll 0", "wait 0"
};

class RecordingReduction final : public PendingReduction {
 public:
  RecordingReduction(Log& log, size_t begin) : log_(log), begin_(begin) {}
  void wait() override { log_.events.push_back("wait " + std::to_string(begin_)); }
  bool poll() override {
    log_.events.push_back("poll " + std::to_string(begin_));
    return false;
  }

 private:
  Log& log_;
  size_t begin_;
};

class RecordingComm final : public Comm {
 public:
  RecordingComm(int world, const float* base) : world_(world), base_(base) {}
  int rank() const override { return 0; }
  int world() const override { return world_; }
  int local_rank() const override { return 0; }
  int local_world() const override { return world_; }
  std::unique_ptr<PendingReduction> start_sum(kernels::Tensor buffer) override {
    const size_t begin = static_cast<size_t>(buffer.f32() - base_);
    log.events.push_back("start " + std::to_string(begin) + " " + std::to_string(buffer.count));
    return std::make_unique<RecordingReduction>(log, begin);
  }
  std::unique_ptr<PendingReduction> start_sum_to(kernels::Tensor buffer, int root) override {
    const size_t begin = static_cast<size_t>(buffer.f32() - base_);
    log.events.push_back("start " + std::to_string(begin) + " " + std::to_string(buffer.count) +
                         " to " + std::to_string(root));
    return std::make_unique<RecordingReduction>(log, begin);
  }
  void reduce_scatter_sum(kernels::Tensor, size_t) override {}
  void all_gather(kernels::Tensor, size_t) override {}
  void sum(double*, int) override {}
  void max(int64_t*, int) override {}
  void broadcast(void*, size_t, int) override {}
  void barrier() override {}
  [[noreturn]] void abort(int) override { std::abort(); }

  Log log;

 private:
  int world_;
  const float* base_;
};

struct Grads {
  std::vector<float> host = std::vector<float>(10);
  kernels::Tensor tensor{host.data(), kernels::DType::kF32, host.size()};
};

TEST(GradientBuckets, CutsTheBufferIntoBucketsOfTheRequestedBytes) {
  Grads grads;
  RecordingComm comm(2, grads.host.data());
  GradientBuckets buckets(comm, grads.tensor, 4 * sizeof(float));
  EXPECT_EQ(buckets.bucket_count(), 3u);  // 4 + 4 + 2 elements
}

TEST(GradientBuckets, StartsABucketAsSoonAsItsLastElementIsReadyAndPollsDuringBackward) {
  Grads grads;
  RecordingComm comm(2, grads.host.data());
  GradientBuckets buckets(comm, grads.tensor, 4 * sizeof(float));
  // Backward runs from the last layer to the first: the buffer's end is final first.
  buckets.ready(8, 10);
  EXPECT_EQ(comm.log.events, (std::vector<std::string>{"start 8 2", "poll 8"}));
  buckets.ready(6, 8);  // half of the middle bucket: nothing starts, the in-flight one is polled
  EXPECT_EQ(comm.log.events.back(), "poll 8");
  EXPECT_EQ(comm.log.events.size(), 3u);
  buckets.ready(4, 6);
  EXPECT_EQ(comm.log.events[3], "start 4 4");
  buckets.finish();  // bucket 0 was never reported: finish starts it, then waits for all
  const std::vector<std::string> tail(comm.log.events.end() - 4, comm.log.events.end());
  EXPECT_EQ(tail, (std::vector<std::string>{"start 0 4", "wait 0", "wait 4", "wait 8"}));
}

TEST(GradientBuckets, ResetsAfterFinishSoTheNextStepStartsAgain) {
  Grads grads;
  RecordingComm comm(2, grads.host.data());
  GradientBuckets buckets(comm, grads.tensor, 4 * sizeof(float));
  buckets.ready(0, 10);
  buckets.finish();
  comm.log.events.clear();
  buckets.ready(8, 10);
  EXPECT_EQ(comm.log.events.front(), "start 8 2");
}

TEST(GradientBuckets, ShardedBucketsStopAtShardBoundariesAndGoToTheirOwner) {
  Grads grads;  // 10 elements, 3 ranks: shards [0,4) [4,8) [8,10)
  RecordingComm comm(3, grads.host.data());
  GradientBuckets buckets(comm, grads.tensor, 3 * sizeof(float), 4);
  EXPECT_EQ(buckets.bucket_count(), 5u);  // [0,3) [3,4) [4,7) [7,8) [8,10)
  buckets.ready(7, 10);
  EXPECT_EQ(comm.log.events[0], "start 7 1 to 1");
  EXPECT_EQ(comm.log.events[1], "start 8 2 to 2");
  buckets.ready(0, 7);
  EXPECT_EQ(comm.log.events[4], "start 0 3 to 0");
  EXPECT_EQ(comm.log.events[5], "start 3 1 to 0");
  EXPECT_EQ(comm.log.events[6], "start 4 3 to 1");
}

TEST(GradientBuckets, AGroupOfOneCommunicatesNothing) {
  Grads grads;
  RecordingComm comm(1, grads.host.data());
  GradientBuckets buckets(comm, grads.tensor, 4 * sizeof(float));
  buckets.ready(0, 10);
  buckets.finish();
  EXPECT_TRUE(comm.log.events.empty());
}

}  // namespace
}  // namespace molt::dist
