// `molt bench model`: training throughput of one rank on random tokens — forward, backward
// and AdamW, as the trainer runs them, without data loading. scripts/bench-cpu.sh runs it
// beside the same model in PyTorch (scripts/bench/torch_gpt2.py, torch_t5.py) to print the
// ratio the issue asks for.
//
// decoder: a GPT-2 preset over sequences of --seq-len tokens.
// encdec: a T5 v1.1 preset, encoder over --seq-len tokens and decoder over --target-len.
// Shape flags left at 0 keep the preset's value. tokens/s counts every token a step reads:
// B·T (decoder) or B·(encoder + decoder tokens) (encdec).
//
// --device cuda times the steps between two synchronizations of the backend, so the clock
// sees the GPU's work and not only its launches; scripts/bench-gpu.sh runs it beside the
// compiled bf16 PyTorch peers. MFU = achieved training FLOP/s / the device's dense peak:
//   FLOP/s = model.training_flops_per_example(input, target) · sequences / seconds
// (model/flops.h), the peak from kernels::dense_peak_flops or --peak-tflops.
//
// --profile-ops says where a step's time goes without a profiler: the backend is wrapped in
// a kernels::ProfilingBackend that only forwards during the timed steps, then --profile-steps
// more steps run with every op between two synchronizations, and a table follows the report:
// per op and shape, calls and ms per step, its share of the ops' total and its TFLOP/s.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "jobs/commands.h"
#include "jobs/model_factory.h"
#include "jobs/optimizer.h"
#include "kernels/device_info.h"
#include "kernels/error.h"
#include "kernels/profiling_backend.h"
#include "model/gpt2.h"
#include "model/t5.h"

