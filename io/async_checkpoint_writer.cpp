#include "io/async_checkpoint_writer.h"

#include "io/file_fault_injection.h"

namespace molt::io {

std::string write_snapshot(const CheckpointSnapshot& snapshot) {
  CheckpointContents contents;
  contents.table = &snapshot.table;
  contents.params = snapshot.params.data();
  for (const auto& [offset, count] : snapshot.shards) {
    contents.optimizer.push_back(
        {offset, count, snapshot.m.data() + offset, snapshot.v.data() + offset});
  }
  contents.state_toml = snapshot.state_toml;
  return write_checkpoint(snapshot.run_dir, snapshot.step, contents, snapshot.retention,
                          checkpoint_file_ops(snapshot.step));
}

AsyncCheckpointWriter::~AsyncCheckpointWriter() {
  if (thread_.joinable()) thread_.join();
}

void AsyncCheckpointWriter::start(CheckpointSnapshot snapshot) {
  wait();
  thread_ = std::thread([this, snapshot = std::move(snapshot)]() {
    try {
      folder_ = write_snapshot(snapshot);
    } catch (...) {
      error_ = std::current_exception();
    }
  });
}

std::optional<std::string> AsyncCheckpointWriter::wait() {
  if (!thread_.joinable()) return std::nullopt;
  thread_.join();  // the join orders the thread's writes of folder_/error_ before our reads
  std::exception_ptr error = std::exchange(error_, nullptr);
  std::string folder = std::exchange(folder_, std::string());
  if (error) std::rethrow_exception(error);
  return folder;
}

}  // namespace molt::io
