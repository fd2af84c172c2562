// `molt bench model`: training throughput of one rank on random tokens — forward, backward
// and AdamW, as the trainer runs them, without data loading. scripts/bench-cpu.sh runs it
// beside the same model in PyTorch to print the ratio the issue asks for.
#include <chrono>
#include <cstdio>
#include <memory>
#include <vector>

#include "jobs/commands.h"
#include "jobs/optimizer.h"
#include "kernels/device_info.h"
#include "model/gpt2.h"

namespace molt {
namespace {

struct BenchModelArgs {
  std::string preset = "small";
  int vocab_size = 8192;
  int micro_batch = 8;
  int seq_len = 256;
  int steps = 10;
  int warmup_steps = 2;
};

void bench_model(const BenchModelArgs& args) {
  const int threads = kernels::configure_cpu_threads(1);
  auto backend = kernels::make_cpu_backend();
  model::GPT2Config config = model::gpt2_preset(args.preset);
  config.vocab_size = args.vocab_size;
  model::GPT2 model(config, *backend);
  model.initialize(1);
  AdamW optimizer(*backend, model.table(), 0, model.params().count);
  const int B = args.micro_batch, T = args.seq_len;
  model::TokenBatch batch;
  batch.batch = B, batch.input_tokens = batch.target_tokens = T;
  uint64_t state = 1;
  for (int i = 0; i < 2 * B * T; ++i) {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    (i < B * T ? batch.inputs : batch.targets).push_back(int32_t((state >> 33) % args.vocab_size));
  }
  auto step = [&](int t) {
    backend->fill(model.grads(), 0.0f);
    double loss = model.forward_backward(batch, 1.0f / (B * T), {});
    optimizer.step(model.params(), model.grads(), model.compute_params(), AdamWSettings{}, 1e-4f,
                   1.0f, t);
    return loss / (B * T);
  };
  for (int i = 0; i < args.warmup_steps; ++i) step(i + 1);
  auto t0 = std::chrono::steady_clock::now();
  double loss = 0;
  for (int i = 0; i < args.steps; ++i) loss = step(args.warmup_steps + i + 1);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const double tokens = double(args.steps) * B * T;
  std::printf("molt %s: d_model %d, %d layers, %d heads, T %d, B %d, vocab %d, %d thread(s)\n",
              args.preset.c_str(), config.d_model, config.n_layer, config.n_head, T, B,
              config.vocab_size, threads);
  std::printf("molt: %.1f ms/step, loss %.4f\n", 1e3 * seconds / args.steps, loss);
  std::printf("tokens_per_s=%.1f\n", tokens / seconds);
}

}  // namespace

void add_bench_model_command(CLI::App& bench) {
  auto* cmd = bench.add_subcommand("model", "Training tokens/s of one rank on random tokens");
  auto args = std::make_shared<BenchModelArgs>();
  cmd->add_option("--preset", args->preset, "Decoder preset")->capture_default_str();
  cmd->add_option("--vocab-size", args->vocab_size, "Vocabulary")->capture_default_str();
  cmd->add_option("--micro-batch", args->micro_batch, "Sequences per step")->capture_default_str();
  cmd->add_option("--seq-len", args->seq_len, "Tokens per sequence")->capture_default_str();
  cmd->add_option("--steps", args->steps, "Timed steps")->capture_default_str();
  cmd->add_option("--warmup", args->warmup_steps, "Untimed steps first")->capture_default_str();
  cmd->callback([args] { bench_model(*args); });
}

}  // namespace molt