namespace molt {
namespace {

struct BenchModelArgs {
  std::string family = "decoder";
  std::string preset = "small";
  int vocab_size = 8192;
  int micro_batch = 8;
  int seq_len = 256;    // decoder: T; encdec: encoder tokens
  int target_len = 64;  // encdec: decoder tokens
  int d_model = 0, d_ff = 0, d_kv = 0, heads = 0, layers = 0, decoder_layers = 0;
  int steps = 10;
  int warmup_steps = 2;
  std::string device = "cpu";
  std::string precision = "fp32";
  double peak_tflops = 0;  // 0: the device's, when kernels::dense_peak_flops knows it
  bool recompute = false;
  bool profile_ops = false;
  int profile_steps = 3;
};

// Replaces `value` by `flag` when the flag was given (non-zero).
void override_with(int flag, int& value) {
  if (flag > 0) value = flag;
}

struct BenchModel {
  std::unique_ptr<model::LanguageModel> model;
  std::string description;
};

BenchModel make_bench_model(const BenchModelArgs& args, kernels::Backend& backend) {
  char text[256];
  if (args.family == "encdec") {
    model::T5Config c = model::t5_preset(args.preset);
    c.vocab_size = args.vocab_size;
    override_with(args.d_model, c.d_model);
    override_with(args.d_ff, c.d_ff);
    override_with(args.d_kv, c.d_kv);
    override_with(args.heads, c.n_head);
    override_with(args.layers, c.n_encoder_layer);
    override_with(args.decoder_layers, c.n_decoder_layer);
    model::validate(c);
    std::snprintf(text, sizeof text,
                  "T5 v1.1 (%s): d_model %d, d_ff %d (gated), %d heads of %d, %d+%d layers, "
                  "encoder %d / decoder %d tokens",
                  args.preset.c_str(), c.d_model, c.d_ff, c.n_head, c.d_kv, c.n_encoder_layer,
                  c.n_decoder_layer, args.seq_len, args.target_len);
    return {std::make_unique<model::T5>(c, backend), text};
  }
  if (args.family != "decoder") {
    throw UserError("--family must be decoder or encdec, not " + args.family);
  }
  model::GPT2Config c = model::gpt2_preset(args.preset);
  c.vocab_size = args.vocab_size;
  override_with(args.d_model, c.d_model);
  override_with(args.d_ff, c.d_ff);
  override_with(args.heads, c.n_head);
  override_with(args.layers, c.n_layer);
  std::snprintf(text, sizeof text, "GPT-2 (%s): d_model %d, %d layers, %d heads, T %d",
                args.preset.c_str(), c.d_model, c.n_layer, c.n_head, args.seq_len);
  return {std::make_unique<model::GPT2>(c, backend), text};
}

// Random tokens of the family's shape; encdec decoder inputs are [pad, targets[:-1]].
model::TokenBatch random_batch(const BenchModelArgs& args) {
  const bool encdec = args.family == "encdec";
  model::TokenBatch batch;
  batch.batch = args.micro_batch;
  batch.input_tokens = args.seq_len;
  batch.target_tokens = encdec ? args.target_len : args.seq_len;
  uint64_t state = 1;
  auto next_token = [&] {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    return int32_t((state >> 33) % uint64_t(args.vocab_size));
  };
  for (int i = 0; i < batch.batch * batch.input_tokens; ++i) batch.inputs.push_back(next_token());
  for (int i = 0; i < batch.batch * batch.target_tokens; ++i) batch.targets.push_back(next_token());
  if (encdec) {
    for (int b = 0; b < batch.batch; ++b) {
      const int32_t* row = batch.targets.data() + size_t(b) * batch.target_tokens;
      batch.decoder_inputs.push_back(0);
      batch.decoder_inputs.insert(batch.decoder_inputs.end(), row, row + batch.target_tokens - 1);
    }
  }
  return batch;
}

// What the steps ran on, for the report: the CPU's threads, or the GPU, and its peak.
struct BenchDevice {
  std::string description;           // "2 thread(s)", "cuda:0 (NVIDIA H200), bf16 compute"
  std::optional<double> peak_flops;  // dense, in the compute dtype
  std::string peak_source;           // where peak_flops came from, or why there is none
};

BenchDevice describe_device(const BenchModelArgs& args, const kernels::Backend& backend,
                            int threads) {
  BenchDevice device;
  std::string name = "the cpu";
  device.description = std::to_string(threads) + " thread(s)";
  if (args.device == "cuda") {
    name = kernels::cuda_device_name(backend.cuda_device());
    device.description = backend.name() + " (" + name + "), " + args.precision + " compute";
    device.peak_flops = kernels::dense_peak_flops(backend);
  }
  device.peak_source = name + ", " + args.precision + " dense";
  if (args.peak_tflops > 0) {
    device.peak_flops = args.peak_tflops * 1e12;
    device.peak_source = "--peak-tflops";
  }
  return device;
}

// The --profile-ops table: one row per op and shape, the longest first; then the ops'
// total per step against the unprofiled step, whose difference is mostly the synchronizations.
void print_op_profile(const std::vector<kernels::OpProfile>& rows, int steps,
                      double profiled_step_seconds, double timed_step_seconds) {
  double total_seconds = 0;
  size_t key_width = 2;
  for (const kernels::OpProfile& row : rows) {
    total_seconds += row.seconds;
    key_width = std::max(key_width, row.key.size());
  }
  const int width = static_cast<int>(key_width);
  std::printf(
      "molt: per-op profile over %d extra step(s), each op between two "
      "synchronizations (no overlap, so a profiled step is slower):\n",
      steps);
  std::printf("  %-*s %10s %10s %7s %9s\n", width, "op", "calls/step", "ms/step", "%", "TFLOP/s");
  for (const kernels::OpProfile& row : rows) {
    char tflops[32] = "-";
    if (row.flops && row.seconds > 0) {
      std::snprintf(tflops, sizeof tflops, "%.3g", *row.flops / row.seconds / 1e12);
    }
    std::printf("  %-*s %10.4g %10.3f %6.2f%% %9s\n", width, row.key.c_str(),
                double(row.calls) / steps, 1e3 * row.seconds / steps,
                total_seconds > 0 ? 100 * row.seconds / total_seconds : 0.0, tflops);
  }
  std::printf("molt: profiled step %.3f ms in ops (%.3f ms wall) vs %.3f ms/step unprofiled\n",
              1e3 * total_seconds / steps, 1e3 * profiled_step_seconds, 1e3 * timed_step_seconds);
}

void bench_model(const BenchModelArgs& args) {
  const int threads = kernels::configure_cpu_threads(1);
  std::unique_ptr<kernels::Backend> backend =
      make_backend(args.device, args.precision, 0, BackendKeys{"--device", "--precision"});
  kernels::ProfilingBackend* profiler = nullptr;
  if (args.profile_ops) {
    auto wrapped = std::make_unique<kernels::ProfilingBackend>(std::move(backend));
    wrapped->set_enabled(false);  // until the timed steps are done
    profiler = wrapped.get();
    backend = std::move(wrapped);
  }
  const BenchDevice device = describe_device(args, *backend, threads);
  BenchModel bench = make_bench_model(args, *backend);
  model::LanguageModel& model = *bench.model;
  model.initialize(1);
  model.set_recompute(args.recompute);
  AdamW optimizer(*backend, model.table(), 0, model.params().count);
  const model::TokenBatch batch = random_batch(args);
  const auto counted = static_cast<double>(batch.counted_targets());
  auto step = [&](int t) {
    backend->fill(model.grads(), 0.0f);
    double loss = model.forward_backward(batch, static_cast<float>(1.0 / counted), {});
    optimizer.step(model.params(), model.grads(), model.compute_params(), AdamWSettings{}, 1e-4f,
                   1.0f, t);
    return loss / counted;
  };
  for (int i = 0; i < args.warmup_steps; ++i) step(i + 1);
  backend->synchronize();
  double loss = 0;  // the last step's
  // Runs `count` steps from step number `first`; the seconds they took.
  auto time_steps = [&](int first, int count) {
    auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < count; ++i) loss = step(first + i);
    backend->synchronize();
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  };
  const double seconds = time_steps(args.warmup_steps + 1, args.steps);
  const int tokens_per_example =
      args.family == "encdec" ? batch.input_tokens + batch.target_tokens : batch.input_tokens;
  const double tokens = double(args.steps) * batch.batch * tokens_per_example;
  const double flops_per_token =
      model.training_flops_per_example(batch.input_tokens, batch.target_tokens) /
      tokens_per_example;
  const double flops_per_second = flops_per_token * tokens / seconds;
  std::printf("molt %s, B %d, vocab %d, %s\n", bench.description.c_str(), batch.batch,
              args.vocab_size, device.description.c_str());
  std::printf("molt: %.1f ms/step, loss %.4f\n", 1e3 * seconds / args.steps, loss);
  if (device.peak_flops) {
    std::printf("molt: %.3g FLOP/s, MFU %.1f%% of %.4g TFLOP/s (%s)\n", flops_per_second,
                100 * flops_per_second / *device.peak_flops, *device.peak_flops / 1e12,
                device.peak_source.c_str());
  } else {
    std::printf("molt: %.3g FLOP/s; MFU unknown: no peak for %s (--peak-tflops sets one)\n",
                flops_per_second, device.peak_source.c_str());
  }
  const kernels::Backend::MemoryUsage memory = backend->memory_usage();
  std::printf(
      "molt: peak memory %.1f MiB%s, and %.1f MiB the backend's own scratch and "
      "workspaces\n",
      double(memory.peak_bytes) / double(1 << 20),
      args.recompute ? " (activations recomputed in backward)" : "",
      double(memory.own_bytes) / double(1 << 20));
  std::printf("peak_memory_bytes=%zu\n", memory.peak_bytes);
  std::printf("backend_memory_bytes=%zu\n", memory.own_bytes);
  std::printf("tokens_per_s=%.1f\n", tokens / seconds);
  std::printf("flops_per_token=%.6g\n", flops_per_token);
  if (device.peak_flops) {
    std::printf("peak_flops=%.6g\nmfu=%.4f\n", *device.peak_flops,
                flops_per_second / *device.peak_flops);
  } else {
    std::printf("peak_flops=n/a\nmfu=n/a\n");
  }
  if (profiler != nullptr) {
    profiler->set_enabled(true);
    const double profiled_seconds =
        time_steps(args.warmup_steps + args.steps + 1, args.profile_steps);
    print_op_profile(profiler->report(), args.profile_steps, profiled_seconds / args.profile_steps,
                     seconds / args.steps);
  }
}

}  // namespace

