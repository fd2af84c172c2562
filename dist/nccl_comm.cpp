// NcclComm: see nccl_comm.h for the design (own stream, events, sums, timeout, padding).
#include "dist/nccl_comm.h"

#include "dist/fault_injection.h"

#include <cuda_runtime.h>
#include <nccl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace molt::dist {
namespace {

using Clock = std::chrono::steady_clock;

std::string cuda_text(cudaError_t status) {
  return std::string(cudaGetErrorName(status)) + " (" + cudaGetErrorString(status) + ")";
}

class NcclComm;

// One collective in flight: `done` is recorded on the NCCL stream right after it.
class NcclReduction final : public PendingReduction {
 public:
  NcclReduction(NcclComm& comm, cudaEvent_t done) : comm_(comm), done_(done) {}
  ~NcclReduction() override;
  void wait() override;
  bool poll() override;

 private:
  NcclComm& comm_;
  cudaEvent_t done_;
  bool waited_ = false;
};

class NcclComm final : public Comm {
 public:
  NcclComm(std::unique_ptr<Comm> host, kernels::Backend& backend, double timeout_seconds)
      : host_(std::move(host)),
        backend_(backend),
        compute_(static_cast<cudaStream_t>(backend.stream_handle())),
        timeout_seconds_(timeout_seconds) {
    if (compute_ == nullptr) throw std::logic_error("NcclComm needs a device backend");
    ncclUniqueId id{};
    if (host_->rank() == 0) check(ncclGetUniqueId(&id), "ncclGetUniqueId");
    host_->broadcast(&id, sizeof id, 0);
    join(id);
    check_cuda(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "cudaStreamCreate");
  }

  ~NcclComm() override {
    if (stream_ != nullptr) {
      if (comm_ != nullptr && std::uncaught_exceptions() == 0) cudaStreamSynchronize(stream_);
      cudaStreamDestroy(stream_);
    }
    if (comm_ != nullptr) {
      // While an error unwinds a peer may never join an outstanding collective: abort.
      if (std::uncaught_exceptions() == 0) {
        ncclCommDestroy(comm_);
      } else {
        ncclCommAbort(comm_);
      }
    }
    if (!padded_.empty()) backend_.free(padded_);
  }

  int rank() const override { return host_->rank(); }
  int world() const override { return host_->world(); }
  int local_rank() const override { return host_->local_rank(); }
  int local_world() const override { return host_->local_world(); }
  std::string transport() const override { return "nccl"; }

  std::unique_ptr<PendingReduction> start_sum(kernels::Tensor buffer) override {
    float* data = buffer.f32();
    follow_compute();
    check(ncclAllReduce(data, data, buffer.count, ncclFloat, ncclSum, comm_, stream_),
          "ncclAllReduce");
    return std::make_unique<NcclReduction>(*this, record_done());
  }

  std::unique_ptr<PendingReduction> start_sum_to(kernels::Tensor buffer, int root) override {
    float* data = buffer.f32();
    follow_compute();
    check(ncclReduce(data, data, buffer.count, ncclFloat, ncclSum, root, comm_, stream_),
          "ncclReduce");
    return std::make_unique<NcclReduction>(*this, record_done());
  }

  void reduce_scatter_sum(kernels::Tensor full, size_t chunk) override {
    if (chunk == 0) return;
    kernels::Tensor work = equal_blocks(full, chunk);
    if (work.data != full.data) backend_.copy(work.slice(0, full.count), full);
    float* data = work.f32();
    follow_compute();
    check(ncclReduceScatter(data, data + size_t(rank()) * chunk, chunk, ncclFloat, ncclSum, comm_,
                            stream_),
          "ncclReduceScatter");
    NcclReduction(*this, record_done()).wait();
    if (work.data != full.data) {
      const ShardRange mine = own_range(full.count, chunk);
      backend_.copy(full.slice(mine.begin, mine.count), work.slice(mine.begin, mine.count));
    }
  }

  void all_gather(kernels::Tensor full, size_t chunk) override {
    if (chunk == 0) return;
    kernels::Tensor work = equal_blocks(full, chunk);
    if (work.data != full.data) {
      const ShardRange mine = own_range(full.count, chunk);
      backend_.copy(work.slice(mine.begin, mine.count), full.slice(mine.begin, mine.count));
    }
    float* data = work.f32();
    follow_compute();
    check(ncclAllGather(data + size_t(rank()) * chunk, data, chunk, ncclFloat, comm_, stream_),
          "ncclAllGather");
    NcclReduction(*this, record_done()).wait();
    if (work.data != full.data) backend_.copy(full, work.slice(0, full.count));
  }

