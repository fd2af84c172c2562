#include "io/shard_writer.h"

#include <cstring>
#include <mutex>
#include <stdexcept>

#include "io/hdf5_lock.h"
#include "kernels/error.h"

namespace molt::io {
namespace {

void check(herr_t status, const std::string& path, const char* what) {
  if (status < 0) throw UserError(path + ": cannot write token shard (" + what + ")");
}

void write_int_attribute(hid_t object, const char* name, int64_t value, const std::string& path) {
  Hdf5Handle space(H5Screate(H5S_SCALAR), H5Sclose);
  Hdf5Handle attr(H5Acreate2(object, name, H5T_STD_I64LE, space.get(), H5P_DEFAULT, H5P_DEFAULT),
                  H5Aclose);
  if (!attr.valid()) throw UserError(path + ": cannot write attribute " + name);
  check(H5Awrite(attr.get(), H5T_NATIVE_INT64, &value), path, name);
}

void write_string_attribute(hid_t object, const char* name, const std::string& value,
                            const std::string& path) {
  Hdf5Handle type(H5Tcopy(H5T_C_S1), H5Tclose);
  H5Tset_size(type.get(), value.empty() ? 1 : value.size());
  H5Tset_strpad(type.get(), H5T_STR_NULLPAD);
  Hdf5Handle space(H5Screate(H5S_SCALAR), H5Sclose);
  Hdf5Handle attr(H5Acreate2(object, name, type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT),
                  H5Aclose);
  if (!attr.valid()) throw UserError(path + ": cannot write attribute " + name);
  std::string padded = value.empty() ? std::string(1, '\0') : value;
  check(H5Awrite(attr.get(), type.get(), padded.data()), path, name);
}

}  // namespace

ShardWriter::ShardWriter(const std::string& path, const ShardHeader& header)
    : path_(path), header_(header) {
  token_type_ = token_bytes_for_vocab(header.vocab_size) == 2 ? H5T_STD_U16LE : H5T_STD_U32LE;
  pending_.reserve(kShardChunkTokens);
  std::lock_guard<std::mutex> lock(hdf5_mutex());
  silence_hdf5_error_printing();
  file_ = Hdf5Handle(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), H5Fclose);
  if (!file_.valid()) throw UserError(path + ": cannot create token shard");

  hsize_t initial = 0, unlimited = H5S_UNLIMITED, chunk = kShardChunkTokens;
  Hdf5Handle space(H5Screate_simple(1, &initial, &unlimited), H5Sclose);
  Hdf5Handle props(H5Pcreate(H5P_DATASET_CREATE), H5Pclose);
  H5Pset_chunk(props.get(), 1, &chunk);
  tokens_ = Hdf5Handle(H5Dcreate2(file_.get(), "tokens", token_type_, space.get(), H5P_DEFAULT,
                                  props.get(), H5P_DEFAULT),
                       H5Dclose);
  if (!tokens_.valid()) throw UserError(path + ": cannot create /tokens");

  hid_t root = file_.get();
  write_string_attribute(root, "format", kShardFormat, path);
  write_int_attribute(root, "version", kShardVersion, path);
  write_int_attribute(root, "vocab_size", header.vocab_size, path);
  write_int_attribute(root, "eos_id", header.eos_id, path);
  write_int_attribute(root, "bos_id", header.bos_id, path);
  write_int_attribute(root, "pad_id", header.pad_id, path);
  write_string_attribute(root, "tokenizer_sha256", header.tokenizer_sha256, path);
}

ShardWriter::~ShardWriter() {
  try {
    close();
  } catch (...) {
    // A destructor must not throw; an explicit close() reports the failure.
  }
}

void ShardWriter::append_document(const int32_t* ids, size_t count) {
  if (closed_) throw std::logic_error("ShardWriter::append_document after close");
  doc_offsets_.push_back(tokens_written());
  for (size_t i = 0; i < count; ++i) {
    if (ids[i] < 0 || ids[i] >= header_.vocab_size) {
      throw UserError(path_ + ": token id " + std::to_string(ids[i]) +
                      " is outside the vocabulary [0, " + std::to_string(header_.vocab_size) + ")");
    }
    append_token(static_cast<uint32_t>(ids[i]));
  }
  append_token(static_cast<uint32_t>(header_.eos_id));
}

void ShardWriter::append_token(uint32_t id) {
  pending_.push_back(id);
  if (pending_.size() == kShardChunkTokens) flush_pending();
}

void ShardWriter::flush_pending() {
  if (pending_.empty()) return;
  const size_t bytes_per_token = H5Tget_size(token_type_);
  packed_bytes_.resize(pending_.size() * bytes_per_token);
  if (bytes_per_token == 2) {
    auto* out = reinterpret_cast<uint16_t*>(packed_bytes_.data());
    for (size_t i = 0; i < pending_.size(); ++i) out[i] = static_cast<uint16_t>(pending_[i]);
  } else {
    std::memcpy(packed_bytes_.data(), pending_.data(), packed_bytes_.size());
  }
  hid_t memory_type = bytes_per_token == 2 ? H5T_NATIVE_UINT16 : H5T_NATIVE_UINT32;

  std::lock_guard<std::mutex> lock(hdf5_mutex());
  hsize_t start = tokens_flushed_, count = pending_.size(), new_size = start + count;
  check(H5Dset_extent(tokens_.get(), &new_size), path_, "extend /tokens");
  Hdf5Handle file_space(H5Dget_space(tokens_.get()), H5Sclose);
  H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, &start, nullptr, &count, nullptr);
  Hdf5Handle memory_space(H5Screate_simple(1, &count, nullptr), H5Sclose);
  check(H5Dwrite(tokens_.get(), memory_type, memory_space.get(), file_space.get(), H5P_DEFAULT,
                 packed_bytes_.data()),
        path_, "write /tokens");
  tokens_flushed_ += count;
  pending_.clear();
}

void ShardWriter::close() {
  if (closed_) return;
  closed_ = true;
  flush_pending();
  std::lock_guard<std::mutex> lock(hdf5_mutex());
  hsize_t doc_count = doc_offsets_.size();
  Hdf5Handle space(H5Screate_simple(1, &doc_count, nullptr), H5Sclose);
  Hdf5Handle offsets(H5Dcreate2(file_.get(), "doc_offsets", H5T_STD_U64LE, space.get(), H5P_DEFAULT,
                                H5P_DEFAULT, H5P_DEFAULT),
                     H5Dclose);
  if (!offsets.valid()) throw UserError(path_ + ": cannot create /doc_offsets");
  if (doc_count > 0) {
    check(H5Dwrite(offsets.get(), H5T_NATIVE_UINT64, H5S_ALL, H5S_ALL, H5P_DEFAULT,
                   doc_offsets_.data()),
          path_, "write /doc_offsets");
  }
  offsets.reset();
  tokens_.reset();
  if (H5Fclose(file_.release()) < 0) {
    throw UserError(path_ + ": cannot close token shard (disk full?)");
  }
}

}  // namespace molt::io
