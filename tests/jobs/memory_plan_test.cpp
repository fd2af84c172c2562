// memory_shortfall (jobs/memory_plan.h): the message a GPU job that cannot fit ends with, and
// plan_memory's parts for a small GPT-2 against their sizes by hand. That plan_memory's total
// is what training allocates is tests/jobs/memory_test.sh.
#include "jobs/memory_plan.h"

#include <gtest/gtest.h>

namespace molt {
namespace {

JobConfig SmallJob() {
  JobConfig job;
  job.run.precision = "bf16";
  job.model.family = "decoder";
  job.model.vocab_size = 100;
  job.model.n_ctx = 16;
  job.model.d_model = 32;
  job.model.n_layer = 2;
  job.model.n_head = 2;
  job.data.seq_len = 16;
  job.data.objective = "causal";
  job.batch.micro_batch = 4;
  job.batch.global_batch = 8;
  return job;
}

constexpr size_t kGiB = size_t(1) << 30;

MemoryPlan Plan(size_t states_gib, size_t activations_gib) {
  MemoryPlan plan;
  plan.master_weights = states_gib * kGiB;
  plan.activations = activations_gib * kGiB;
  return plan;
}

TEST(MemoryPlan, PartsOfASmallGptInBf16) {
  const JobConfig job = SmallJob();
  const MemoryPlan plan = plan_memory(job, 100, 1, false);
  // wte 100·32 + wpe 16·32 + 2 blocks of (2·32 + 3·32·32+3·32 + 32·32+32 + 2·32 + 4·32·32+4·32
  // + 4·32·32+32) + ln_f 2·32
  const size_t block = 2 * 32 + (3 * 32 * 32 + 3 * 32) + (32 * 32 + 32) + 2 * 32 +
                       (4 * 32 * 32 + 4 * 32) + (4 * 32 * 32 + 32);
  const size_t n = 100 * 32 + 16 * 32 + 2 * block + 2 * 32;
  EXPECT_EQ(plan.parameters, static_cast<int64_t>(n));
  EXPECT_EQ(plan.master_weights, 4 * n);
  EXPECT_EQ(plan.gradients, 4 * n);
  EXPECT_EQ(plan.compute_copy, 2 * n);
  EXPECT_EQ(plan.optimizer, 8 * n);
  const MemoryPlan recomputed = plan_memory(job, 100, 1, true);
  EXPECT_LT(recomputed.activations, plan.activations);
  EXPECT_EQ(recomputed.total() - recomputed.activations, plan.total() - plan.activations);
  // ZeRO-1 on 4 ranks: rank 0 holds a quarter of m and v (rounded up), nothing else changes.
  JobConfig sharded = job;
  sharded.dist.shard_optimizer = true;
  EXPECT_EQ(plan_memory(sharded, 100, 4, false).optimizer, 8 * ((n + 3) / 4));
  EXPECT_EQ(plan_memory(sharded, 100, 1, false).optimizer, 8 * n);  // one rank: no sharding
}

TEST(MemoryShortfall, NothingWhenItFits) {
  const JobConfig job = SmallJob();
  EXPECT_EQ(memory_shortfall(job, Plan(10, 20), Plan(10, 5), 31 * kGiB, 1, 1), "");
  EXPECT_EQ(memory_shortfall(job, Plan(10, 20), Plan(10, 5), 30 * kGiB, 1, 1), "");
}

TEST(MemoryShortfall, NamesBothSizesAndWhatWouldHelp) {
  JobConfig job = SmallJob();
  const std::string message = memory_shortfall(job, Plan(10, 20), Plan(10, 5), 29 * kGiB, 1, 4);
  EXPECT_NE(message.find("needs 30.00 GiB"), std::string::npos) << message;
  EXPECT_NE(message.find("activations of a micro-batch of 4: 20.00 GiB"), std::string::npos)
      << message;
  EXPECT_NE(message.find("29.00 GiB free"), std::string::npos) << message;
  EXPECT_NE(message.find("train.recompute = true (15.00 GiB per rank)"), std::string::npos)
      << message;
  EXPECT_NE(message.find("dist.shard_optimizer = true"), std::string::npos) << message;
  // Already recomputing, one sequence per micro-batch, one rank: nothing left to suggest.
  job.train.recompute = true;
  job.batch.micro_batch = 1;
  const std::string bare = memory_shortfall(job, Plan(10, 20), Plan(10, 20), 29 * kGiB, 1, 1);
  EXPECT_EQ(bare.find("try"), std::string::npos) << bare;
}

TEST(MemoryShortfall, RanksSharingAGpuEachNeedTheirShare) {
  const JobConfig job = SmallJob();
  EXPECT_EQ(memory_shortfall(job, Plan(10, 20), Plan(10, 5), 50 * kGiB, 1, 2), "");
  const std::string shared = memory_shortfall(job, Plan(10, 20), Plan(10, 5), 50 * kGiB, 2, 2);
  EXPECT_NE(shared.find("times 2 ranks sharing it"), std::string::npos) << shared;
}

}  // namespace
}  // namespace molt