  void sum(double* values, int count) override { host_->sum(values, count); }
  void max(int64_t* values, int count) override { host_->max(values, count); }
  void broadcast(void* data, size_t bytes, int root) override {
    host_->broadcast(data, bytes, root);
  }
  void barrier() override { host_->barrier(); }
  [[noreturn]] void abort(int exit_code) override {
    if (comm_ != nullptr) ncclCommAbort(comm_);
    comm_ = nullptr;
    host_->abort(exit_code);
    std::abort();  // not reached: the host abort never returns
  }

  // Blocks until `done` has happened; an NCCL error, a CUDA error or the timeout aborts
  // the communicator and throws CommFault.
  void wait_for(cudaEvent_t done) {
    const Clock::time_point start = Clock::now();
    for (int spins = 0;; ++spins) {
      const cudaError_t status = query(done);
      if (status == cudaSuccess) break;
      if (status != cudaErrorNotReady) fail("a CUDA error while waiting: " + cuda_text(status));
      check_async_error();
      const double waited = std::chrono::duration<double>(Clock::now() - start).count();
      if (waited > timeout_seconds_) {
        fail("a collective has not finished after " + std::to_string(int(waited)) +
             " s (dist.timeout_s): a rank has died or stalled");
      }
      // Spin briefly (a bucket usually finishes within microseconds of backward), then
      // sleep so a long wait does not take a core from the data loader.
      if (spins > 1000) std::this_thread::sleep_for(std::chrono::microseconds(100));
    }
    // Ops enqueued after this on the backend's stream see the collective's result.
    check_cuda(cudaStreamWaitEvent(compute_, done, 0), "cudaStreamWaitEvent");
  }

  bool finished(cudaEvent_t done) {
    const cudaError_t status = query(done);
    if (status == cudaSuccess) return true;
    if (status != cudaErrorNotReady) fail("a CUDA error while polling: " + cuda_text(status));
    check_async_error();
    return false;
  }

 private:
  struct ShardRange {
    size_t begin = 0, count = 0;
  };
  ShardRange own_range(size_t count, size_t chunk) const {
    const size_t begin = std::min(count, size_t(rank()) * chunk);
    return {begin, std::min(count, begin + chunk) - begin};
  }

  // `full` itself when it is world·chunk long, else a padded scratch buffer of that size.
  kernels::Tensor equal_blocks(kernels::Tensor full, size_t chunk) {
    const size_t need = size_t(world()) * chunk;
    if (full.count == need) return full;
    if (padded_.count < need) {
      if (!padded_.empty()) backend_.free(padded_);
      padded_ = backend_.allocate(kernels::DType::kF32, need);
    }
    return padded_.slice(0, need);
  }

  // The next collective on stream_ starts after every op enqueued so far on the backend's.
  void follow_compute() {
    cudaEvent_t ready = nullptr;
    check_cuda(cudaEventCreateWithFlags(&ready, cudaEventDisableTiming), "cudaEventCreate");
    check_cuda(cudaEventRecord(ready, compute_), "cudaEventRecord");
    check_cuda(cudaStreamWaitEvent(stream_, ready, 0), "cudaStreamWaitEvent");
    cudaEventDestroy(ready);  // released once the wait is satisfied
  }

  cudaEvent_t record_done() {
    cudaEvent_t done = nullptr;
    check_cuda(cudaEventCreateWithFlags(&done, cudaEventDisableTiming), "cudaEventCreate");
    check_cuda(cudaEventRecord(done, stream_), "cudaEventRecord");
    return done;
  }

  // cudaEventQuery's "not ready" is also left as the thread's last error, which the
  // backend's next launch check (cudaGetLastError) would report as a failure: clear it.
  // ncclCommInitRank returns once every rank has joined. A rank that fails before joining
  // ends the job through MPI_Abort; one that stalls (alive, never joining) would hold the
  // others forever. So the join runs in a helper thread and this waits for it at most
  // dist.timeout_s, then throws CommFault (the job then ends; the helper goes with it).
  // NCCL joins on the calling thread's current device: the helper makes the backend's
  // device current first. MOLT_FAULT_INJECT=nccl_join_stall=1 makes the helper sleep.
  void join(const ncclUniqueId& id) {
    struct Joined {
      ncclComm_t comm = nullptr;
      cudaError_t device = cudaSuccess;
      ncclResult_t result = ncclSuccess;
    };
    int device = 0;
    check_cuda(cudaGetDevice(&device), "cudaGetDevice");
    auto promise = std::make_shared<std::promise<Joined>>();
    std::future<Joined> joined = promise->get_future();
    const int world = host_->world(), rank = host_->rank();
    const bool stall = nccl_join_stalls(rank);
    std::thread([promise, id, world, rank, device, stall] {
      Joined out;
      out.device = cudaSetDevice(device);
      while (stall) std::this_thread::sleep_for(std::chrono::seconds(1));
      if (out.device == cudaSuccess) out.result = ncclCommInitRank(&out.comm, world, id, rank);
      promise->set_value(out);
    }).detach();
    if (joined.wait_for(std::chrono::duration<double>(timeout_seconds_)) !=
        std::future_status::ready) {
      fail("the communicator has not formed after " + std::to_string(int(timeout_seconds_)) +
           " s (dist.timeout_s): a rank has not joined");
    }
    const Joined out = joined.get();
    check_cuda(out.device, "cudaSetDevice (joining)");
    comm_ = out.comm;
    check(out.result, "ncclCommInitRank");
  }

