#include "dist/fault_injection.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>
#include <thread>

#include "kernels/error.h"

namespace molt::dist {
namespace {

struct FaultPlan {
  int64_t fail_at = 0;   // 0 = never
  int64_t stall_at = 0;  // 0 = never
  bool nccl_join_stall = false;
  int rank = 0;
};

FaultPlan parse_plan(const std::string& text) {
  FaultPlan plan;
  std::stringstream items(text);
  std::string item;
  while (std::getline(items, item, ':')) {
    const size_t eq = item.find('=');
    const std::string key = item.substr(0, eq);
    const std::string value = eq == std::string::npos ? "" : item.substr(eq + 1);
    char* end = nullptr;
    const long long number = std::strtoll(value.c_str(), &end, 10);
    const bool numeric = !value.empty() && *end == '\0' && number >= 0;
    if (key == "comm_fail_at" && numeric && number > 0) {
      plan.fail_at = number;
    } else if (key == "comm_stall_at" && numeric && number > 0) {
      plan.stall_at = number;
    } else if (key == "nccl_join_stall" && numeric && number == 1) {
      plan.nccl_join_stall = true;
    } else if (key == "rank" && numeric) {
      plan.rank = static_cast<int>(number);
    } else {
      throw UserError("MOLT_FAULT_INJECT: cannot read '" + item +
                      "' (expected comm_fail_at=N or comm_stall_at=N with N >= 1, "
                      "nccl_join_stall=1, or rank=R)");
    }
  }
  return plan;
}

class FaultInjectingComm final : public Comm {
 public:
  FaultInjectingComm(std::unique_ptr<Comm> inner, const FaultPlan& plan)
      : inner_(std::move(inner)), plan_(plan) {}

  int rank() const override { return inner_->rank(); }
  int world() const override { return inner_->world(); }
  int local_rank() const override { return inner_->local_rank(); }
  int local_world() const override { return inner_->local_world(); }

  std::unique_ptr<PendingReduction> start_sum(kernels::Tensor buffer) override {
    count_reduction();
    return inner_->start_sum(buffer);
  }
  std::unique_ptr<PendingReduction> start_sum_to(kernels::Tensor buffer, int root) override {
    count_reduction();
    return inner_->start_sum_to(buffer, root);
  }
  void reduce_scatter_sum(kernels::Tensor full, size_t chunk) override {
    count_reduction();
    inner_->reduce_scatter_sum(full, chunk);
  }
  void all_gather(kernels::Tensor full, size_t chunk) override { inner_->all_gather(full, chunk); }
  void sum(double* values, int count) override { inner_->sum(values, count); }
  void max(int64_t* values, int count) override { inner_->max(values, count); }
  void broadcast(void* data, size_t bytes, int root) override {
    inner_->broadcast(data, bytes, root);
  }
  void barrier() override { inner_->barrier(); }
  std::string transport() const override { return inner_->transport(); }
  [[noreturn]] void abort(int exit_code) override {
    inner_->abort(exit_code);
    std::abort();  // not reached: the inner abort never returns
  }

 private:
  void count_reduction() {
    ++reductions_;
    if (reductions_ == plan_.fail_at) {
      throw CommFault("rank " + std::to_string(rank()) + ": gradient reduction " +
                      std::to_string(reductions_) +
                      " failed (injected by MOLT_FAULT_INJECT)");
    }
    if (reductions_ == plan_.stall_at) {  // alive but never joining, until the job is ended
      std::fprintf(stderr, "molt: rank %d stalls at gradient reduction %lld (injected by "
                   "MOLT_FAULT_INJECT)\n", rank(), static_cast<long long>(reductions_));
      for (;;) std::this_thread::sleep_for(std::chrono::seconds(1));
    }
  }

  std::unique_ptr<Comm> inner_;
  FaultPlan plan_;
  int64_t reductions_ = 0;
};

}  // namespace

bool nccl_join_stalls(int rank) {
  const char* text = std::getenv("MOLT_FAULT_INJECT");
  if (text == nullptr || *text == '\0') return false;
  const FaultPlan plan = parse_plan(text);
  return plan.nccl_join_stall && plan.rank == rank;
}

std::unique_ptr<Comm> with_fault_injection(std::unique_ptr<Comm> comm) {
  const char* text = std::getenv("MOLT_FAULT_INJECT");
  if (text == nullptr || *text == '\0') return comm;
  const FaultPlan plan = parse_plan(text);
  if ((plan.fail_at == 0 && plan.stall_at == 0) || plan.rank != comm->rank()) return comm;
  return std::make_unique<FaultInjectingComm>(std::move(comm), plan);
}

}  // namespace molt::dist
