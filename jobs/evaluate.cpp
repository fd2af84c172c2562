#include "jobs/evaluate.h"

#include <algorithm>

#include "jobs/objective.h"

namespace molt {

io::LoaderOptions training_loader_options(const JobConfig& job, int rank, int world) {
  io::LoaderOptions loader;
  loader.dataset_dir = job.data.dataset;
  loader.seq_len = raw_window_tokens(job) - 1;
  loader.seed = static_cast<uint64_t>(job.run.seed);
  loader.rank = rank;
  loader.world = world;
  loader.micro_batch = static_cast<int>(job.batch.micro_batch);
  loader.accum_steps = accum_steps(job, world);
  return loader;
}

io::LoaderOptions evaluation_loader_options(const JobConfig& job, const std::string& split,
                                            int rank, int world, int64_t batches) {
  io::LoaderOptions loader = training_loader_options(job, rank, world);
  loader.split = split;
  loader.shuffle = false;
  loader.spread_windows = static_cast<uint64_t>(std::max<int64_t>(batches, 0)) *
                          static_cast<uint64_t>(job.batch.global_batch);
  return loader;
}

LossSums evaluate_loss(const JobConfig& job, const io::DatasetInfo& dataset,
                       io::TokenLoader& loader, model::LanguageModel& model, int64_t micro_batches,
                       const EvaluatedBatchObserver& observe) {
  loader.seek(0);
  LossSums sums;
  for (int64_t i = 0; i < micro_batches; ++i) {
    io::MicroBatch windows = loader.next();
    model::TokenBatch batch =
        make_batch(job, dataset, windows, windows.step * job.batch.global_batch);
    const double loss_nats = model.forward_backward(batch, 0.0f, {});
    sums.loss_nats += loss_nats;
    sums.counted_targets += static_cast<double>(batch.counted_targets());
    if (observe) observe(batch, loss_nats);
  }
  return sums;
}

}  // namespace molt
