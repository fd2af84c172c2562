// `molt sample`: text from a checkpoint, through the run's tokenizer and a KV cache.
//
// decoder: the prompt (after an EOS, "start of a document") is continued.
// encdec: the prompt is encoded once and the decoder writes from the start token. A model
// trained with span corruption is asked to fill in what follows the prompt: the encoder
// reads `prompt <sentinel 0> EOS` and the text printed is what the decoder writes after
// sentinel 0, up to the next sentinel or EOS. A prefix-LM model continues the prompt.
#include <algorithm>
#include <cstdio>
#include <filesystem>

#include "io/tokenizer.h"
#include "jobs/checkpoint_source.h"
#include "jobs/commands.h"
#include "jobs/model_factory.h"
#include "kernels/error.h"
#include "model/gpt2.h"
#include "model/t5.h"

namespace molt {
namespace fs = std::filesystem;

namespace {

struct SampleArgs {
  std::string checkpoint;
  std::string prompt;
  std::string tokenizer;
  int max_tokens = 64;
  float temperature = 0.8f;
  int top_k = 40;
  uint64_t seed = 0;
};

void run_sample(const SampleArgs& args) {
  const CheckpointSource source = open_checkpoint_source(args.checkpoint);
  const JobConfig& job = source.job;
  std::string tokenizer_path =
      args.tokenizer.empty() ? source.run_dir + "/tokenizer.model" : args.tokenizer;
  if (!fs::exists(tokenizer_path)) {
    throw UserError("no tokenizer at " + tokenizer_path + " (give one with --tokenizer)");
  }
  io::Tokenizer tokenizer(tokenizer_path);
  auto backend = make_backend(job);
  std::unique_ptr<model::LanguageModel> loaded = load_checkpoint_model(source, *backend);
  model::SamplingOptions sampling;
  sampling.temperature = args.temperature;
  sampling.top_k = args.top_k;
  model::TokenSampler sampler(args.seed);
  const auto eos = static_cast<int32_t>(tokenizer.eos_id());
  std::vector<int32_t> out;
  if (job.model.family == "encdec") {
    auto& model = dynamic_cast<model::T5&>(*loaded);
    // Sentinels sit at the top of the vocabulary (model.vocab_size is the dataset's).
    const auto sentinel0 = static_cast<int32_t>(job.model.vocab_size - 1);
    const bool fill_in = job.data.objective == "span_corruption";
    std::vector<int32_t> input = tokenizer.encode(args.prompt);
    if (fill_in) input.push_back(sentinel0);
    input.push_back(eos);
    out = model.generate(input, args.max_tokens, sampling, eos, sampler);
    if (fill_in && !out.empty() && out.front() == sentinel0) out.erase(out.begin());
    // Sentinels are not tokenizer pieces: the text ends at the first one.
    auto piece_end = std::find_if(out.begin(), out.end(),
                                  [&](int32_t id) { return id >= tokenizer.piece_count(); });
    out.erase(piece_end, out.end());
  } else {
    auto& model = dynamic_cast<model::GPT2&>(*loaded);
    // Documents are separated by EOS, so EOS first means "the start of a document".
    std::vector<int32_t> prompt = {eos};
    for (int32_t id : tokenizer.encode(args.prompt)) prompt.push_back(id);
    out = model.generate(prompt, args.max_tokens, sampling, eos, sampler);
    if (!out.empty() && out.back() == eos) out.pop_back();
    // Decode prompt and continuation together: a piece's leading space belongs to the
    // join, which decoding the continuation alone would drop ("morningand").
    out.insert(out.begin(), prompt.begin() + 1, prompt.end());
    std::printf("%s\n", tokenizer.decode(out).c_str());
    return;
  }
  if (!out.empty() && out.back() == eos) out.pop_back();
  std::printf("%s%s\n", args.prompt.c_str(), tokenizer.decode(out).c_str());
}

}  // namespace

void add_sample_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("sample", "Generate text from a checkpoint (KV-cache decoding)");
  auto args = std::make_shared<SampleArgs>();
  cmd->add_option("--checkpoint", args->checkpoint, "Checkpoint folder, or a run folder (latest)")
      ->required();
  cmd->add_option("--prompt", args->prompt, "Text to continue")->default_str("");
  cmd->add_option("--tokenizer", args->tokenizer, "tokenizer.model (default: the run's copy)");
  cmd->add_option("--max-tokens", args->max_tokens, "Tokens to generate")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--temperature", args->temperature, "0 = greedy")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--top-k", args->top_k, "Sample among the k most likely; 0 = all")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--seed", args->seed, "Sampling seed")->capture_default_str();
  cmd->callback([args] { run_sample(*args); });
}

}  // namespace molt
