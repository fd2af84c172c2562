#include "io/text_corpus.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "kernels/error.h"

namespace molt::io {
namespace fs = std::filesystem;
namespace {

bool is_blank(const std::string& text) {
  return std::all_of(text.begin(), text.end(),
                     [](unsigned char c) { return c == ' ' || (c >= '\t' && c <= '\r'); });
}

bool looks_binary(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char head[8192];
  in.read(head, sizeof(head));
  return std::find(head, head + in.gcount(), '\0') != head + in.gcount();
}

bool is_jsonl(const std::string& path) { return fs::path(path).extension() == ".jsonl"; }

void visit_jsonl(const std::string& path, uint64_t& bytes_read,
                 const std::function<void(std::string&, uint64_t)>& visit) {
  std::ifstream in(path, std::ios::binary);
  std::string line;
  for (int64_t line_number = 1; std::getline(in, line); ++line_number) {
    bytes_read += line.size() + 1;
    if (is_blank(line)) continue;
    nlohmann::json object = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (object.is_discarded() || !object.is_object()) {
      throw UserError(path + ":" + std::to_string(line_number) + ": not a JSON object");
    }
    auto text = object.find("text");
    if (text == object.end() || !text->is_string()) {
      throw UserError(path + ":" + std::to_string(line_number) +
                      ": JSON object has no \"text\" string");
    }
    std::string document = text->get<std::string>();
    if (!is_blank(document)) visit(document, bytes_read);
  }
}

void visit_text_file(const std::string& path, uint64_t& bytes_read,
                     const std::function<void(std::string&, uint64_t)>& visit) {
  std::ifstream in(path, std::ios::binary);
  std::string document, line;
  while (std::getline(in, line)) {
    bytes_read += line.size() + 1;
    // Cut an oversized document at a paragraph break.
    if (document.size() >= TextCorpus::kMaxDocumentBytes && is_blank(line)) {
      if (!is_blank(document)) visit(document, bytes_read);
      document.clear();
      continue;
    }
    document += line;
    document += '\n';
  }
  if (!is_blank(document)) visit(document, bytes_read);
}

}  // namespace

TextCorpus::TextCorpus(const std::vector<std::string>& inputs) {
  if (inputs.empty()) throw UserError("no input text given");
  for (const std::string& input : inputs) {
    if (!fs::exists(input)) throw UserError(input + ": no such file or folder");
    if (fs::is_directory(input)) {
      std::vector<std::string> found;
      for (const auto& entry : fs::recursive_directory_iterator(input)) {
        if (entry.is_regular_file()) found.push_back(entry.path().string());
      }
      std::sort(found.begin(), found.end());
      files_.insert(files_.end(), found.begin(), found.end());
    } else {
      files_.push_back(input);
    }
  }
  for (const std::string& file : files_) total_bytes_ += fs::file_size(file);
}

void TextCorpus::for_each_document(const std::function<void(std::string&, uint64_t)>& visit) const {
  uint64_t bytes_read = 0;
  for (const std::string& file : files_) {
    if (is_jsonl(file)) {
      visit_jsonl(file, bytes_read, visit);
    } else if (looks_binary(file)) {
      bytes_read += fs::file_size(file);
    } else {
      visit_text_file(file, bytes_read, visit);
    }
  }
}

}  // namespace molt::io
