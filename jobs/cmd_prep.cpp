// `molt prep`: text files, folders or JSONL -> tokenizer -> dataset folder.
// The work is io::prepare_dataset (io/dataset_prep.h); this file only maps flags to options.
#include <thread>

#include "io/dataset_prep.h"
#include "jobs/commands.h"

namespace molt {

void add_prep_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("prep", "Text -> SentencePiece tokenizer -> HDF5 token shards");
  auto options = std::make_shared<io::PrepOptions>();
  options->threads = std::max(1u, std::thread::hardware_concurrency());
  cmd->add_option("inputs", options->inputs,
                  "Text files, folders of text files (recursive; one document per file), or "
                  "*.jsonl files (one document per line, in its \"text\" field)")
      ->required();
  cmd->add_option("-o,--out", options->output_dir, "Output dataset folder (must not exist)")
      ->required();
  cmd->add_option("--vocab-size", options->vocab_size,
                  "Dataset vocabulary, sentinels included (the tokenizer gets vocab - sentinels)")
      ->capture_default_str();
  cmd->add_option("--model-type", options->model_type, "SentencePiece model: bpe or unigram")
      ->check(CLI::IsMember({"bpe", "unigram"}))
      ->capture_default_str();
  cmd->add_option("--sentinels", options->sentinels,
                  "Ids reserved at the top of the vocab (T5 span corruption: id vocab-1-k)")
      ->capture_default_str();
  cmd->add_option("--tokenizer", options->tokenizer_path,
                  "Reuse this tokenizer.model instead of training one (vocab = its pieces + "
                  "sentinels)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--val-fraction", options->val_fraction,
                  "Fraction of documents held out for val (at least 1 document)")
      ->capture_default_str();
  cmd->add_option("--shard-tokens", options->shard_tokens,
                  "Start a new shard after this many tokens")
      ->capture_default_str();
  cmd->add_option("--seed", options->seed, "Seed for the tokenizer sample and the val split")
      ->capture_default_str();
  cmd->add_option("--threads", options->threads, "Tokenizer threads")->capture_default_str();
  cmd->add_option("--tokenizer-sample-lines", options->tokenizer_sample_lines,
                  "Lines sampled from the corpus to train the tokenizer")
      ->capture_default_str();
  cmd->add_flag("--verbose", options->verbose, "Show SentencePiece's training log");
  cmd->callback([options] {
    io::DatasetInfo info = io::prepare_dataset(*options);
    std::printf(
        "wrote %s: %zu train shards (%llu tokens, %llu documents), %zu val shards "
        "(%llu tokens, %llu documents), vocab %lld\n",
        options->output_dir.c_str(), info.shards_of("train").size(),
        static_cast<unsigned long long>(info.train_tokens),
        static_cast<unsigned long long>(info.train_documents), info.shards_of("val").size(),
        static_cast<unsigned long long>(info.val_tokens),
        static_cast<unsigned long long>(info.val_documents),
        static_cast<long long>(info.vocab_size));
  });
}

}  // namespace molt
