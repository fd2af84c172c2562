// POSIX implementation of FileOps and the atomic text write built on it.
#include "io/file_ops.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "kernels/error.h"

namespace molt::io {
namespace {

namespace fs = std::filesystem;

[[noreturn]] void fail(const std::string& what, const std::string& path, int error) {
  throw UserError("cannot " + what + " " + path + ": " + std::strerror(error));
}

// Closes the descriptor on every path out of a function.
class FileDescriptor {
 public:
  explicit FileDescriptor(int fd) : fd_(fd) {}
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  ~FileDescriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }
  // Closes now and reports the error close() gives (NFS reports write errors here).
  int close_checked() {
    int rc = ::close(fd_);
    fd_ = -1;
    return rc == 0 ? 0 : errno;
  }

 private:
  int fd_;
};

void write_all(int fd, const std::string& bytes, const std::string& path) {
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail("write", path, errno);
    done += static_cast<size_t>(n);
  }
}

void fsync_path(const std::string& path, int flags, const char* what) {
  FileDescriptor fd(::open(path.c_str(), flags | O_CLOEXEC));
  if (fd.get() < 0) fail(what, path, errno);
  if (::fsync(fd.get()) != 0) fail(what, path, errno);
}

class PosixFileOps : public FileOps {
 public:
  void create_dirs(const std::string& path) override {
    std::error_code ec;
    fs::create_directories(path, ec);
    if (ec) throw UserError("cannot create folder " + path + ": " + ec.message());
  }

  void write_file(const std::string& path, const std::string& bytes) override {
    FileDescriptor fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (fd.get() < 0) fail("create", path, errno);
    write_all(fd.get(), bytes, path);
    if (::fsync(fd.get()) != 0) fail("sync", path, errno);
    if (int error = fd.close_checked()) fail("close", path, error);
  }

  void sync_file(const std::string& path) override { fsync_path(path, O_RDONLY, "sync"); }

  void sync_dir(const std::string& path) override {
    fsync_path(path, O_RDONLY | O_DIRECTORY, "sync folder");
  }

  void rename(const std::string& from, const std::string& to) override {
    if (std::rename(from.c_str(), to.c_str()) != 0) fail("rename " + from + " to", to, errno);
  }

  void remove_all(const std::string& path) noexcept override {
    std::error_code ignored;
    fs::remove_all(path, ignored);
  }
};

}  // namespace

FileOps& posix_file_ops() {
  static PosixFileOps ops;
  return ops;
}

void write_text_atomic(const std::string& path, const std::string& text, FileOps& ops) {
  const std::string tmp = path + ".tmp";
  try {
    ops.write_file(tmp, text);
    ops.rename(tmp, path);
  } catch (...) {
    ops.remove_all(tmp);
    throw;
  }
  fs::path folder = fs::path(path).parent_path();
  ops.sync_dir(folder.empty() ? "." : folder.string());
}

}  // namespace molt::io
