#include "jobs/memory_plan.h"

#include <cstdio>

#include "dist/shard_layout.h"
#include "jobs/model_factory.h"
#include "jobs/objective.h"
#include "jobs/optimizer.h"
#include "kernels/sizing_backend.h"

namespace molt {

MemoryPlan plan_memory(const JobConfig& job, int64_t vocab_size, int world, bool recompute) {
  const kernels::DType compute =
      job.run.precision == "bf16" ? kernels::DType::kBF16 : kernels::DType::kF32;
  auto backend = kernels::make_sizing_backend(compute);
  auto held = [&] { return backend->memory_usage().current_bytes; };
  MemoryPlan plan;
  auto model = make_model(job, vocab_size, *backend);
  model->set_recompute(recompute);
  const size_t count = model->params().count;
  plan.parameters = static_cast<int64_t>(count);
  plan.master_weights = model->params().bytes();
  plan.gradients = model->grads().bytes();
  plan.compute_copy = held() - plan.master_weights - plan.gradients;
  // As the trainer shards it: ZeRO-1 only when there is more than one rank.
  const bool sharded = job.dist.shard_optimizer && world > 1;
  const dist::ShardLayout shard = dist::shard_layout(count, sharded ? world : 1, 0);
  size_t before = held();
  AdamW optimizer(*backend, model->table(), shard.begin, shard.end);
  plan.optimizer = held() - before;
  const ExampleShape example = example_shape(job);
  before = held();
  model->reserve(static_cast<int>(job.batch.micro_batch), example.input_tokens,
                 example.target_tokens);
  plan.activations = held() - before;
  return plan;
}

std::string memory_shortfall(const JobConfig& job, const MemoryPlan& need,
                             const MemoryPlan& recomputed, size_t free_bytes,
                             int ranks_on_device, int world) {
  const double gib = double(size_t(1) << 30);
  const double needed = double(need.total()) * ranks_on_device;
  if (needed <= double(free_bytes)) return "";
  char text[512];
  std::snprintf(text, sizeof text,
                "this job needs %.2f GiB of device memory per rank (weights, gradients and "
                "optimizer %.2f GiB, activations of a micro-batch of %lld: %.2f GiB; "
                "`molt memory` shows the parts)%s, and the GPU has %.2f GiB free",
                double(need.total()) / gib,
                double(need.total() - need.activations) / gib,
                static_cast<long long>(job.batch.micro_batch), double(need.activations) / gib,
                ranks_on_device > 1
                    ? (", times " + std::to_string(ranks_on_device) + " ranks sharing it").c_str()
                    : "",
                double(free_bytes) / gib);
  std::string message = text;
  std::string hints;
  if (!job.train.recompute) {
    std::snprintf(text, sizeof text, "train.recompute = true (%.2f GiB per rank)",
                  double(recomputed.total()) / gib);
    hints += text;
  }
  if (job.batch.micro_batch > 1) hints += std::string(hints.empty() ? "" : ", ") +
                                          "a smaller batch.micro_batch (more accumulation steps)";
  if (world > 1 && !job.dist.shard_optimizer)
    hints += std::string(hints.empty() ? "" : ", ") + "dist.shard_optimizer = true";
  if (!hints.empty()) message += "; try " + hints;
  return message;
}

}  // namespace molt
