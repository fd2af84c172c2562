// `molt memory JOB.toml`: the device memory one rank of a training job needs, per part, with
// activation recomputation off and on, counted without running the job (jobs/memory_plan.h).
// For choosing a micro-batch, recomputation or ZeRO-1 before a GPU job is submitted.
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "io/dataset_info.h"
#include "jobs/commands.h"
#include "jobs/config.h"
#include "jobs/memory_plan.h"
#include "jobs/objective.h"
#include "kernels/error.h"

namespace molt {
namespace {

struct MemoryArgs {
  std::string job;
  std::vector<std::string> overrides;
  int world = 1;
  int64_t vocab_size = 0;  // 0: the job's model.vocab_size, else the dataset's
  double fit_gib = 0;      // > 0: also the largest micro-batch whose total fits in this
};

// The largest micro-batch (up to 2^20 sequences) whose total stays within `limit` bytes, or 0
// when not even one sequence fits. Activations grow with the micro-batch, nothing else does,
// so the total is monotone and a doubling then bisection finds it.
int64_t largest_micro_batch(JobConfig job, int64_t vocab, int world, bool recompute,
                            size_t limit) {
  auto fits = [&](int64_t micro) {
    job.batch.micro_batch = micro;
    return plan_memory(job, vocab, world, recompute).total() <= limit;
  };
  if (!fits(1)) return 0;
  int64_t good = 1, bad = 2;
  while (bad <= (int64_t(1) << 20) && fits(bad)) good = bad, bad *= 2;
  if (bad > (int64_t(1) << 20)) return good;
  while (bad - good > 1) {
    const int64_t mid = good + (bad - good) / 2;
    (fits(mid) ? good : bad) = mid;
  }
  return good;
}

void print_memory(const MemoryArgs& args) {
  const JobConfig job = load_job(args.job, args.overrides);
  if (args.world < 1) throw UserError("--world must be >= 1");
  if (args.fit_gib < 0) throw UserError("--fit-gib must be > 0");
  int64_t vocab = args.vocab_size > 0 ? args.vocab_size : job.model.vocab_size;
  if (vocab == 0) vocab = io::read_dataset(job.data.dataset).vocab_size;
  const MemoryPlan plans[2] = {plan_memory(job, vocab, args.world, false),
                               plan_memory(job, vocab, args.world, true)};
  const ExampleShape example = example_shape(job);
  const bool encdec = job.model.family == "encdec";
  std::printf("molt memory: %s, %lld parameters, micro-batch %lld x %d%s tokens, %s compute, "
              "rank 0 of %d%s\n",
              job.model.family.c_str(), static_cast<long long>(plans[0].parameters),
              static_cast<long long>(job.batch.micro_batch), example.input_tokens,
              encdec ? (" + " + std::to_string(example.target_tokens)).c_str() : "",
              job.run.precision.c_str(), args.world,
              job.dist.shard_optimizer && args.world > 1 ? " (ZeRO-1)" : "");
  const double mib = double(1 << 20);
  auto row = [&](const char* what, size_t MemoryPlan::*part) {
    std::printf("  %-32s %12.1f MiB %12.1f MiB\n", what, double(plans[0].*part) / mib,
                double(plans[1].*part) / mib);
  };
  std::printf("  %-32s %16s %16s\n", "", "recompute off", "recompute on");
  row("master weights (f32)", &MemoryPlan::master_weights);
  row("gradients (f32)", &MemoryPlan::gradients);
  row("compute copy of the weights", &MemoryPlan::compute_copy);
  row("AdamW m and v (f32)", &MemoryPlan::optimizer);
  row("activations (one micro-batch)", &MemoryPlan::activations);
  std::printf("  %-32s %12.1f MiB %12.1f MiB\n", "total", double(plans[0].total()) / mib,
              double(plans[1].total()) / mib);
  std::printf("  the job has train.recompute = %s. Not counted: the CUDA context, cuBLAS "
              "workspaces, NCCL's buffers, allocator rounding.\n",
              job.train.recompute ? "true" : "false");
  if (args.fit_gib > 0) {
    const auto limit = static_cast<size_t>(args.fit_gib * double(size_t(1) << 30));
    const int64_t off = largest_micro_batch(job, vocab, args.world, false, limit);
    const int64_t on = largest_micro_batch(job, vocab, args.world, true, limit);
    std::printf("  largest micro-batch within %g GiB: %lld (recompute off), %lld (recompute on)\n",
                args.fit_gib, static_cast<long long>(off), static_cast<long long>(on));
    std::printf("largest_micro_batch_recompute_off=%lld\nlargest_micro_batch_recompute_on=%lld\n",
                static_cast<long long>(off), static_cast<long long>(on));
  }
  std::printf("total_bytes=%zu\n", plans[job.train.recompute ? 1 : 0].total());
  std::printf("total_bytes_recompute_off=%zu\ntotal_bytes_recompute_on=%zu\n", plans[0].total(),
              plans[1].total());
}

}  // namespace

void add_memory_command(CLI::App& app) {
  auto args = std::make_shared<MemoryArgs>();
  CLI::App* cmd = app.add_subcommand(
      "memory", "Device memory one rank of a training job needs (weights, gradients, optimizer, "
                "activations), without running it");
  cmd->add_option("job", args->job, "Job file (TOML)")->required()->check(CLI::ExistingFile);
  cmd->add_option("--set", args->overrides, "Override a key, as for molt train")
      ->type_name("KEY=VALUE");
  cmd->add_option("--world", args->world, "Ranks (matters for dist.shard_optimizer)")
      ->capture_default_str();
  cmd->add_option("--fit-gib", args->fit_gib,
                  "Also find the largest micro-batch whose total fits in this many GiB");
  cmd->add_option("--vocab-size", args->vocab_size,
                  "Vocabulary when the job takes it from a dataset that is not at hand");
  cmd->callback([args] { print_memory(*args); });
}

}  // namespace molt
