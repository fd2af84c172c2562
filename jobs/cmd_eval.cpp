// `molt eval RUN|CHECKPOINT`: the mean loss of a checkpoint over N global batches of a split,
// computed exactly as the trainer's evaluation (jobs/evaluate.h), on the CPU in one process.
//
// --dump-batch FILE.h5 also writes the first micro-batch as the model saw it, so another
// implementation (the Hugging Face export read by PyTorch, tests/io/export_check.py) can
// recompute molt's loss on the very same token ids:
//   /inputs          int32 [B, input_tokens]
//   /decoder_inputs  int32 [B, target_tokens]   encdec only
//   /targets         int32 [B, target_tokens]   -1 where a position takes no part in the loss
//   /prefix_lengths  int32 [B]                  prefix-LM only
//   attributes: loss (f64, mean nats per counted target), loss_nats (f64, their sum),
//               counted_targets (i64), ignore_index (i32, -1)
// A path ending in .json gets the same names as one JSON object (arrays as nested lists), for
// machines whose Python has torch but no h5py (tests/io/transformers_check.py).
#include <hdf5.h>

#include <cstdio>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>

#include "io/dataset_info.h"
#include "io/hdf5_handle.h"
#include "io/hdf5_lock.h"
#include "io/token_loader.h"
#include "jobs/checkpoint_source.h"
#include "jobs/commands.h"
#include "jobs/evaluate.h"
#include "jobs/model_factory.h"
#include "kernels/device_info.h"
#include "kernels/error.h"

