#include "jobs/trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>

#include "dist/comm.h"
#include "dist/gradient_buckets.h"
#include "dist/shard_layout.h"
#include "io/async_checkpoint_writer.h"
#include "io/checkpoint.h"
#include "io/dataset_info.h"
#include "io/file_ops.h"
#include "io/metrics.h"
#include "io/token_loader.h"
#include "jobs/eval_sets.h"
#include "jobs/evaluate.h"
#include "jobs/lr_schedule.h"
#include "jobs/memory_plan.h"
#include "jobs/model_factory.h"
#include "jobs/objective.h"
#include "jobs/optimizer.h"
#include "jobs/progress.h"
#include "jobs/run_state.h"
#include "kernels/device_info.h"
#include "kernels/error.h"

namespace molt {
namespace fs = std::filesystem;

namespace {

// Set by SIGUSR1/SIGTERM/SIGINT; read at step boundaries. A second SIGINT ends at once.
volatile std::sig_atomic_t g_stop_requested = 0;

void on_stop_signal(int signal) {
  if (signal == SIGINT && g_stop_requested) std::_Exit(130);
  g_stop_requested = 1;
}

void install_stop_handlers() {
  std::signal(SIGUSR1, on_stop_signal);
  std::signal(SIGTERM, on_stop_signal);
  std::signal(SIGINT, on_stop_signal);
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

std::vector<float> download(kernels::Backend& backend, kernels::Tensor t) {
  std::vector<float> host(t.count);
  backend.download(host.data(), t);
  return host;
}

// One evaluation: the job dataset's val split and each named set (eval_sets.h).
struct Evaluation {
  double val_loss = 0;
  std::vector<std::pair<std::string, double>> sets;  // (metrics key val/NAME, mean loss)
};

class Trainer {
 public:
  Trainer(const JobConfig& job, const TrainOptions& options)
      : job_(job), options_(options), start_(std::chrono::steady_clock::now()) {}
  int run();

 private:
  void set_up();
  void restore_or_initialize();
  // A WSD cooldown branch's starting point: the trunk's checkpoint at sweep.branch_step.
  std::string trunk_checkpoint() const;
  // Returns the mean loss of the global batch and sets grad_norm_.
  double train_step(int64_t step);
  void report_memory();
  void check_device_memory();
  std::optional<double> model_flops_utilization(double flops, double seconds) const;
  // Sums the gradients over ranks (all of them, or this rank's shard under ZeRO-1) and
  // returns the global gradient norm.
  double reduce_gradients();
  // Full-size m or v on rank 0 (empty elsewhere); every rank must call it.
  std::vector<float> gather_moment(kernels::Tensor shard);
  Evaluation evaluate();
  // Mean loss over eval.batches global batches of an evaluation loader, summed over ranks.
  double mean_loss(io::TokenLoader& loader);
  void save_checkpoint();
  // Waits for a background checkpoint write (checkpoint.async) and reports it; rethrows its error.
  void finish_checkpoint_write();
  void log_step(double loss, const std::optional<Evaluation>& evaluation, double lr,
                double step_seconds);
  void write_summary(double loss, const std::optional<Evaluation>& evaluation);
  bool leader() const { return comm_->rank() == 0; }
  bool stop_requested();

  JobConfig job_;
  TrainOptions options_;
  std::chrono::steady_clock::time_point start_;
  std::unique_ptr<kernels::Backend> backend_;
  std::unique_ptr<dist::Comm> comm_;
  io::DatasetInfo dataset_;
  std::unique_ptr<model::LanguageModel> model_;
  std::unique_ptr<AdamW> optimizer_;
  std::unique_ptr<dist::GradientBuckets> buckets_;
  dist::ShardLayout shard_;  // this rank's slice of the flat buffers (all of it unless ZeRO-1)
  bool sharded_ = false;
  std::unique_ptr<io::TokenLoader> train_loader_, val_loader_;
  std::vector<EvalSet> eval_sets_;  // [eval.sets], each logged as val/NAME
  std::unique_ptr<io::MetricsWriter> metrics_;
  std::unique_ptr<ProgressPrinter> progress_;
  int accum_ = 1;
  int64_t sequences_per_step_ = 0;
  int64_t tokens_per_sequence_ = 0;  // dataset tokens an example consumes (objective.h)
  double flops_per_sequence_ = 0;
  RunState state_;
  double wall_at_start_ = 0;  // wall seconds of earlier runs (from the checkpoint)
  double grad_norm_ = 0;
  double comm_wait_seconds_ = 0;
  int64_t last_checkpoint_step_ = -1;
  size_t state_bytes_ = 0;  // backend memory held before the first forward pass
  // Dense peak FLOP/s of one rank's device (run.peak_tflops, else kernels::dense_peak_flops):
  // MFU's denominator; none on the CPU or a GPU not in the table, and then mfu is null.
  std::optional<double> peak_flops_;
  bool memory_reported_ = false;
  io::AsyncCheckpointWriter checkpoint_writer_;  // rank 0, checkpoint.async only
};

dist::CommOptions comm_options(const JobConfig& job) {
  dist::CommOptions options;
  options.backend = job.dist.backend == "nccl"  ? dist::CommBackend::kNccl
                    : job.dist.backend == "mpi" ? dist::CommBackend::kMpi
                                                : dist::CommBackend::kAuto;
  options.timeout_seconds = job.dist.timeout_s;
  return options;
}

void Trainer::set_up() {
  // The device follows the rank's place on its node, so the process group comes first.
  const dist::Placement placement = dist::join_world();
  backend_ = make_backend(job_, placement.local_rank);
  comm_ = dist::make_world_comm(*backend_, comm_options(job_));
  if (job_.run.device == "cpu") kernels::configure_cpu_threads(comm_->local_world());
  progress_ = std::make_unique<ProgressPrinter>(leader());
  dataset_ = io::read_dataset(job_.data.dataset);
  check_device_memory();
  model_ = make_model(job_, dataset_.vocab_size, *backend_);
  model_->set_recompute(job_.train.recompute);
  resolve_model_shape(job_, dataset_.vocab_size);  // run.toml and checkpoints say the real shape
  accum_ = accum_steps(job_, comm_->world());
  sequences_per_step_ = job_.batch.global_batch;
  const ExampleShape example = example_shape(job_);
  tokens_per_sequence_ = example.window_tokens - 1;  // new tokens per window (windows share one)
  flops_per_sequence_ =
      model_->training_flops_per_example(example.input_tokens, example.target_tokens);
  sharded_ = job_.dist.shard_optimizer && comm_->world() > 1;
  shard_ = sharded_ ? dist::shard_layout(model_->params().count, comm_->world(), comm_->rank())
                    : dist::shard_layout(model_->params().count, 1, 0);
  optimizer_ = std::make_unique<AdamW>(*backend_, model_->table(), shard_.begin, shard_.end);
  const auto bucket_bytes = static_cast<size_t>(job_.dist.bucket_mb * double(1 << 20));
  buckets_ = std::make_unique<dist::GradientBuckets>(*comm_, model_->grads(), bucket_bytes,
                                                     sharded_ ? shard_.chunk : 0);

  train_loader_ = std::make_unique<io::TokenLoader>(
      training_loader_options(job_, comm_->rank(), comm_->world()));
  val_loader_ = std::make_unique<io::TokenLoader>(
      evaluation_loader_options(job_, "val", comm_->rank(), comm_->world(), job_.eval.batches));
  eval_sets_ = open_eval_sets(job_, dataset_, comm_->rank(), comm_->world());
  // Parameters, gradients, optimizer state and communication buffers are all allocated by
  // now; activations come with the first forward pass.
  state_bytes_ = backend_->memory_usage().current_bytes;
  peak_flops_ = job_.run.peak_tflops > 0 ? std::optional<double>(job_.run.peak_tflops * 1e12)
                                          : kernels::dense_peak_flops(*backend_);
}

// On a GPU, before the model allocates anything: a job that cannot fit ends here with one
// message (jobs/memory_plan.h) rather than with an out-of-memory error in its first step.
// Every rank measures before any allocates, so ranks sharing a GPU see the same free memory.
void Trainer::check_device_memory() {
  if (job_.run.device != "cuda") return;  // the same on every rank, so are the barriers
  comm_->barrier();
  const std::optional<size_t> free = backend_->device_memory_free();
  comm_->barrier();
  if (!free) return;
  const int devices = std::max(1, kernels::cuda_device_count());
  const int sharing = (comm_->local_world() + devices - 1) / devices;
  const MemoryPlan need =
      plan_memory(job_, dataset_.vocab_size, comm_->world(), job_.train.recompute);
  if (need.total() * size_t(sharing) <= *free) return;
  const MemoryPlan recomputed = plan_memory(job_, dataset_.vocab_size, comm_->world(), true);
  throw UserError(memory_shortfall(job_, need, recomputed, *free, sharing, comm_->world()));
}

// One line after the first step, when the activations of a training step have been held:
// the peak of what molt allocated on this rank's device, and its two parts; then what the
// backend holds for itself, where it holds anything (a GPU's scratch and workspaces).
void Trainer::report_memory() {
  const double mib = double(1 << 20);
  const kernels::Backend::MemoryUsage usage = backend_->memory_usage();
  const size_t peak = usage.peak_bytes;
  char own[96] = "";
  if (usage.own_bytes > 0) {
    std::snprintf(own, sizeof own, ", and %.1f MiB the backend's own scratch and workspaces",
                  double(usage.own_bytes) / mib);
  }
  char text[384];
  std::snprintf(text, sizeof text,
                "memory: peak %.1f MiB on %s (parameters, gradients and optimizer %.1f MiB; "
                "activations %.1f MiB%s)%s",
                double(peak) / mib, backend_->name().c_str(), double(state_bytes_) / mib,
                double(peak - std::min(peak, state_bytes_)) / mib,
                job_.train.recompute ? ", recomputed in backward" : "", own);
  progress_->note(text);
}

void Trainer::restore_or_initialize() {
  const std::string& run_dir = job_.run.dir;
  std::optional<std::string> folder;
  if (!options_.resume_from.empty()) {
    folder = options_.resume_from;
  } else {
    folder = io::latest_checkpoint(run_dir);
    if (folder && options_.fresh) {
      throw UserError("run folder " + run_dir + " already has checkpoints (latest: " + *folder +
                      "); --fresh refuses to resume: choose another run.dir or remove it");
    }
    if (!folder && !job_.sweep.trunk.empty()) folder = trunk_checkpoint();
  }
  if (!folder) {
    model_->initialize(static_cast<uint64_t>(job_.run.seed));
    state_.molt_version = MOLT_VERSION;
    return;
  }
  io::LoadedCheckpoint checkpoint = io::read_checkpoint(*folder, model_->table());
  JobConfig saved;
  state_ = parse_run_state(checkpoint.state_toml, *folder + "/state.toml", &saved);
  if (saved.batch.global_batch != job_.batch.global_batch || saved.run.seed != job_.run.seed ||
      saved.data.seq_len != job_.data.seq_len) {
    throw UserError("checkpoint " + *folder +
                    " was trained with another batch.global_batch, run.seed or data.seq_len; "
                    "resuming would not continue the same data stream");
  }
  backend_->upload(model_->params(), checkpoint.params.data());
  if (model_->compute_params().data != model_->params().data) {
    backend_->copy(model_->compute_params(), model_->params());
  }
  // The checkpoint holds full m and v whatever world wrote it; take this rank's slice.
  backend_->upload(optimizer_->m(), checkpoint.m.data() + shard_.begin);
  backend_->upload(optimizer_->v(), checkpoint.v.data() + shard_.begin);
  wall_at_start_ = state_.wall_seconds;
  last_checkpoint_step_ = state_.step;
  progress_->note("resumed from " + *folder + " at step " + std::to_string(state_.step) +
                  " (written by " + std::to_string(state_.world_size) + " rank(s), now " +
                  std::to_string(comm_->world()) + ")");
}

std::string Trainer::trunk_checkpoint() const {
  const std::string folder =
      job_.sweep.trunk + "/checkpoints/" + io::checkpoint_folder_name(job_.sweep.branch_step);
  if (!fs::is_directory(folder))
    throw UserError("sweep.trunk: the branch starts from " + folder +
                    ", which does not exist; train the trunk " + job_.sweep.trunk +
                    " first (its checkpoints must be kept at step " +
                    std::to_string(job_.sweep.branch_step) + ")");
  return folder;
}

double Trainer::train_step(int64_t step) {
  std::vector<model::TokenBatch> batches;
  double counted = 0;
  const int64_t b = job_.batch.micro_batch, world = comm_->world(), rank = comm_->rank();
  for (int m = 0; m < accum_; ++m) {
    io::MicroBatch windows = train_loader_->next();
    int64_t first_sample = step * sequences_per_step_ + (m * world + rank) * b;
    batches.push_back(make_batch(job_, dataset_, windows, first_sample));
    counted += static_cast<double>(batches.back().counted_targets());
  }
  comm_->sum(&counted, 1);
  const float grad_scale = static_cast<float>(1.0 / counted);

  backend_->fill(model_->grads(), 0.0f);
  double loss_sum = 0;
  for (int m = 0; m < accum_; ++m) {
    model::GradsReadyHook hook;
    if (m == accum_ - 1) hook = [this](size_t begin, size_t end) { buckets_->ready(begin, end); };
    loss_sum += model_->forward_backward(batches[m], grad_scale, hook);
  }
  grad_norm_ = reduce_gradients();
  comm_->sum(&loss_sum, 1);
  const double loss = loss_sum / counted;

  if (!std::isfinite(loss) || !std::isfinite(grad_norm_)) {
    progress_->note("stopping: non-finite " +
                    std::string(std::isfinite(loss) ? "gradient norm" : "loss") + " at step " +
                    std::to_string(step) + "; the last checkpoint (step " +
                    std::to_string(last_checkpoint_step_) + ") is intact");
    return loss;
  }
  AdamWSettings settings;
  settings.beta1 = static_cast<float>(job_.optimizer.beta1);
  settings.beta2 = static_cast<float>(job_.optimizer.beta2);
  settings.eps = static_cast<float>(job_.optimizer.eps);
  settings.weight_decay = static_cast<float>(job_.optimizer.weight_decay);
  const float lr = static_cast<float>(learning_rate(job_, step));
  optimizer_->step(model_->params(), model_->grads(), model_->compute_params(), settings, lr,
                   clip_factor(grad_norm_, static_cast<float>(job_.optimizer.grad_clip)), step + 1);
  if (sharded_) {  // every rank updated its shard of the weights; give everyone all of them
    const auto t0 = std::chrono::steady_clock::now();
    comm_->all_gather(model_->params(), shard_.chunk);
    comm_wait_seconds_ += seconds_since(t0);
    if (model_->compute_params().data != model_->params().data) {
      backend_->copy(model_->compute_params(), model_->params());
    }
  }
  return loss;
}

double Trainer::reduce_gradients() {
  buckets_->finish();
  comm_wait_seconds_ += buckets_->last_wait_seconds();
  if (!sharded_) return std::sqrt(backend_->sum_of_squares(model_->grads()));
  // ZeRO-1: the buckets summed each shard to its owner only (a reduce-scatter);
  // |g|² = Σ over ranks of |g_shard|².
  double squares = backend_->sum_of_squares(model_->grads().slice(shard_.begin, shard_.count()));
  comm_->sum(&squares, 1);
  return std::sqrt(squares);
}

std::vector<float> Trainer::gather_moment(kernels::Tensor shard) {
  if (!sharded_) return leader() ? download(*backend_, shard) : std::vector<float>();
  // The gradient buffer is free between steps (train_step zeroes it first): it serves as
  // the full-size staging buffer, so gathering costs no extra memory.
  kernels::Tensor full = model_->grads();
  backend_->copy(full.slice(shard_.begin, shard_.count()), shard);
  comm_->all_gather(full, shard_.chunk);
  return leader() ? download(*backend_, full) : std::vector<float>();
}

double Trainer::mean_loss(io::TokenLoader& loader) {
  // The training dataset's ids (sentinels, eos) hold for every set: they share its tokenizer.
  const LossSums local = evaluate_loss(job_, dataset_, loader, *model_, job_.eval.batches * accum_);
  double sums[2] = {local.loss_nats, local.counted_targets};
  comm_->sum(sums, 2);
  return sums[0] / sums[1];
}

Evaluation Trainer::evaluate() {
  Evaluation evaluation;
  evaluation.val_loss = mean_loss(*val_loader_);
  for (auto& set : eval_sets_)
    evaluation.sets.emplace_back(eval_set_metric(set.name), mean_loss(*set.loader));
  return evaluation;
}

void Trainer::save_checkpoint() {
  if (last_checkpoint_step_ == state_.step) return;
  last_checkpoint_step_ = state_.step;
  std::vector<float> m = gather_moment(optimizer_->m());
  std::vector<float> v = gather_moment(optimizer_->v());
  if (!leader()) return;
  state_.wall_seconds = wall_at_start_ + seconds_since(start_);
  state_.world_size = comm_->world();
  finish_checkpoint_write();  // one write in flight: the previous one completes first
  io::CheckpointSnapshot snapshot;
  snapshot.run_dir = job_.run.dir;
  snapshot.step = state_.step;
  snapshot.table = model_->table();
  snapshot.params = download(*backend_, model_->params());
  const size_t count = snapshot.params.size();
  for (int r = 0; r < (sharded_ ? comm_->world() : 1); ++r) {  // one shard per owning rank
    const dist::ShardLayout owned =
        sharded_ ? dist::shard_layout(count, comm_->world(), r) : shard_;
    if (owned.count() == 0) continue;
    snapshot.shards.emplace_back(owned.begin, owned.count());
  }
  snapshot.m = std::move(m);
  snapshot.v = std::move(v);
  snapshot.state_toml = state_to_toml(state_, job_);
  snapshot.retention.keep_last = job_.checkpoint.keep_last;
  snapshot.retention.keep_every = job_.checkpoint.keep_every;
  if (job_.checkpoint.async) {
    checkpoint_writer_.start(std::move(snapshot));  // training goes on while it is written
  } else {
    progress_->note("checkpoint " + io::write_snapshot(snapshot));
  }
}

void Trainer::finish_checkpoint_write() {
  if (std::optional<std::string> folder = checkpoint_writer_.wait()) {
    progress_->note("checkpoint " + *folder);
  }
}

bool Trainer::stop_requested() {
  int64_t flag = g_stop_requested ? 1 : 0;
  comm_->max(&flag, 1);  // every rank agrees on the step at which to stop
  return flag != 0;
}

void Trainer::log_step(double loss, const std::optional<Evaluation>& evaluation, double lr,
                       double step_seconds) {
  const int64_t step = state_.step;
  const std::optional<double> val_loss =
      evaluation ? std::optional<double>(evaluation->val_loss) : std::nullopt;
  const bool permanent =
      job_.log.every > 0 && (step % job_.log.every == 0 || step == job_.train.steps || val_loss);
  const double tokens_per_step = double(sequences_per_step_) * double(tokens_per_sequence_);
  StepReport report;
  report.step = step;
  report.total_steps = job_.train.steps;
  report.loss = loss;
  report.val_loss = val_loss;
  report.lr = lr;
  report.grad_norm = grad_norm_;
  report.tokens_per_second = tokens_per_step / step_seconds;
  report.mfu = model_flops_utilization(flops_per_sequence_ * double(sequences_per_step_),
                                       step_seconds);
  report.eta_seconds = step_seconds * double(job_.train.steps - step);
  progress_->step(report, permanent);
  if (!permanent || !leader()) return;
  nlohmann::json line = {{"step", step},
                         {"tokens", state_.tokens},
                         {"flops", state_.flops},
                         {"loss", loss},
                         {"val_loss", val_loss ? nlohmann::json(*val_loss) : nlohmann::json()},
                         {"lr", lr},
                         {"grad_norm", grad_norm_},
                         {"tokens_per_s", report.tokens_per_second},
                         {"mfu", report.mfu ? nlohmann::json(*report.mfu) : nlohmann::json()},
                         {"comm_wait_s", comm_wait_seconds_},
                         {"wall_s", wall_at_start_ + seconds_since(start_)}};
  if (evaluation)  // val/NAME keys only on evaluation lines
    for (const auto& [key, set_loss] : evaluation->sets) line[key] = set_loss;
  metrics_->write(line);
}

// The fraction of the ranks' dense peak that `flops` of training in `seconds` used.
std::optional<double> Trainer::model_flops_utilization(double flops, double seconds) const {
  if (!peak_flops_ || seconds <= 0) return std::nullopt;
  return flops / seconds / double(comm_->world()) / *peak_flops_;
}

void Trainer::write_summary(double loss, const std::optional<Evaluation>& evaluation) {
  if (!leader()) return;
  const model::ParameterCounts counts = model_->parameter_counts();
  const double wall = wall_at_start_ + seconds_since(start_);
  // Over the whole run, evaluation and checkpoints included.
  const std::optional<double> mfu = model_flops_utilization(state_.flops, wall);
  nlohmann::json summary = {
      {"family", job_.model.family},
      {"series", model_series(job_)},
      {"N", counts.total},
      {"N_nonembed", counts.non_embedding},
      {"D", state_.tokens},
      {"C", state_.flops},
      {"flops_per_token", flops_per_sequence_ / double(tokens_per_sequence_)},
      {"flops_formula", "see model/flops.h"},
      {"steps", state_.step},
      {"seq_len", job_.data.seq_len},
      {"global_batch", job_.batch.global_batch},
      {"world_size", comm_->world()},
      {"final_loss", loss},
      {"val_loss", evaluation ? nlohmann::json(evaluation->val_loss) : nlohmann::json()},
      {"wall_s", wall},
      {"tokens_per_s", wall > 0 ? double(state_.tokens) / wall : 0.0},
      {"mfu", mfu ? nlohmann::json(*mfu) : nlohmann::json()},
      {"peak_memory_bytes", backend_->memory_usage().peak_bytes},
      {"backend_memory_bytes", backend_->memory_usage().own_bytes},
      {"recompute", job_.train.recompute},
  };
  if (evaluation)
    for (const auto& [key, set_loss] : evaluation->sets) summary[key] = set_loss;
  // Sweep bookkeeping for `molt fit`: the IsoFLOP budget a run belongs to, and a WSD
  // branch's trunk and branch point.
  if (!job_.sweep.name.empty()) summary["sweep"] = job_.sweep.name;
  if (job_.sweep.budget > 0) summary["budget"] = job_.sweep.budget;
  if (!job_.sweep.trunk.empty()) {
    summary["trunk"] = job_.sweep.trunk;
    summary["branch_step"] = job_.sweep.branch_step;
  }
  io::write_summary(job_.run.dir, summary);
}

int Trainer::run() {
  set_up();
  if (leader()) fs::create_directories(job_.run.dir);
  restore_or_initialize();
  if (leader()) {
    io::write_text_atomic(job_.run.dir + "/run.toml", to_toml(job_));
    const std::string tokenizer = dataset_.dir + "/" + dataset_.tokenizer_file;
    if (fs::exists(tokenizer)) {
      fs::copy_file(tokenizer, job_.run.dir + "/tokenizer.model",
                    fs::copy_options::overwrite_existing);
    }
    metrics_ = std::make_unique<io::MetricsWriter>(
        job_.run.dir, state_.step > 0 ? std::optional<int64_t>(state_.step) : std::nullopt);
    const model::ParameterCounts counts = model_->parameter_counts();
    progress_->note("molt train: " + job_.model.family + " N=" + std::to_string(counts.total) +
                    " (non-embedding " + std::to_string(counts.non_embedding) + "), " +
                    std::to_string(comm_->world()) + " rank(s) x " +
                    std::to_string(job_.batch.micro_batch) + " seq x " + std::to_string(accum_) +
                    " accum = " + std::to_string(job_.batch.global_batch) + " seq/step of " +
                    std::to_string(job_.data.seq_len) + " tokens, run " + job_.run.dir);
    if (job_.run.device != "cpu") {
      progress_->note("device " + backend_->name() + ", " + job_.run.precision +
                      " compute, gradient sums over " + comm_->transport());
    }
    for (const auto& set : eval_sets_) {
      progress_->note("eval set " + eval_set_metric(set.name) + ": " + set.loader->dataset().dir +
                      " (" + set.split + " split, " +
                      std::to_string(set.loader->sequences_per_epoch()) + " windows)");
    }
  }
  install_stop_handlers();
  train_loader_->seek(state_.step);

  double loss = 0;
  std::optional<Evaluation> evaluation;
  while (state_.step < job_.train.steps) {
    if (stop_requested() || (options_.stop_at > 0 && state_.step >= options_.stop_at)) {
      save_checkpoint();
      finish_checkpoint_write();
      progress_->note("stopped on request at step " + std::to_string(state_.step) +
                      "; run again to resume");
      return kExitStopped;
    }
    const auto t0 = std::chrono::steady_clock::now();
    const double lr = learning_rate(job_, state_.step);
    loss = train_step(state_.step);
    if (!std::isfinite(loss) || !std::isfinite(grad_norm_)) {
      finish_checkpoint_write();  // the last good checkpoint is complete before we exit
      return kExitNonFinite;
    }
    if (!memory_reported_ && leader()) report_memory();
    memory_reported_ = true;
    state_.step += 1;
    state_.tokens += sequences_per_step_ * tokens_per_sequence_;
    state_.flops += flops_per_sequence_ * double(sequences_per_step_);
    const double step_seconds = seconds_since(t0);
    evaluation.reset();
    const bool last = state_.step == job_.train.steps;
    if (last || (job_.eval.every > 0 && state_.step % job_.eval.every == 0)) {
      evaluation = evaluate();
    }
    log_step(loss, evaluation, lr, step_seconds);
    if (last || (job_.checkpoint.every > 0 && state_.step % job_.checkpoint.every == 0)) {
      save_checkpoint();
    }
  }
  if (!evaluation) evaluation = evaluate();
  finish_checkpoint_write();
  write_summary(loss, evaluation);
  comm_->barrier();
  return 0;
}

}  // namespace

int run_training(const JobConfig& job, const TrainOptions& options) {
  Trainer trainer(job, options);
  // A rank that fails may leave gradient sums in flight: unwinding would free the buffers
  // MPI is still writing. So under MPI the job ends here, while the trainer still lives,
  // with this rank's message; alone, the error goes up to main as usual.
  try {
    return trainer.run();
  } catch (const UserError& e) {
    dist::abort_job_if_distributed(kUserErrorExit, std::string("molt: error: ") + e.what());
    throw;
  } catch (const dist::CommFault& e) {  // a peer failed or stalled: detected, not a molt bug
    dist::abort_job_if_distributed(1, std::string("molt: error: ") + e.what());
    throw;
  } catch (const std::exception& e) {
    dist::abort_job_if_distributed(1, std::string("molt: internal error: ") + e.what());
    throw;
  }
}

}  // namespace molt
