// molt's view of a SentencePiece tokenizer: load, encode, decode, and train from a sample.
//
// Special ids are fixed so every dataset agrees (see dataset_info.h): pad 0, eos 1, unk 2,
// bos 3. Training turns byte fallback on, so no input byte is ever <unk>, and keeps text
// as it is (no NFKC, whitespace kept), so decode(encode(text)) == text. Sentinel ids for
// T5-style span corruption are not SentencePiece pieces: they sit above the tokenizer's
// pieces, at dataset vocab_size - 1 - k, so the tokenizer is trained with vocab V - K.
//
// encode() and decode() are const and safe to call from several threads at once
// (SentencePieceProcessor's Encode/Decode are const and keep no mutable state).
//
// Long documents are encoded in parts cut after a newline (parts(), encode_part()), with the
// same ids as one call: SentencePiece's BPE is several times slower per byte on megabytes
// than on lines, and one 8 MiB file would keep one thread busy while the others wait.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace sentencepiece {
class SentencePieceProcessor;
}

namespace molt::io {

class Tokenizer {
 public:
  // Loads a SentencePiece model; throws UserError naming the file when it cannot.
  explicit Tokenizer(const std::string& model_path);
  ~Tokenizer();

  std::vector<int32_t> encode(const std::string& text) const;

  // Where `text` may be cut so that its parts encode independently: after a newline, once a
  // part holds at least `target_bytes`. One part (the whole text) when the model does not
  // allow it (cuts_at_newlines()).
  static constexpr size_t kPartBytes = size_t(64) << 10;
  std::vector<std::string_view> parts(std::string_view text,
                                      size_t target_bytes = kPartBytes) const;
  // The ids of one part; `first` is whether it starts the text. Concatenated over parts(text)
  // they equal encode(text).
  std::vector<int32_t> encode_part(std::string_view part, bool first) const;
  // Whether cutting after a newline leaves the ids unchanged, which holds when: the model is
  // BPE or unigram; no piece longer than one byte holds a newline (so a newline is a piece of
  // its own and nothing merges across it); normalisation is the identity and keeps
  // whitespace (every tokenizer molt trains). A part after the first is then encoded without
  // the dummy "▁" SentencePiece puts before a text.
  bool cuts_at_newlines() const { return continuation_ != nullptr; }
  std::string decode(const std::vector<int32_t>& ids) const;
  int64_t piece_count() const;
  int64_t pad_id() const;
  int64_t eos_id() const;
  int64_t unk_id() const;
  int64_t bos_id() const;

 private:
  std::string model_path_;
  std::unique_ptr<sentencepiece::SentencePieceProcessor> processor_;
  // The same model without the dummy prefix, for parts after the first; null when parts
  // would not encode like the whole.
  std::unique_ptr<sentencepiece::SentencePieceProcessor> continuation_;
};

struct TokenizerTraining {
  std::string model_type = "bpe";  // "bpe" or "unigram"
  int64_t piece_count = 8192;      // SentencePiece vocab: dataset vocab minus sentinels
  int threads = 2;
  bool verbose = false;  // SentencePiece's own progress log on stderr
};

// Trains on `sentences` (already sampled: SentencePiece keeps all of them) and writes the
// model to `model_path`. Throws UserError with SentencePiece's reason on failure.
void train_tokenizer(const TokenizerTraining& training, const std::vector<std::string>& sentences,
                     const std::string& model_path);

}  // namespace molt::io
