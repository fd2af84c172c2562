#include "io/file_fault_injection.h"

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <string>

#include "kernels/error.h"

namespace molt::io {
namespace {

enum class Fault { kNone, kKillDuringWrite, kDiskFull };

struct FaultPlan {
  Fault fault = Fault::kNone;
  int64_t step = -1;
};

bool ends_with(const std::string& text, const std::string& tail) {
  return text.size() >= tail.size() &&
         text.compare(text.size() - tail.size(), tail.size(), tail) == 0;
}

FaultPlan read_plan() {
  const char* text = std::getenv("MOLT_CHECKPOINT_FAULT");
  if (text == nullptr || *text == '\0') return {};
  const std::string item = text;
  const size_t eq = item.find('=');
  const std::string kind = item.substr(0, eq);
  const std::string value = eq == std::string::npos ? "" : item.substr(eq + 1);
  char* end = nullptr;
  const long long step = std::strtoll(value.c_str(), &end, 10);
  FaultPlan plan;
  plan.step = step;
  if (kind == "kill_during_write") plan.fault = Fault::kKillDuringWrite;
  if (kind == "disk_full_at") plan.fault = Fault::kDiskFull;
  if (plan.fault == Fault::kNone || value.empty() || *end != '\0' || step < 0) {
    throw UserError("MOLT_CHECKPOINT_FAULT: cannot read '" + item +
                    "' (expected kill_during_write=STEP or disk_full_at=STEP)");
  }
  return plan;
}

// The real filesystem, except for the one failure of the plan.
class FaultInjectingFileOps final : public FileOps {
 public:
  explicit FaultInjectingFileOps(Fault fault) : fault_(fault) {}
  void create_dirs(const std::string& path) override { real().create_dirs(path); }
  void write_file(const std::string& path, const std::string& bytes) override {
    real().write_file(path, bytes);
  }
  void sync_file(const std::string& path) override {
    real().sync_file(path);
    if (fault_ == Fault::kKillDuringWrite && ends_with(path, "/model.h5")) std::raise(SIGKILL);
    if (fault_ == Fault::kDiskFull && ends_with(path, "/optim.h5")) {
      throw UserError("cannot sync " + path + ": " + std::strerror(ENOSPC) +
                      " (injected by MOLT_CHECKPOINT_FAULT)");
    }
  }
  void sync_dir(const std::string& path) override { real().sync_dir(path); }
  void rename(const std::string& from, const std::string& to) override {
    real().rename(from, to);
  }
  void remove_all(const std::string& path) noexcept override { real().remove_all(path); }

 private:
  static FileOps& real() { return posix_file_ops(); }
  Fault fault_;
};

}  // namespace

FileOps& checkpoint_file_ops(int64_t step) {
  static const FaultPlan plan = read_plan();
  static FaultInjectingFileOps faulty(plan.fault);
  return plan.fault != Fault::kNone && plan.step == step ? faulty : posix_file_ops();
}

}  // namespace molt::io
