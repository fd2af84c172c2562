#include "io/tokenizer.h"

#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>

#include <fstream>
#include <unordered_map>

#include "kernels/error.h"

// Exported by libsentencepiece but absent from its installed headers; it is the only way
// to quiet the trainer's INFO log (0 = info, 1 = warning, 2 = error).
namespace sentencepiece::logging {
void SetMinLogLevel(int level);
}

namespace molt::io {
namespace {

// Feeds an in-memory sample to the trainer without writing it to a file first.
class SampleIterator : public sentencepiece::SentenceIterator {
 public:
  explicit SampleIterator(const std::vector<std::string>& sentences) : sentences_(sentences) {}
  bool done() const override { return next_ >= sentences_.size(); }
  void Next() override { ++next_; }
  const std::string& value() const override { return sentences_[next_]; }
  sentencepiece::util::Status status() const override { return {}; }

 private:
  const std::vector<std::string>& sentences_;
  size_t next_ = 0;
};

}  // namespace

Tokenizer::Tokenizer(const std::string& model_path)
    : model_path_(model_path),
      processor_(std::make_unique<sentencepiece::SentencePieceProcessor>()) {
  auto status = processor_->Load(model_path);
  if (!status.ok()) {
    throw UserError(model_path + ": cannot load SentencePiece tokenizer (" + status.ToString() +
                    ")");
  }
}

Tokenizer::~Tokenizer() = default;

std::vector<int32_t> Tokenizer::encode(const std::string& text) const {
  std::vector<int> ids;
  auto status = processor_->Encode(text, &ids);
  if (!status.ok()) throw UserError(model_path_ + ": cannot encode text: " + status.ToString());
  return std::vector<int32_t>(ids.begin(), ids.end());
}

std::string Tokenizer::decode(const std::vector<int32_t>& ids) const {
  std::vector<int> in_vocab;
  for (int32_t id : ids) {
    if (id >= 0 && id < processor_->GetPieceSize()) in_vocab.push_back(id);
  }
  std::string text;
  auto status = processor_->Decode(in_vocab, &text);
  if (!status.ok()) throw UserError(model_path_ + ": cannot decode ids: " + status.ToString());
  return text;
}

int64_t Tokenizer::piece_count() const { return processor_->GetPieceSize(); }
int64_t Tokenizer::pad_id() const { return processor_->pad_id(); }
int64_t Tokenizer::eos_id() const { return processor_->eos_id(); }
int64_t Tokenizer::unk_id() const { return processor_->unk_id(); }
int64_t Tokenizer::bos_id() const { return processor_->bos_id(); }

void train_tokenizer(const TokenizerTraining& training, const std::vector<std::string>& sentences,
                     const std::string& model_path) {
  if (training.model_type != "bpe" && training.model_type != "unigram") {
    throw UserError("tokenizer model type must be \"bpe\" or \"unigram\", got \"" +
                    training.model_type + "\"");
  }
  sentencepiece::logging::SetMinLogLevel(training.verbose ? 0 : 2);
  std::unordered_map<std::string, std::string> spec = {
      {"model_type", training.model_type},
      {"vocab_size", std::to_string(training.piece_count)},
      {"pad_id", "0"},
      {"eos_id", "1"},
      {"unk_id", "2"},
      {"bos_id", "3"},
      {"byte_fallback", "true"},
      {"character_coverage", "0.9995"},
      // Identity normalisation, whitespace kept: decode(encode(text)) == text, so code
      // keeps its newlines and indentation.
      {"normalization_rule_name", "identity"},
      {"remove_extra_whitespaces", "false"},
      {"allow_whitespace_only_pieces", "true"},
      {"input_sentence_size", "0"},  // 0 = keep all: the caller already sampled
      {"shuffle_input_sentence", "false"},
      {"num_threads", std::to_string(training.threads)},
      {"max_sentence_length", "16384"},
      {"model_prefix", ""},
  };
  SampleIterator iterator(sentences);
  std::string model_bytes;
  auto status = sentencepiece::SentencePieceTrainer::Train(spec, &iterator, &model_bytes);
  if (!status.ok()) {
    throw UserError("tokenizer training failed: " + std::string(status.message()) +
                    " (a smaller --vocab-size or more text may help)");
  }
  std::ofstream out(model_path, std::ios::binary);
  out << model_bytes;
  if (!out) throw UserError(model_path + ": cannot write tokenizer model");
}

}  // namespace molt::io