namespace molt {
namespace {

struct EvalArgs {
  std::string checkpoint;
  int64_t batches = 0;  // 0: the job's eval.batches
  std::string split = "val";
  std::string dataset;  // empty: the job's data.dataset
  std::string dump_batch;
};

// Plain HDF5 rather than io/'s checkpoint writer: the dump is a handful of int32 arrays and
// scalars for test oracles, not a checkpoint. Every call holds hdf5_mutex() because the
// loader's prefetch thread may be inside HDF5 at the same time.
void write_batch_dump(const std::string& path, const model::TokenBatch& batch, double loss_nats) {
  std::lock_guard<std::mutex> lock(io::hdf5_mutex());
  io::silence_hdf5_error_printing();
  auto fail = [&]() -> void { throw UserError("cannot write " + path); };
  io::Hdf5Handle file(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), H5Fclose);
  if (!file.valid()) fail();
  auto write_ids = [&](const char* name, const std::vector<int32_t>& ids, int columns) {
    if (ids.empty()) return;
    std::vector<hsize_t> dims = {hsize_t(batch.batch)};
    if (columns > 0) dims.push_back(hsize_t(columns));
    io::Hdf5Handle space(H5Screate_simple(int(dims.size()), dims.data(), nullptr), H5Sclose);
    io::Hdf5Handle set(H5Dcreate2(file.get(), name, H5T_STD_I32LE, space.get(), H5P_DEFAULT,
                                  H5P_DEFAULT, H5P_DEFAULT),
                       H5Dclose);
    if (!set.valid() ||
        H5Dwrite(set.get(), H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, ids.data()) < 0)
      fail();
  };
  write_ids("inputs", batch.inputs, batch.input_tokens);
  write_ids("decoder_inputs", batch.decoder_inputs, batch.target_tokens);
  write_ids("targets", batch.targets, batch.target_tokens);
  write_ids("prefix_lengths", batch.prefix_lengths, 0);
  auto write_scalar = [&](const char* name, hid_t file_type, hid_t memory_type, const void* value) {
    io::Hdf5Handle space(H5Screate(H5S_SCALAR), H5Sclose);
    io::Hdf5Handle attr(
        H5Acreate2(file.get(), name, file_type, space.get(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
    if (!attr.valid() || H5Awrite(attr.get(), memory_type, value) < 0) fail();
  };
  const int64_t counted = batch.counted_targets();
  const double loss = loss_nats / double(counted);
  const int32_t ignore_index = model::kIgnoreIndex;
  write_scalar("loss", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &loss);
  write_scalar("loss_nats", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &loss_nats);
  write_scalar("counted_targets", H5T_STD_I64LE, H5T_NATIVE_INT64, &counted);
  write_scalar("ignore_index", H5T_STD_I32LE, H5T_NATIVE_INT32, &ignore_index);
  if (H5Fclose(file.release()) < 0) fail();
}

void write_batch_dump_json(const std::string& path, const model::TokenBatch& batch,
                           double loss_nats) {
  auto rows = [&](const std::vector<int32_t>& ids, int columns) {
    nlohmann::json out = nlohmann::json::array();
    for (int b = 0; b < batch.batch; ++b) {
      out.push_back(std::vector<int32_t>(ids.begin() + size_t(b) * columns,
                                         ids.begin() + size_t(b + 1) * columns));
    }
    return out;
  };
  const int64_t counted = batch.counted_targets();
  nlohmann::json dump = {{"inputs", rows(batch.inputs, batch.input_tokens)},
                         {"targets", rows(batch.targets, batch.target_tokens)},
                         {"loss", loss_nats / double(counted)},
                         {"loss_nats", loss_nats},
                         {"counted_targets", counted},
                         {"ignore_index", model::kIgnoreIndex}};
  if (!batch.decoder_inputs.empty())
    dump["decoder_inputs"] = rows(batch.decoder_inputs, batch.target_tokens);
  if (!batch.prefix_lengths.empty()) dump["prefix_lengths"] = batch.prefix_lengths;
  std::ofstream out(path);
  out << dump.dump() << "\n";
  if (!out) throw UserError("cannot write " + path);
}

bool ends_with_json(const std::string& path) {
  return path.size() >= 5 && path.compare(path.size() - 5, 5, ".json") == 0;
}

void run_eval(const EvalArgs& args) {
  CheckpointSource source = open_checkpoint_source(args.checkpoint);
  JobConfig& job = source.job;
  if (!args.dataset.empty()) job.data.dataset = args.dataset;
  const int64_t batches = args.batches > 0 ? args.batches : job.eval.batches;
  if (batches <= 0) throw UserError("--batches must be positive (the job's eval.batches is 0)");
  kernels::configure_cpu_threads(1);
  auto backend = make_backend(job);
  auto model = load_checkpoint_model(source, *backend);
  io::TokenLoader loader(evaluation_loader_options(job, args.split, 0, 1, batches));
  const io::DatasetInfo& dataset = loader.dataset();
  if (dataset.vocab_size != job.model.vocab_size) {
    throw UserError("dataset " + job.data.dataset + " has vocabulary " +
                    std::to_string(dataset.vocab_size) + ", the checkpoint's model " +
                    std::to_string(job.model.vocab_size));
  }
  bool dumped = args.dump_batch.empty();
  const LossSums sums = evaluate_loss(job, dataset, loader, *model, batches * accum_steps(job, 1),
                                      [&](const model::TokenBatch& batch, double loss_nats) {
                                        if (dumped) return;
                                        if (ends_with_json(args.dump_batch)) {
                                          write_batch_dump_json(args.dump_batch, batch, loss_nats);
                                        } else {
                                          write_batch_dump(args.dump_batch, batch, loss_nats);
                                        }
                                        dumped = true;
                                      });
  const double loss = sums.loss_nats / sums.counted_targets;
  std::printf("%s loss %.7f over %lld global batch(es) of %lld sequences (%.0f targets), %s\n",
              args.split.c_str(), loss, static_cast<long long>(batches),
              static_cast<long long>(job.batch.global_batch), sums.counted_targets,
              source.folder.c_str());
  if (!args.dump_batch.empty())
    std::printf("first micro-batch written to %s\n", args.dump_batch.c_str());
  std::printf("loss=%.9g\n", loss);
}

}  // namespace

void add_eval_command(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "eval", "Mean loss of a checkpoint over global batches of a split, as the trainer evaluates");
  auto args = std::make_shared<EvalArgs>();
  cmd->add_option("checkpoint", args->checkpoint, "Checkpoint folder, or a run folder (latest)")
      ->required();
  cmd->add_option("--batches", args->batches, "Global batches (default: the job's eval.batches)");
  cmd->add_option("--split", args->split, "Dataset split")
      ->check(CLI::IsMember({"val", "train"}))
      ->capture_default_str();
  cmd->add_option("--dataset", args->dataset, "Dataset folder (default: the job's data.dataset)");
  cmd->add_option("--dump-batch", args->dump_batch,
                  "Write the first micro-batch and molt's loss on it to this HDF5 file "
                  "(JSON when the name ends in .json)");
  cmd->callback([args] { run_eval(*args); });
}

}  // namespace molt
