#include "io/tokenizer.h"

#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>

#include <algorithm>
#include <fstream>
#include <stdexcept>
#include <string_view>
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

// A few fields of SentencePiece's ModelProto, read from the protobuf wire format (the
// installed headers do not include the generated message classes). Field numbers are those
// of sentencepiece_model.proto.
namespace proto {

constexpr uint32_t kVarint = 0, kFixed64 = 1, kBytes = 2, kFixed32 = 5;
constexpr uint32_t kModelPieces = 1, kModelTrainerSpec = 2, kModelNormalizerSpec = 3;
constexpr uint32_t kPieceText = 1;
constexpr uint32_t kTrainerModelType = 3, kTrainerWhitespaceAsSuffix = 24;
constexpr uint64_t kUnigram = 1, kBpe = 2;
constexpr uint32_t kNormalizerName = 1, kNormalizerDummyPrefix = 3,
                   kNormalizerRemoveExtraWhitespaces = 4;

struct Field {
  uint32_t number = 0;
  uint32_t wire_type = 0;
  uint64_t value = 0;      // varint fields
  std::string_view bytes;  // length-delimited fields: the payload
  std::string_view raw;    // the whole field, tag included
};

uint64_t read_varint(std::string_view s, size_t& pos) {
  uint64_t value = 0;
  for (int shift = 0; shift < 64 && pos < s.size(); shift += 7) {
    const auto byte = static_cast<uint8_t>(s[pos++]);
    value |= uint64_t(byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) return value;
  }
  throw std::runtime_error("malformed varint");
}

void append_varint(std::string& out, uint64_t value) {
  for (; value >= 0x80; value >>= 7) out.push_back(static_cast<char>((value & 0x7f) | 0x80));
  out.push_back(static_cast<char>(value));
}

// The field at `pos` (advancing past it); false at the end of the message.
bool next_field(std::string_view message, size_t& pos, Field& field) {
  if (pos >= message.size()) return false;
  const size_t start = pos;
  const uint64_t tag = read_varint(message, pos);
  field = Field{};
  field.number = static_cast<uint32_t>(tag >> 3);
  field.wire_type = static_cast<uint32_t>(tag & 7);
  size_t skip = 0;
  if (field.wire_type == kVarint) {
    field.value = read_varint(message, pos);
  } else if (field.wire_type == kBytes) {
    skip = read_varint(message, pos);
    if (skip > message.size() - pos) throw std::runtime_error("field past the end");
    field.bytes = message.substr(pos, skip);
  } else if (field.wire_type == kFixed64 || field.wire_type == kFixed32) {
    skip = field.wire_type == kFixed64 ? 8 : 4;
  } else {
    throw std::runtime_error("unsupported wire type");
  }
  if (skip > message.size() - pos) throw std::runtime_error("field past the end");
  pos += skip;
  field.raw = message.substr(start, pos - start);
  return true;
}

// Calls visit(field) for each field of `message`, in order.
template <typename Visit>
void for_each_field(std::string_view message, Visit visit) {
  size_t pos = 0;
  Field field;
  while (next_field(message, pos, field)) visit(field);
}

// `model` with normalizer_spec.add_dummy_prefix = false when the ids of a text cut after its
// newlines equal those of the whole text (Tokenizer::cuts_at_newlines); "" when they may not.
std::string continuation_model(std::string_view model) {
  uint64_t model_type = kUnigram;
  bool whitespace_as_suffix = false, newline_in_piece = false;
  std::string_view normalizer_name;
  bool remove_extra_whitespaces = true;  // the proto's default
  std::string normalizer, rest;
  for_each_field(model, [&](const Field& field) {
    if (field.wire_type != kBytes) {
      rest.append(field.raw);
    } else if (field.number == kModelPieces) {
      for_each_field(field.bytes, [&](const Field& sub) {
        if (sub.number == kPieceText && sub.bytes.size() > 1 &&
            sub.bytes.find('\n') != std::string_view::npos) {
          newline_in_piece = true;
        }
      });
      rest.append(field.raw);
    } else if (field.number == kModelTrainerSpec) {
      for_each_field(field.bytes, [&](const Field& sub) {
        if (sub.wire_type != kVarint) return;
        if (sub.number == kTrainerModelType) model_type = sub.value;
        if (sub.number == kTrainerWhitespaceAsSuffix) whitespace_as_suffix = sub.value != 0;
      });
      rest.append(field.raw);
    } else if (field.number == kModelNormalizerSpec) {  // rewritten below, dummy prefix off
      for_each_field(field.bytes, [&](const Field& sub) {
        if (sub.number == kNormalizerName && sub.wire_type == kBytes) normalizer_name = sub.bytes;
        if (sub.number == kNormalizerRemoveExtraWhitespaces && sub.wire_type == kVarint)
          remove_extra_whitespaces = sub.value != 0;
        if (sub.number != kNormalizerDummyPrefix) normalizer.append(sub.raw);
      });
    } else {
      rest.append(field.raw);
    }
  });
  if ((model_type != kUnigram && model_type != kBpe) || whitespace_as_suffix ||
      newline_in_piece || normalizer_name != "identity" || remove_extra_whitespaces) {
    return "";
  }
  append_varint(normalizer, uint64_t(kNormalizerDummyPrefix) << 3 | kVarint);
  append_varint(normalizer, 0);
  append_varint(rest, uint64_t(kModelNormalizerSpec) << 3 | kBytes);
  append_varint(rest, normalizer.size());
  rest.append(normalizer);
  return rest;
}

}  // namespace proto

}  // namespace

