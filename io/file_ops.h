// The few filesystem operations that durable writes need, behind one narrow interface.
//
// Checkpoints, run.toml and summary.json must survive a crash at any instant: they are
// written beside their final name, fsynced, then renamed into place, and the folder holding
// them is fsynced so the rename itself is durable. Routing those steps through FileOps lets a
// test substitute an implementation that fails on the third call (a full disk, a killed
// process) and check that nothing already published is spoiled. The POSIX implementation is
// the only one production code uses.
#pragma once

#include <string>

namespace molt::io {

class FileOps {
 public:
  virtual ~FileOps() = default;
  // Creates the folder and any missing parents. Throws UserError naming the path.
  virtual void create_dirs(const std::string& path) = 0;
  // Replaces the file's contents with `bytes` and fsyncs it. Throws UserError naming the path.
  virtual void write_file(const std::string& path, const std::string& bytes) = 0;
  // fsyncs a file written by someone else (HDF5). Throws UserError naming the path.
  virtual void sync_file(const std::string& path) = 0;
  // fsyncs a folder, making renames and creations inside it durable. Throws UserError.
  virtual void sync_dir(const std::string& path) = 0;
  // Atomically renames (replacing a file `to`, or an empty folder). Throws UserError.
  virtual void rename(const std::string& from, const std::string& to) = 0;
  // Removes a file or a folder tree; a missing path is fine. Used on cleanup: never throws.
  virtual void remove_all(const std::string& path) noexcept = 0;
};

// The real filesystem.
FileOps& posix_file_ops();

// Replaces `path` with `text` so that a reader sees either the old or the new contents, never
// a mix: writes path.tmp, fsyncs, renames, fsyncs the folder. On failure the tmp file is
// removed, `path` is untouched, and a UserError naming the path is thrown.
void write_text_atomic(const std::string& path, const std::string& text,
                       FileOps& ops = posix_file_ops());

}  // namespace molt::io
