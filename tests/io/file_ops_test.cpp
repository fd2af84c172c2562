// Contract of io/file_ops.h's write_text_atomic: a reader sees the old or the new text, and
// a failed write leaves the old text and no tmp file behind.
#include "io/file_ops.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "kernels/error.h"

namespace molt::io {
namespace {

namespace fs = std::filesystem;

// The real filesystem, except that every rename fails as on a full or read-only disk.
class RenameFailsFileOps : public FileOps {
 public:
  void create_dirs(const std::string& p) override { posix_file_ops().create_dirs(p); }
  void write_file(const std::string& p, const std::string& b) override {
    posix_file_ops().write_file(p, b);
  }
  void sync_file(const std::string& p) override { posix_file_ops().sync_file(p); }
  void sync_dir(const std::string& p) override { posix_file_ops().sync_dir(p); }
  void rename(const std::string&, const std::string& to) override {
    throw UserError("injected failure renaming to " + to);
  }
  void remove_all(const std::string& p) noexcept override { posix_file_ops().remove_all(p); }
};

std::string read(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

class WriteTextAtomicTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("molt_file_ops_test_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    path_ = (dir_ / "run.toml").string();
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
  std::string path_;
};

TEST_F(WriteTextAtomicTest, ReplacesTheFileAndLeavesNoTmp) {
  write_text_atomic(path_, "old\n");
  write_text_atomic(path_, "new\n");
  EXPECT_EQ(read(path_), "new\n");
  EXPECT_FALSE(fs::exists(path_ + ".tmp"));
}

TEST_F(WriteTextAtomicTest, FailedWriteKeepsTheOldTextAndNoTmp) {
  write_text_atomic(path_, "old\n");
  RenameFailsFileOps failing;
  EXPECT_THROW(write_text_atomic(path_, "new\n", failing), UserError);
  EXPECT_EQ(read(path_), "old\n");
  EXPECT_FALSE(fs::exists(path_ + ".tmp"));
}

TEST_F(WriteTextAtomicTest, MissingFolderIsAUserErrorNamingThePath) {
  std::string path = (dir_ / "absent" / "run.toml").string();
  try {
    write_text_atomic(path, "x");
    FAIL() << "expected a UserError";
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace molt::io
