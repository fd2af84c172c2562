#include "jobs/memory_plan.h"

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

}  // namespace molt