Tokenizer::Tokenizer(const std::string& model_path)
    : model_path_(model_path),
      processor_(std::make_unique<sentencepiece::SentencePieceProcessor>()) {
  auto status = processor_->Load(model_path);
  if (!status.ok()) {
    throw UserError(model_path + ": cannot load SentencePiece tokenizer (" + status.ToString() +
                    ")");
  }
  std::string continuation;
  try {
    continuation = proto::continuation_model(processor_->serialized_model_proto());
  } catch (const std::runtime_error&) {
    continuation.clear();  // a model SentencePiece loads but we cannot read: encode whole
  }
  if (!continuation.empty()) {
    continuation_ = std::make_unique<sentencepiece::SentencePieceProcessor>();
    if (!continuation_->LoadFromSerializedProto(continuation).ok()) continuation_.reset();
  }
}

Tokenizer::~Tokenizer() = default;

std::vector<int32_t> Tokenizer::encode(const std::string& text) const {
  std::vector<int32_t> ids;
  bool first = true;
  for (std::string_view part : parts(text)) {
    std::vector<int32_t> part_ids = encode_part(part, first);
    ids.insert(ids.end(), part_ids.begin(), part_ids.end());
    first = false;
  }
  return ids;
}

std::vector<std::string_view> Tokenizer::parts(std::string_view text, size_t target_bytes) const {
  if (!cuts_at_newlines()) return {text};
  target_bytes = std::max<size_t>(target_bytes, 1);  // a part holds at least its newline
  std::vector<std::string_view> out;
  size_t start = 0;
  while (text.size() - start > target_bytes) {
    const size_t newline = text.find('\n', start + target_bytes - 1);
    if (newline == std::string_view::npos || newline + 1 == text.size()) break;
    out.push_back(text.substr(start, newline + 1 - start));
    start = newline + 1;
  }
  out.push_back(text.substr(start));
  return out;
}

std::vector<int32_t> Tokenizer::encode_part(std::string_view part, bool first) const {
  std::vector<int> ids;
  const sentencepiece::SentencePieceProcessor& processor =
      first || !continuation_ ? *processor_ : *continuation_;
  auto status = processor.Encode(part, &ids);
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
