// Contract: a bad shard fails at open or read with one UserError naming the file and the
// problem: missing file, not HDF5, truncated HDF5, HDF5 that is not a molt shard, and a
// token id >= vocab_size found while reading a window, and a shard truncated or deleted
// while a run has it open.
#include <gtest/gtest.h>
#include <hdf5.h>

#include <filesystem>

#include "io/hdf5_lock.h"
#include "io/shard_reader.h"
#include "io/shard_writer.h"
#include "tests/io/expect_user_error.h"
#include "tests/io/io_fixtures.h"

namespace molt::io {
namespace {

using testing::expect_user_error;

std::string write_good_shard(const testing::TempDir& tmp, int64_t vocab_size = 65536) {
  std::string path = tmp / "good.h5";
  ShardWriter writer(path, ShardHeader{vocab_size, 1, 3, 0, "hash"});
  std::vector<int32_t> ids(5000);
  for (size_t i = 0; i < ids.size(); ++i) ids[i] = 4 + i % 250;
  writer.append_document(ids);
  writer.close();
  return path;
}

TEST(ShardReaderErrors, ShardTruncatedWhileOpenIsRefusedOnTheNextRead) {
  // An open HDF5 file whose tail is cut off reads zeros, which are valid token ids: the
  // reader must notice the change instead of training on them.
  testing::TempDir tmp;
  std::string path = write_good_shard(tmp);
  ShardReader reader(path);
  std::vector<int32_t> window(64);
  reader.read_tokens(0, 64, window.data());
  std::filesystem::resize_file(path, std::filesystem::file_size(path) / 2);
  expect_user_error([&] { reader.read_tokens(64, 64, window.data()); },
                    {"good.h5", "changed size while being read"});
}

TEST(ShardReaderErrors, ShardDeletedWhileOpenIsRefusedOnTheNextRead) {
  testing::TempDir tmp;
  std::string path = write_good_shard(tmp);
  ShardReader reader(path);
  std::vector<int32_t> window(64);
  std::filesystem::remove(path);
  expect_user_error([&] { reader.read_tokens(0, 64, window.data()); },
                    {"good.h5", "disappeared"});
}

TEST(ShardReaderErrors, MissingFileIsNamed) {
  expect_user_error([] { ShardReader r("/nonexistent/x.h5"); }, {"/nonexistent/x.h5", "no such"});
}

TEST(ShardReaderErrors, TextFileIsNotHdf5) {
  testing::TempDir tmp;
  testing::write_text_file(tmp / "notes.h5", "just some text\n");
  expect_user_error([&] { ShardReader r(tmp / "notes.h5"); }, {"notes.h5", "not an HDF5 file"});
}

TEST(ShardReaderErrors, TruncatedHdf5IsRefused) {
  testing::TempDir tmp;
  std::string path = write_good_shard(tmp);
  std::filesystem::resize_file(path, std::filesystem::file_size(path) / 2);
  expect_user_error([&] { ShardReader r(path); }, {"good.h5", "truncated"});
}

TEST(ShardReaderErrors, Hdf5WithoutMoltAttributesIsNotAShard) {
  testing::TempDir tmp;
  std::string path = tmp / "other.h5";
  {
    std::lock_guard<std::mutex> lock(hdf5_mutex());
    hid_t file = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hsize_t n = 4;
    hid_t space = H5Screate_simple(1, &n, nullptr);
    hid_t data =
        H5Dcreate2(file, "tokens", H5T_STD_U16LE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dclose(data);
    H5Sclose(space);
    H5Fclose(file);
  }
  expect_user_error([&] { ShardReader r(path); }, {"other.h5", "not a molt token shard", "format"});
}

// Rewrites the vocab_size attribute so that stored ids exceed it, as a corrupt or
// hand-edited shard would.
void shrink_vocab_attribute(const std::string& path, int64_t vocab_size) {
  std::lock_guard<std::mutex> lock(hdf5_mutex());
  hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  hid_t attr = H5Aopen(file, "vocab_size", H5P_DEFAULT);
  H5Awrite(attr, H5T_NATIVE_INT64, &vocab_size);
  H5Aclose(attr);
  H5Fclose(file);
}

TEST(ShardReaderErrors, TokenIdAtOrAboveVocabIsFoundOnRead) {
  testing::TempDir tmp;
  std::string path = write_good_shard(tmp);
  shrink_vocab_attribute(path, 200);  // ids go up to 253
  ShardReader reader(path);
  std::vector<int32_t> out(100);
  reader.read_tokens(0, 100, out.data());  // ids 4..103: fine
  expect_user_error([&] { reader.read_tokens(150, 100, out.data()); },
                    {"good.h5", ">= vocab_size 200"});
}

}  // namespace
}  // namespace molt::io
