// HDF5 encoding of model.h5 and optim.h5. See checkpoint_files.h for why it is separate.
#include "io/checkpoint_files.h"

#include <hdf5.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <map>
#include <mutex>

#include "io/hdf5_handle.h"
#include "io/hdf5_lock.h"
#include "kernels/error.h"

namespace molt::io {
namespace {

using Lock = std::lock_guard<std::mutex>;
constexpr uint64_t kFormatVersion = 1;

// A file handle that is closed under the HDF5 lock, also while an exception unwinds.
class LockedFile {
 public:
  LockedFile(hid_t id, std::string path) : handle_(id, H5Fclose), path_(std::move(path)) {}
  ~LockedFile() {
    Lock lock(hdf5_mutex());
    handle_.reset();
  }
  hid_t get() const { return handle_.get(); }
  const std::string& path() const { return path_; }
  // Closing flushes HDF5's buffers, so a full disk often shows up only here.
  void close_checked() {
    Lock lock(hdf5_mutex());
    if (H5Fclose(handle_.release()) < 0) write_failed("closing the file");
  }
  [[noreturn]] void write_failed(const std::string& step) const {
    throw UserError("cannot write checkpoint file " + path_ + ": " + step + " failed");
  }
  [[noreturn]] void corrupt(const std::string& detail) const {
    throw UserError("checkpoint file " + path_ + " is corrupt: " + detail);
  }

 private:
  Hdf5Handle handle_;
  std::string path_;
};

LockedFile create_file(const std::string& path) {
  Lock lock(hdf5_mutex());
  silence_hdf5_error_printing();
  hid_t id = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  if (id < 0) throw UserError("cannot create checkpoint file " + path);
  return LockedFile(id, path);
}

LockedFile open_for_read(const std::string& path) {
  if (!std::filesystem::exists(path)) throw UserError("checkpoint file " + path + " is missing");
  Lock lock(hdf5_mutex());
  silence_hdf5_error_printing();
  if (H5Fis_hdf5(path.c_str()) <= 0)
    throw UserError("checkpoint file " + path + " is not an HDF5 file (truncated or corrupt)");
  hid_t id = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  if (id < 0)
    throw UserError("cannot open checkpoint file " + path + ": truncated or corrupt HDF5 file");
  return LockedFile(id, path);
}

// --- writing (caller holds the lock) -------------------------------------------------------

void write_u64_attribute(hid_t object, const char* name, uint64_t value, const LockedFile& f) {
  Hdf5Handle space(H5Screate(H5S_SCALAR), H5Sclose);
  Hdf5Handle attr(H5Acreate2(object, name, H5T_STD_U64LE, space.get(), H5P_DEFAULT, H5P_DEFAULT),
                  H5Aclose);
  if (!attr.valid() || H5Awrite(attr.get(), H5T_NATIVE_UINT64, &value) < 0)
    f.write_failed(std::string("writing attribute ") + name);
}

void write_floats(hid_t loc, const std::string& name, const std::vector<hsize_t>& dims,
                  const float* data, const LockedFile& f) {
  Hdf5Handle space(dims.empty()
                       ? H5Screate(H5S_SCALAR)
                       : H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr),
                   H5Sclose);
  Hdf5Handle dataset(H5Dcreate2(loc, name.c_str(), H5T_IEEE_F32LE, space.get(), H5P_DEFAULT,
                                H5P_DEFAULT, H5P_DEFAULT),
                     H5Dclose);
  if (!dataset.valid()) f.write_failed("creating dataset " + name);
  if (H5Dwrite(dataset.get(), H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0)
    f.write_failed("writing dataset " + name);
  if (H5Dclose(dataset.release()) < 0) f.write_failed("closing dataset " + name);
}

std::string shard_group_name(size_t index) {
  char name[32];
  std::snprintf(name, sizeof name, "shard_%05zu", index);
  return name;
}

// --- reading (caller holds the lock) -------------------------------------------------------

herr_t collect_link_name(hid_t, const char* name, const H5L_info_t*, void* names) {
  static_cast<std::vector<std::string>*>(names)->push_back(name);
  return 0;
}

std::vector<std::string> link_names(hid_t loc, const LockedFile& f) {
  std::vector<std::string> names;
  if (H5Literate(loc, H5_INDEX_NAME, H5_ITER_INC, nullptr, collect_link_name, &names) < 0)
    f.corrupt("cannot list its contents");
  return names;
}

// The dataset's shape, or nullopt when `name` is not a dataset.
std::optional<std::vector<int64_t>> dataset_shape(hid_t loc, const std::string& name) {
  Hdf5Handle dataset(H5Dopen2(loc, name.c_str(), H5P_DEFAULT), H5Dclose);
  if (!dataset.valid()) return std::nullopt;
  Hdf5Handle space(H5Dget_space(dataset.get()), H5Sclose);
  int rank = H5Sget_simple_extent_ndims(space.get());
  if (rank < 0) return std::nullopt;
  std::vector<hsize_t> dims(static_cast<size_t>(rank));
  H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr);
  return std::vector<int64_t>(dims.begin(), dims.end());
}

void read_floats(hid_t loc, const std::string& name, size_t count, float* out,
                 const LockedFile& f) {
  Hdf5Handle dataset(H5Dopen2(loc, name.c_str(), H5P_DEFAULT), H5Dclose);
  if (!dataset.valid()) f.corrupt("dataset " + name + " cannot be opened");
  Hdf5Handle space(H5Dget_space(dataset.get()), H5Sclose);
  hssize_t stored = H5Sget_simple_extent_npoints(space.get());
  if (stored < 0 || static_cast<size_t>(stored) != count)
    f.corrupt("dataset " + name + " holds " + std::to_string(stored) + " values, expected " +
              std::to_string(count));
  if (H5Dread(dataset.get(), H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, out) < 0)
    f.corrupt("dataset " + name + " cannot be read");
}

uint64_t read_u64_attribute(hid_t object, const char* name, const LockedFile& f) {
  uint64_t value = 0;
  Hdf5Handle attr(H5Aopen(object, name, H5P_DEFAULT), H5Aclose);
  if (!attr.valid() || H5Aread(attr.get(), H5T_NATIVE_UINT64, &value) < 0)
    f.corrupt(std::string("attribute ") + name + " is missing or unreadable");
  return value;
}

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string out = "[";
  for (size_t i = 0; i < shape.size(); ++i) out += (i ? ", " : "") + std::to_string(shape[i]);
  return out + "]";
}

