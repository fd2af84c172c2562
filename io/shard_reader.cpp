#include "io/shard_reader.h"

#include <filesystem>
#include <mutex>

#include "io/hdf5_lock.h"
#include "kernels/error.h"

namespace molt::io {
namespace {

std::string read_string_attribute(hid_t object, const char* name, const std::string& path) {
  if (H5Aexists(object, name) <= 0) {
    throw UserError(path + ": not a molt token shard (attribute '" + name + "' is missing)");
  }
  Hdf5Handle attr(H5Aopen(object, name, H5P_DEFAULT), H5Aclose);
  Hdf5Handle type(H5Aget_type(attr.get()), H5Tclose);
  if (H5Tget_class(type.get()) != H5T_STRING) {
    throw UserError(path + ": attribute '" + name + "' should be a string");
  }
  if (H5Tis_variable_str(type.get()) > 0) {
    char* value = nullptr;
    Hdf5Handle memory_type(H5Tcopy(H5T_C_S1), H5Tclose);
    H5Tset_size(memory_type.get(), H5T_VARIABLE);
    if (H5Aread(attr.get(), memory_type.get(), &value) < 0 || value == nullptr) {
      throw UserError(path + ": cannot read attribute '" + name + "'");
    }
    std::string result(value);
    H5free_memory(value);
    return result;
  }
  std::string buffer(H5Tget_size(type.get()), '\0');
  if (H5Aread(attr.get(), type.get(), buffer.data()) < 0) {
    throw UserError(path + ": cannot read attribute '" + name + "'");
  }
  return buffer.substr(0, buffer.find('\0'));
}

int64_t read_int_attribute(hid_t object, const char* name, const std::string& path) {
  if (H5Aexists(object, name) <= 0) {
    throw UserError(path + ": not a molt token shard (attribute '" + name + "' is missing)");
  }
  Hdf5Handle attr(H5Aopen(object, name, H5P_DEFAULT), H5Aclose);
  Hdf5Handle type(H5Aget_type(attr.get()), H5Tclose);
  int64_t value = 0;
  if (H5Tget_class(type.get()) != H5T_INTEGER ||
      H5Aread(attr.get(), H5T_NATIVE_INT64, &value) < 0) {
    throw UserError(path + ": attribute '" + name + "' should be an integer");
  }
  return value;
}

uint64_t dataset_length(hid_t dataset) {
  Hdf5Handle space(H5Dget_space(dataset), H5Sclose);
  hsize_t length = 0;
  if (H5Sget_simple_extent_ndims(space.get()) != 1) return UINT64_MAX;
  H5Sget_simple_extent_dims(space.get(), &length, nullptr);
  return length;
}

}  // namespace

ShardReader::ShardReader(const std::string& path) : path_(path) {
  if (!std::filesystem::exists(path)) throw UserError(path + ": no such token shard");
  std::lock_guard<std::mutex> lock(hdf5_mutex());
  silence_hdf5_error_printing();
  if (H5Fis_hdf5(path.c_str()) <= 0) {
    throw UserError(path + ": not an HDF5 file (expected a molt token shard)");
  }
  file_bytes_ = std::filesystem::file_size(path);
  file_ = Hdf5Handle(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
  if (!file_.valid()) {
    throw UserError(path + ": cannot open HDF5 file (truncated or corrupt?)");
  }
  hid_t root = file_.get();
  std::string format = read_string_attribute(root, "format", path);
  if (format != kShardFormat) {
    throw UserError(path + ": not a molt token shard (format is '" + format + "', expected '" +
                    kShardFormat + "')");
  }
  int64_t version = read_int_attribute(root, "version", path);
  if (version != kShardVersion) {
    throw UserError(path + ": token shard version " + std::to_string(version) +
                    " is not supported (this molt reads version " + std::to_string(kShardVersion) +
                    ")");
  }
  header_.vocab_size = read_int_attribute(root, "vocab_size", path);
  header_.eos_id = read_int_attribute(root, "eos_id", path);
  header_.bos_id = read_int_attribute(root, "bos_id", path);
  header_.pad_id = read_int_attribute(root, "pad_id", path);
  header_.tokenizer_sha256 = read_string_attribute(root, "tokenizer_sha256", path);
  if (header_.vocab_size <= 0) throw UserError(path + ": vocab_size must be positive");

  for (const char* name : {"tokens", "doc_offsets"}) {
    if (H5Lexists(root, name, H5P_DEFAULT) <= 0) {
      throw UserError(path + ": not a molt token shard (dataset /" + name + " is missing)");
    }
  }
  Hdf5Handle access(H5Pcreate(H5P_DATASET_ACCESS), H5Pclose);
  H5Pset_chunk_cache(access.get(), 0, 0, 1.0);
  tokens_ = Hdf5Handle(H5Dopen2(root, "tokens", access.get()), H5Dclose);
  if (!tokens_.valid()) throw UserError(path + ": cannot open /tokens (corrupt shard?)");
  Hdf5Handle type(H5Dget_type(tokens_.get()), H5Tclose);
  token_bytes_ = static_cast<int>(H5Tget_size(type.get()));
  if (H5Tget_class(type.get()) != H5T_INTEGER || H5Tget_sign(type.get()) != H5T_SGN_NONE ||
      token_bytes_ != token_bytes_for_vocab(header_.vocab_size)) {
    throw UserError(path + ": /tokens should be uint" +
                    std::to_string(8 * token_bytes_for_vocab(header_.vocab_size)) +
                    " for vocab_size " + std::to_string(header_.vocab_size));
  }
  token_count_ = dataset_length(tokens_.get());
  Hdf5Handle offsets(H5Dopen2(root, "doc_offsets", H5P_DEFAULT), H5Dclose);
  if (!offsets.valid()) throw UserError(path + ": cannot open /doc_offsets (corrupt shard?)");
  document_count_ = dataset_length(offsets.get());
  if (token_count_ == UINT64_MAX || document_count_ == UINT64_MAX) {
    throw UserError(path + ": /tokens and /doc_offsets must be 1-D");
  }
}

ShardReader::~ShardReader() {
  std::lock_guard<std::mutex> lock(hdf5_mutex());
  tokens_.reset();
  file_.reset();
}

void ShardReader::check_unchanged_on_disk() const {
  std::error_code error;
  const uintmax_t bytes = std::filesystem::file_size(path_, error);
  if (error) throw UserError(path_ + ": token shard disappeared while being read");
  if (bytes != file_bytes_) {
    throw UserError(path_ + ": token shard changed size while being read (" +
                    std::to_string(file_bytes_) + " bytes when opened, now " +
                    std::to_string(bytes) + ")");
  }
}

void ShardReader::read_tokens(uint64_t start, uint64_t count, int32_t* out) {
  if (start + count > token_count_ || start + count < start) {
    throw UserError(path_ + ": read of tokens [" + std::to_string(start) + ", " +
                    std::to_string(start + count) + ") is past the end (" +
                    std::to_string(token_count_) + " tokens)");
  }
  if (count == 0) return;
  check_unchanged_on_disk();
  raw_bytes_.resize(count * token_bytes_);
  {
    std::lock_guard<std::mutex> lock(hdf5_mutex());
    hsize_t file_start = start, file_count = count;
    Hdf5Handle file_space(H5Dget_space(tokens_.get()), H5Sclose);
    H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, &file_start, nullptr, &file_count,
                        nullptr);
    Hdf5Handle memory_space(H5Screate_simple(1, &file_count, nullptr), H5Sclose);
    hid_t memory_type = token_bytes_ == 2 ? H5T_NATIVE_UINT16 : H5T_NATIVE_UINT32;
    if (H5Dread(tokens_.get(), memory_type, memory_space.get(), file_space.get(), H5P_DEFAULT,
                raw_bytes_.data()) < 0) {
      throw UserError(path_ + ": cannot read /tokens (truncated or corrupt shard?)");
    }
  }
  // Widen and range-check in one pass; the max is tracked branch-free and tested once.
  uint32_t largest = 0;
  if (token_bytes_ == 2) {
    const auto* raw = reinterpret_cast<const uint16_t*>(raw_bytes_.data());
    for (uint64_t i = 0; i < count; ++i) {
      out[i] = raw[i];
      largest = raw[i] > largest ? raw[i] : largest;
    }
  } else {
    const auto* raw = reinterpret_cast<const uint32_t*>(raw_bytes_.data());
    for (uint64_t i = 0; i < count; ++i) {
      out[i] = static_cast<int32_t>(raw[i]);
      largest = raw[i] > largest ? raw[i] : largest;
    }
  }
  if (largest >= static_cast<uint64_t>(header_.vocab_size)) {
    throw UserError(path_ + ": token id " + std::to_string(largest) + " in tokens [" +
                    std::to_string(start) + ", " + std::to_string(start + count) +
                    ") is >= vocab_size " + std::to_string(header_.vocab_size) +
                    " (corrupt shard?)");
  }
}

std::vector<uint64_t> ShardReader::read_document_offsets() {
  std::vector<uint64_t> offsets(document_count_);
  std::lock_guard<std::mutex> lock(hdf5_mutex());
  Hdf5Handle dataset(H5Dopen2(file_.get(), "doc_offsets", H5P_DEFAULT), H5Dclose);
  if (document_count_ > 0 && H5Dread(dataset.get(), H5T_NATIVE_UINT64, H5S_ALL, H5S_ALL,
                                     H5P_DEFAULT, offsets.data()) < 0) {
    throw UserError(path_ + ": cannot read /doc_offsets (truncated or corrupt shard?)");
  }
  return offsets;
}

}  // namespace molt::io
