#include "io/token_loader.h"

#include "io/shard_reader.h"
#include "io/window_index.h"
#include "io/window_permutation.h"
#include "kernels/error.h"

namespace molt::io {
namespace {

void check_options(const LoaderOptions& o) {
  auto require = [](bool ok, const std::string& what) {
    if (!ok) throw UserError("data loader: " + what);
  };
  require(o.split == "train" || o.split == "val", "split must be \"train\" or \"val\"");
  require(o.world >= 1, "world size must be >= 1");
  require(o.rank >= 0 && o.rank < o.world, "rank must be in [0, world)");
  require(o.micro_batch >= 1, "micro_batch must be >= 1");
  require(o.accum_steps >= 1, "accum_steps must be >= 1");
  require(o.prefetch_depth >= 1, "prefetch_depth must be >= 1");
}

}  // namespace

TokenLoader::TokenLoader(const LoaderOptions& options) : options_(options) {
  check_options(options_);
  dataset_ = read_dataset(options_.dataset_dir);
  index_ = std::make_unique<WindowIndex>(dataset_, options_.split, options_.seq_len);
  readers_.resize(index_->shard_paths().size());
}

TokenLoader::~TokenLoader() { stop_prefetch(); }

int64_t TokenLoader::sequences_per_epoch() const {
  return static_cast<int64_t>(index_->window_count());
}

int64_t TokenLoader::global_batch_sequences() const {
  return int64_t{options_.world} * options_.micro_batch * options_.accum_steps;
}

void TokenLoader::seek(int64_t step) {
  if (step < 0) throw UserError("data loader: cannot seek to negative step");
  stop_prefetch();
  next_step_ = step;
  next_micro_step_ = 0;
}

MicroBatch TokenLoader::next() {
  if (!worker_.joinable()) start_prefetch();
  Slot slot;
  {
    std::unique_lock<std::mutex> lock(queue_mutex_);
    queue_changed_.wait(lock, [&] { return !queue_.empty(); });
    slot = std::move(queue_.front());
    queue_.pop_front();
  }
  queue_changed_.notify_all();
  if (slot.error) {
    stop_prefetch();
    std::rethrow_exception(slot.error);
  }
  next_step_ = slot.batch.step;
  next_micro_step_ = slot.batch.micro_step + 1;
  if (next_micro_step_ == options_.accum_steps) {
    next_micro_step_ = 0;
    ++next_step_;
  }
  return std::move(slot.batch);
}

void TokenLoader::start_prefetch() {
  stop_requested_ = false;
  worker_ = std::thread(&TokenLoader::prefetch_loop, this, next_step_, next_micro_step_);
}

void TokenLoader::stop_prefetch() {
  if (!worker_.joinable()) return;
  {
    std::lock_guard<std::mutex> lock(queue_mutex_);
    stop_requested_ = true;
  }
  queue_changed_.notify_all();
  worker_.join();
  queue_.clear();
}

void TokenLoader::prefetch_loop(int64_t step, int micro_step) {
  for (;;) {
    Slot slot;
    slot.batch.step = step;
    slot.batch.micro_step = micro_step;
    try {
      fill(slot.batch);
    } catch (...) {
      slot.error = std::current_exception();
    }
    bool failed = static_cast<bool>(slot.error);
    {
      std::unique_lock<std::mutex> lock(queue_mutex_);
      queue_changed_.wait(lock, [&] {
        return stop_requested_ || static_cast<int>(queue_.size()) < options_.prefetch_depth;
      });
      if (stop_requested_) return;
      queue_.push_back(std::move(slot));
    }
    queue_changed_.notify_all();
    if (failed) return;
    if (++micro_step == options_.accum_steps) {
      micro_step = 0;
      ++step;
    }
  }
}

uint64_t TokenLoader::window_of(uint64_t sample, uint64_t windows) {
  const uint64_t spread = options_.spread_windows;
  if (!options_.shuffle && spread > 0 && spread < windows) {
    // ⌊i·S/n⌋ in 128 bits: i·S overflows 64 bits only for absurd splits, but costs nothing.
    const unsigned __int128 i = sample % spread;
    return static_cast<uint64_t>(i * windows / spread);
  }
  const uint64_t epoch = sample / windows;
  if (epoch != permutation_epoch_) {
    permutation_ = window_permutation(options_.seed, epoch, windows, options_.shuffle);
    permutation_epoch_ = epoch;
  }
  return permutation_[sample % windows];
}

void TokenLoader::fill(MicroBatch& batch) {
  const uint64_t window_tokens = static_cast<uint64_t>(options_.seq_len) + 1;
  const uint64_t windows = index_->window_count();
  batch.rows = options_.micro_batch;
  batch.row_tokens = static_cast<int>(window_tokens);
  batch.tokens.resize(static_cast<size_t>(batch.rows) * window_tokens);
  const uint64_t first_sample =
      static_cast<uint64_t>(batch.step) * global_batch_sequences() +
      static_cast<uint64_t>(batch.micro_step * options_.world + options_.rank) *
          options_.micro_batch;
  for (int row = 0; row < batch.rows; ++row) {
    const uint64_t sample = first_sample + row;
    WindowLocation where = index_->locate(window_of(sample, windows));
    auto& reader = readers_[where.shard];
    if (!reader) reader = std::make_unique<ShardReader>(index_->shard_paths()[where.shard]);
    reader->read_tokens(where.first_token, window_tokens,
                        batch.tokens.data() + static_cast<size_t>(row) * window_tokens);
  }
}

}  // namespace molt::io