// Every way the stored tensors differ from the expected table, one phrase each.
std::vector<std::string> table_mismatches(
    const TensorTable& expected, const std::map<std::string, std::vector<int64_t>>& stored) {
  std::vector<std::string> problems;
  for (const auto& entry : expected) {
    auto it = stored.find(entry.name);
    if (it == stored.end())
      problems.push_back("missing " + entry.name);
    else if (it->second != entry.shape)
      problems.push_back(entry.name + " has shape " + shape_text(it->second) +
                         ", the model expects " + shape_text(entry.shape));
  }
  for (const auto& [name, shape] : stored) {
    bool known = std::any_of(expected.begin(), expected.end(),
                             [&](const TensorEntry& e) { return e.name == name; });
    if (!known) problems.push_back("unexpected " + name + " " + shape_text(shape));
  }
  return problems;
}

std::string summarize(const std::vector<std::string>& problems, size_t shown) {
  std::string out;
  for (size_t i = 0; i < problems.size() && i < shown; ++i) out += (i ? "; " : "") + problems[i];
  if (problems.size() > shown) out += "; " + std::to_string(problems.size() - shown) + " more";
  return out;
}

void read_optimizer_shard(const LockedFile& file, const std::string& group_name, size_t total,
                          std::vector<float>& m, std::vector<float>& v,
                          std::vector<std::pair<size_t, size_t>>& covered) {
  Hdf5Handle group(H5Gopen2(file.get(), group_name.c_str(), H5P_DEFAULT), H5Gclose);
  if (!group.valid()) file.corrupt(group_name + " cannot be opened");
  uint64_t offset = read_u64_attribute(group.get(), "offset", file);
  uint64_t count = read_u64_attribute(group.get(), "count", file);
  if (offset > total || count > total - offset)
    file.corrupt(group_name + " lies outside the " + std::to_string(total) + " values");
  read_floats(group.get(), "m", count, m.data() + offset, file);
  read_floats(group.get(), "v", count, v.data() + offset, file);
  covered.emplace_back(offset, count);
}

