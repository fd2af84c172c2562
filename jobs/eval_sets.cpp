#include "jobs/eval_sets.h"

#include "jobs/evaluate.h"
#include "kernels/error.h"

namespace molt {
namespace {

void check_same_tokenizer(const std::string& key, const io::DatasetInfo& set,
                          const io::DatasetInfo& training) {
  if (set.tokenizer_sha256 == training.tokenizer_sha256 && set.vocab_size == training.vocab_size)
    return;
  throw UserError(key + ": dataset " + set.dir + " was tokenized with tokenizer sha256 " +
                  set.tokenizer_sha256 + " (vocab " + std::to_string(set.vocab_size) +
                  "), the training dataset " + training.dir + " with sha256 " +
                  training.tokenizer_sha256 + " (vocab " + std::to_string(training.vocab_size) +
                  "); prepare the set with `molt prep --tokenizer " + training.tokenizer_path() +
                  "`");
}

}  // namespace

std::string eval_set_metric(const std::string& name) { return "val/" + name; }

std::string eval_set_split(const io::DatasetInfo& set, int seq_len) {
  for (const auto& shard : set.shards_of("val"))
    if (shard.tokens >= static_cast<uint64_t>(seq_len) + 1) return "val";  // window_index.h
  return "train";
}

std::vector<EvalSet> open_eval_sets(const JobConfig& job, const io::DatasetInfo& training, int rank,
                                    int world) {
  std::vector<EvalSet> sets;
  for (const auto& [name, dir] : job.eval.sets) {  // a std::map: name order
    const std::string key = "eval.sets." + name;
    try {
      const io::DatasetInfo info = io::read_dataset(dir);
      check_same_tokenizer(key, info, training);
      io::LoaderOptions options =
          evaluation_loader_options(job, "val", rank, world, job.eval.batches);
      options.dataset_dir = dir;
      options.split = eval_set_split(info, options.seq_len);
      sets.push_back({name, options.split, std::make_unique<io::TokenLoader>(options)});
    } catch (const UserError& e) {
      const std::string message = e.what();
      if (message.rfind(key + ":", 0) == 0) throw;
      throw UserError(key + " (" + dir + "): " + message);
    }
  }
  return sets;
}

}  // namespace molt
