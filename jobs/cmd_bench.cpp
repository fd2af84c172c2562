// `molt bench loader DATASET`: how fast TokenLoader delivers tokens to one rank, and the
// process's peak resident memory while it does. The stream is the one training would see
// (shuffled windows, this rank's slice), consumed as fast as possible.
//
// To measure streaming rather than a cached toy, use a dataset several times larger than
// the prefetch queue (prefetch_depth * micro_batch * (seq_len+1) * 4 bytes, ~131 KB at
// the defaults), e.g. `molt prep` over a generated corpus of a few hundred MB.
#include <sys/resource.h>

#include <chrono>

#include "io/token_loader.h"
#include "jobs/commands.h"

namespace molt {
namespace {

double peak_resident_megabytes() {
  struct rusage usage {};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss / 1024.0;  // ru_maxrss is in KiB on Linux
}

void bench_loader(const io::LoaderOptions& options, double seconds) {
  double rss_before_mb = peak_resident_megabytes();
  io::TokenLoader loader(options);
  auto start = std::chrono::steady_clock::now();
  double elapsed_s = 0;
  uint64_t tokens = 0, batches = 0;
  int32_t checksum = 0;  // keeps the reads observable
  while (elapsed_s < seconds) {
    io::MicroBatch batch = loader.next();
    tokens += batch.tokens.size();
    checksum ^= batch.tokens[batches % batch.tokens.size()];
    ++batches;
    elapsed_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }
  double dataset_mb =
      loader.dataset().train_tokens * 1e-6 * (loader.dataset().vocab_size <= 65536 ? 2 : 4);
  std::printf("loader: %s split=%s seq_len=%d micro_batch=%d prefetch_depth=%d rank %d/%d\n",
              options.dataset_dir.c_str(), options.split.c_str(), options.seq_len,
              options.micro_batch, options.prefetch_depth, options.rank, options.world);
  std::printf("windows per epoch: %lld, train shards on disk: %.1f MB\n",
              static_cast<long long>(loader.sequences_per_epoch()), dataset_mb);
  std::printf(
      "delivered: %llu micro-batches, %.1fM tokens in %.2f s = %.2fM tokens/s per rank "
      "(%.2f epochs)\n",
      static_cast<unsigned long long>(batches), tokens / 1e6, elapsed_s, tokens / 1e6 / elapsed_s,
      double(batches * options.micro_batch) / loader.sequences_per_epoch());
  std::printf("peak RSS: %.1f MB (%.1f MB before the loader) [checksum %d]\n",
              peak_resident_megabytes(), rss_before_mb, checksum);
}

}  // namespace

void add_bench_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("bench", "Micro-benchmarks of molt's parts");
  cmd->require_subcommand(1);
  auto* loader = cmd->add_subcommand("loader", "Tokens/s delivered by the data loader, one rank");
  auto options = std::make_shared<io::LoaderOptions>();
  auto seconds = std::make_shared<double>(5.0);
  options->micro_batch = 8;
  loader->add_option("dataset", options->dataset_dir, "Dataset folder")->required();
  loader->add_option("--seq-len", options->seq_len, "Sequence length")->capture_default_str();
  loader->add_option("--micro-batch", options->micro_batch, "Rows per micro-batch")
      ->capture_default_str();
  loader->add_option("--prefetch-depth", options->prefetch_depth, "Queued micro-batches")
      ->capture_default_str();
  loader->add_option("--split", options->split, "train or val")->capture_default_str();
  loader->add_option("--world", options->world, "Ranks the stream is sliced for")
      ->capture_default_str();
  loader->add_option("--rank", options->rank, "This rank")->capture_default_str();
  loader->add_option("--seconds", *seconds, "How long to stream")->capture_default_str();
  loader->callback([options, seconds] { bench_loader(*options, *seconds); });
  add_bench_model_command(*cmd);
}

}  // namespace molt
