// The raw text given to `molt prep`, read one document at a time.
//
// Inputs are files or folders (walked recursively, in sorted order so two runs see the
// same document order). What counts as a document:
//   *.jsonl      one document per line: the line's JSON object's "text" string
//   other files  one document per file. A file larger than kMaxDocumentBytes is cut at the
//                blank line (paragraph break) after each kMaxDocumentBytes, so memory stays
//                bounded even for one huge text file.
// Files whose first 8 KiB hold a NUL byte are skipped as binary (source trees carry
// images and blobs). Documents of only whitespace are skipped.
//
// Nothing is held beyond the current document: the corpus is streamed, never loaded.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace molt::io {

class TextCorpus {
 public:
  static constexpr size_t kMaxDocumentBytes = 8 << 20;

  // Resolves inputs to files. Throws UserError for a missing input path.
  explicit TextCorpus(const std::vector<std::string>& inputs);

  // Calls visit(text, bytes_read_so_far) for each document, in a fixed order.
  // Throws UserError naming file and line for a malformed JSONL line.
  void for_each_document(const std::function<void(std::string&, uint64_t)>& visit) const;

  const std::vector<std::string>& files() const { return files_; }
  uint64_t total_bytes() const { return total_bytes_; }

 private:
  std::vector<std::string> files_;
  uint64_t total_bytes_ = 0;
};

}  // namespace molt::io