void add_bench_model_command(CLI::App& bench) {
  auto* cmd = bench.add_subcommand("model", "Training tokens/s of one rank on random tokens");
  auto args = std::make_shared<BenchModelArgs>();
  cmd->add_option("--family", args->family, "decoder (GPT-2) or encdec (T5 v1.1)")
      ->check(CLI::IsMember({"decoder", "encdec"}))
      ->capture_default_str();
  cmd->add_option("--preset", args->preset, "The family's preset")->capture_default_str();
  cmd->add_option("--vocab-size", args->vocab_size, "Vocabulary")->capture_default_str();
  cmd->add_option("--micro-batch", args->micro_batch, "Sequences per step")->capture_default_str();
  cmd->add_option("--seq-len", args->seq_len, "Tokens per sequence (encdec: encoder tokens)")
      ->capture_default_str();
  cmd->add_option("--target-len", args->target_len, "encdec: decoder tokens per sequence")
      ->capture_default_str();
  cmd->add_option("--d-model", args->d_model, "Width (0: the preset's)");
  cmd->add_option("--d-ff", args->d_ff, "Feed-forward width (0: the preset's)");
  cmd->add_option("--d-kv", args->d_kv, "encdec: head width (0: the preset's)");
  cmd->add_option("--heads", args->heads, "Attention heads (0: the preset's)");
  cmd->add_option("--layers", args->layers, "Layers; encdec: encoder layers (0: the preset's)");
  cmd->add_option("--decoder-layers", args->decoder_layers,
                  "encdec: decoder layers (0: the preset's)");
  cmd->add_option("--steps", args->steps, "Timed steps")->capture_default_str();
  cmd->add_option("--warmup", args->warmup_steps, "Untimed steps first")->capture_default_str();
  cmd->add_flag("--recompute", args->recompute,
                "Recompute activations in backward (train.recompute)");
  cmd->add_option("--device", args->device, "cpu, or cuda (the first visible GPU)")
      ->check(CLI::IsMember({"cpu", "cuda"}))
      ->capture_default_str();
  cmd->add_option("--precision", args->precision, "Compute dtype: fp32, or bf16 (cuda)")
      ->check(CLI::IsMember({"fp32", "bf16"}))
      ->capture_default_str();
  cmd->add_option("--peak-tflops", args->peak_tflops,
                  "Dense peak TFLOP/s for MFU (0: the GPU's own, when molt knows it)");
  cmd->add_flag("--profile-ops", args->profile_ops,
                "After the timed steps, run --profile-steps more with each backend op between "
                "two synchronizations and print where their time goes: per op and shape, calls "
                "and ms per step, share, TFLOP/s (the timed steps stay unprofiled)");
  cmd->add_option("--profile-steps", args->profile_steps, "Steps profiled by --profile-ops")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->callback([args] { bench_model(*args); });
}

}  // namespace molt