  static cudaError_t query(cudaEvent_t done) {
    const cudaError_t status = cudaEventQuery(done);
    if (status == cudaErrorNotReady) cudaGetLastError();
    return status;
  }

  void check_async_error() {
    ncclResult_t async = ncclSuccess;
    const ncclResult_t status = ncclCommGetAsyncError(comm_, &async);
    if (status != ncclSuccess)
      fail(std::string("ncclCommGetAsyncError: ") + ncclGetErrorString(status));
    if (async != ncclSuccess && async != ncclInProgress) {
      fail(std::string(ncclGetErrorString(async)) + ": " + ncclGetLastError(comm_));
    }
  }

  void check(ncclResult_t status, const char* call) {
    if (status == ncclSuccess) return;
    fail(std::string(call) + " failed: " + ncclGetErrorString(status) + ": " +
         ncclGetLastError(comm_));
  }

  void check_cuda(cudaError_t status, const char* call) {
    if (status != cudaSuccess) fail(std::string(call) + " failed: " + cuda_text(status));
  }

  [[noreturn]] void fail(const std::string& what) {
    if (comm_ != nullptr) ncclCommAbort(comm_);  // frees peers' pending work on this rank
    comm_ = nullptr;
    throw CommFault("rank " + std::to_string(rank()) + ": NCCL: " + what);
  }

  std::unique_ptr<Comm> host_;
  kernels::Backend& backend_;
  cudaStream_t compute_;
  cudaStream_t stream_ = nullptr;
  ncclComm_t comm_ = nullptr;
  double timeout_seconds_;
  kernels::Tensor padded_;  // ZeRO-1 scratch, world·chunk f32, grown on demand
};

NcclReduction::~NcclReduction() {
  // As on the MPI path: while an error unwinds, the collective is abandoned, not awaited.
  if (!waited_ && std::uncaught_exceptions() == 0) {
    try {
      wait();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "molt: error: %s\n", e.what());
    }
  }
  cudaEventDestroy(done_);
}

void NcclReduction::wait() {
  if (waited_) return;
  comm_.wait_for(done_);
  waited_ = true;
}

bool NcclReduction::poll() { return waited_ || comm_.finished(done_); }

}  // namespace

bool every_rank_has_its_own_gpu(Comm& host) {
  constexpr size_t kSlot = 320;  // host name (≤ 255) + '/' + PCI bus id (≤ 64)
  char host_name[256] = {};
  gethostname(host_name, sizeof host_name - 1);
  char bus[64] = {};
  int device = 0;
  bool shared = cudaGetDevice(&device) != cudaSuccess ||
                cudaDeviceGetPCIBusId(bus, sizeof bus, device) != cudaSuccess;
  if (shared) cudaGetLastError();  // unknown: take the safe answer, keep the error clear
  const std::string mine = (std::string(host_name) + "/" + bus).substr(0, kSlot - 1);
  std::vector<char> slot(kSlot);
  for (int r = 0; r < host.world(); ++r) {  // everyone learns every rank's GPU in turn
    std::fill(slot.begin(), slot.end(), '\0');
    if (r == host.rank()) std::copy(mine.begin(), mine.end(), slot.begin());
    host.broadcast(slot.data(), slot.size(), r);
    if (r != host.rank() && mine == slot.data()) shared = true;
  }
  int64_t any_shared = shared ? 1 : 0;
  host.max(&any_shared, 1);  // one answer for all, or some ranks would wait on NCCL forever
  return any_shared == 0;
}

std::unique_ptr<Comm> make_nccl_comm(std::unique_ptr<Comm> host, kernels::Backend& backend,
                                     double timeout_seconds) {
  return std::make_unique<NcclComm>(std::move(host), backend, timeout_seconds);
}

}  // namespace molt::dist