// Shards must tile [0, total) exactly: a gap would resume with zeros, an overlap is corrupt.
void check_tiling(std::vector<std::pair<size_t, size_t>> covered, size_t total,
                  const LockedFile& file) {
  std::sort(covered.begin(), covered.end());
  size_t end = 0;
  for (const auto& [offset, count] : covered) {
    if (offset != end)
      file.corrupt("optimizer shards do not tile the buffer at " + std::to_string(end));
    end = offset + count;
  }
  if (end != total)
    file.corrupt("optimizer shards stop at " + std::to_string(end) + " of " +
                 std::to_string(total));
}

}  // namespace

void write_model_file(const std::string& path, const TensorTable& table, const float* params) {
  LockedFile file = create_file(path);
  {
    Lock lock(hdf5_mutex());
    write_u64_attribute(file.get(), "version", kFormatVersion, file);
  }
  for (const auto& entry : table) {
    std::vector<hsize_t> dims(entry.shape.begin(), entry.shape.end());
    Lock lock(hdf5_mutex());
    write_floats(file.get(), entry.name, dims, params + entry.offset, file);
  }
  file.close_checked();
}

void write_optimizer_file(const std::string& path, size_t total,
                          const std::vector<OptimizerShard>& shards) {
  LockedFile file = create_file(path);
  {
    Lock lock(hdf5_mutex());
    write_u64_attribute(file.get(), "version", kFormatVersion, file);
    write_u64_attribute(file.get(), "count", total, file);
  }
  bool whole = shards.size() == 1 && shards[0].offset == 0 && shards[0].count == total;
  for (size_t i = 0; i < shards.size(); ++i) {
    const OptimizerShard& shard = shards[i];
    std::vector<hsize_t> dims{shard.count};
    Lock lock(hdf5_mutex());
    if (whole) {
      write_floats(file.get(), "m", dims, shard.m, file);
      write_floats(file.get(), "v", dims, shard.v, file);
      continue;
    }
    std::string name = shard_group_name(i);
    Hdf5Handle group(H5Gcreate2(file.get(), name.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                     H5Gclose);
    if (!group.valid()) file.write_failed("creating group " + name);
    write_u64_attribute(group.get(), "offset", shard.offset, file);
    write_u64_attribute(group.get(), "count", shard.count, file);
    write_floats(group.get(), "m", dims, shard.m, file);
    write_floats(group.get(), "v", dims, shard.v, file);
  }
  file.close_checked();
}

void read_model_file(const std::string& path, const TensorTable& expected,
                     std::vector<float>& params) {
  LockedFile file = open_for_read(path);
  std::map<std::string, std::vector<int64_t>> stored;
  {
    Lock lock(hdf5_mutex());
    for (const auto& name : link_names(file.get(), file))
      stored[name] = dataset_shape(file.get(), name).value_or(std::vector<int64_t>{});
  }
  std::vector<std::string> problems = table_mismatches(expected, stored);
  if (!problems.empty())
    throw UserError("checkpoint " + path + " does not fit the model: " + summarize(problems, 4));
  params.assign(table_count(expected), 0.0f);
  for (const auto& entry : expected) {
    Lock lock(hdf5_mutex());
    read_floats(file.get(), entry.name, entry.count(), params.data() + entry.offset, file);
  }
}

void read_optimizer_file(const std::string& path, size_t total, std::vector<float>& m,
                         std::vector<float>& v) {
  LockedFile file = open_for_read(path);
  Lock lock(hdf5_mutex());
  uint64_t stored = read_u64_attribute(file.get(), "count", file);
  if (stored != total)
    throw UserError("checkpoint " + path + " holds optimizer state for " + std::to_string(stored) +
                    " parameters, the model has " + std::to_string(total));
  m.assign(total, 0.0f);
  v.assign(total, 0.0f);
  if (H5Lexists(file.get(), "m", H5P_DEFAULT) > 0) {
    read_floats(file.get(), "m", total, m.data(), file);
    read_floats(file.get(), "v", total, v.data(), file);
    return;
  }
  std::vector<std::pair<size_t, size_t>> covered;
  for (const auto& name : link_names(file.get(), file))
    if (name.rfind("shard_", 0) == 0) read_optimizer_shard(file, name, total, m, v, covered);
  check_tiling(covered, total, file);
}

}  // namespace molt::io
