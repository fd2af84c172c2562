// The MPI process group: bootstrap, local rank, host-buffer collectives, and the choice
// between MPI and NCCL for device buffers (make_world_comm).
//
// CPU buffers are reduced in place by MPI directly. Device buffers (the CUDA backend) are
// staged through a pinned host copy: download (which waits for the backend's stream, so
// the gradients are final), MPI on the host, upload. That is slow, but it lets several
// ranks share one GPU in tests, which NCCL refuses; jobs with a GPU per rank use NCCL
// (nccl_comm.h).
#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <thread>
#include <vector>

#include "dist/comm.h"
#include "dist/fault_injection.h"
#include "dist/nccl_comm.h"
#include "kernels/device_info.h"
#include "kernels/error.h"

namespace molt::dist {
namespace {

void check(int code, const char* what) {
  if (code != MPI_SUCCESS) {
    char text[MPI_MAX_ERROR_STRING];
    int length = 0;
    MPI_Error_string(code, text, &length);
    std::fprintf(stderr, "molt: error: MPI %s failed: %s\n", what, text);
    MPI_Abort(MPI_COMM_WORLD, 1);
  }
}

// Waits for `request` by polling rather than MPI_Wait, so that a peer that never joins the
// collective (stalled, not dead: mpirun already ends a job whose rank dies) ends the job
// after `timeout_seconds` with a message instead of holding every rank forever. Polls fast
// at first (a bucket usually completes within microseconds of backward), then sleeps
// between polls so a long wait leaves the core to the data loader.
void wait_for(MPI_Request& request, const char* what, double timeout_seconds, int rank) {
  const auto start = std::chrono::steady_clock::now();
  for (int polls = 0;; ++polls) {
    int done = 0;
    check(MPI_Test(&request, &done, MPI_STATUS_IGNORE), what);
    if (done) return;
    const double waited =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (timeout_seconds > 0 && waited > timeout_seconds) {
      throw CommFault("rank " + std::to_string(rank) + ": MPI " + what + " has not finished after " +
                      std::to_string(int(waited)) +
                      " s (dist.timeout_s): a rank has died or stalled");
    }
    if (polls > 1000) std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
}

// Page-locked host memory for staging a device buffer (plain heap on the CPU backend).
class HostStaging {
 public:
  HostStaging(kernels::Backend& backend, size_t count)
      : backend_(backend),
        data_(static_cast<float*>(backend.allocate_host(count * sizeof(float)))) {}
  ~HostStaging() { backend_.free_host(data_); }
  HostStaging(const HostStaging&) = delete;
  HostStaging& operator=(const HostStaging&) = delete;
  float* data() const { return data_; }

 private:
  kernels::Backend& backend_;
  float* data_;
};

void initialize_mpi_once() {
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (initialized) return;
  int provided = 0;
  MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided);
  std::atexit([] {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized) MPI_Finalize();
  });
}

class MpiReduction final : public PendingReduction {
 public:
  // root < 0: every rank receives the sum (Iallreduce); else only `root` does (Ireduce).
  MpiReduction(kernels::Backend& backend, kernels::Tensor buffer, bool staged, int root, int rank,
               double timeout_seconds)
      : backend_(backend),
        buffer_(buffer),
        staged_(staged),
        rank_(rank),
        timeout_seconds_(timeout_seconds) {
    float* data = buffer.f32();
    if (staged_) {
      host_ = std::make_unique<HostStaging>(backend_, buffer.count);
      backend_.download(host_->data(), buffer);
      data = host_->data();
    }
    const int count = static_cast<int>(buffer.count);
    if (root < 0) {
      check(MPI_Iallreduce(MPI_IN_PLACE, data, count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD,
                           &request_),
            "Iallreduce");
    } else if (root == rank) {
      check(MPI_Ireduce(MPI_IN_PLACE, data, count, MPI_FLOAT, MPI_SUM, root, MPI_COMM_WORLD,
                        &request_),
            "Ireduce");
    } else {
      check(MPI_Ireduce(data, nullptr, count, MPI_FLOAT, MPI_SUM, root, MPI_COMM_WORLD,
                        &request_),
            "Ireduce");
    }
  }
  ~MpiReduction() override {
    // While an error unwinds, the other ranks may never join this collective: waiting would
    // hang the failing rank before it can abort the job, so the request is abandoned.
    if (request_ != MPI_REQUEST_NULL && std::uncaught_exceptions() == 0) {
      MPI_Wait(&request_, MPI_STATUS_IGNORE);
    }
  }
  void wait() override {
    wait_for(request_, "gradient sum", timeout_seconds_, rank_);
    if (staged_ && !uploaded_) backend_.upload(buffer_, host_->data());
    uploaded_ = true;
  }
  bool poll() override {
    if (request_ == MPI_REQUEST_NULL) return true;
    int done = 0;
    check(MPI_Test(&request_, &done, MPI_STATUS_IGNORE), "Test");
    return done != 0;
  }

 private:
  kernels::Backend& backend_;
  kernels::Tensor buffer_;
  bool staged_;
  std::unique_ptr<HostStaging> host_;
  int rank_;
  double timeout_seconds_;
  bool uploaded_ = false;
  MPI_Request request_ = MPI_REQUEST_NULL;
};

class MpiComm final : public Comm {
 public:
  MpiComm(kernels::Backend& backend, double timeout_seconds)
      : backend_(backend),
        placement_(join_world()),
        staged_(backend.stream_handle() != nullptr),
        timeout_seconds_(timeout_seconds) {
    // Errors come back as codes, and check() turns them into one message and an abort.
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  }

  int rank() const override { return placement_.rank; }
  int world() const override { return placement_.world; }
  int local_rank() const override { return placement_.local_rank; }
  int local_world() const override { return placement_.local_world; }
  std::string transport() const override {
    return staged_ ? "mpi, staged through host memory" : "mpi";
  }

  std::unique_ptr<PendingReduction> start_sum(kernels::Tensor buffer) override {
    return std::make_unique<MpiReduction>(backend_, buffer, staged_, -1, rank(),
                                          timeout_seconds_);
  }
  std::unique_ptr<PendingReduction> start_sum_to(kernels::Tensor buffer, int root) override {
    return std::make_unique<MpiReduction>(backend_, buffer, staged_, root, rank(),
                                          timeout_seconds_);
  }

  void reduce_scatter_sum(kernels::Tensor full, size_t chunk) override {
    std::unique_ptr<HostStaging> staging;
    float* data = host_view(full, staging);
    std::vector<int> counts, offsets;
    chunk_counts(full.count, chunk, counts, offsets);
    const auto me = size_t(rank());
    std::vector<float> mine(static_cast<size_t>(counts[me]));
    MPI_Request request = MPI_REQUEST_NULL;
    check(MPI_Ireduce_scatter(data, mine.data(), counts.data(), MPI_FLOAT, MPI_SUM,
                              MPI_COMM_WORLD, &request),
          "Ireduce_scatter");
    wait(request, "Ireduce_scatter");
    std::copy(mine.begin(), mine.end(), data + offsets[me]);
    if (staged_) backend_.upload(full, staging->data());
  }

  void all_gather(kernels::Tensor full, size_t chunk) override {
    std::unique_ptr<HostStaging> staging;
    float* data = host_view(full, staging);
    std::vector<int> counts, offsets;
    chunk_counts(full.count, chunk, counts, offsets);
    MPI_Request request = MPI_REQUEST_NULL;
    check(MPI_Iallgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, data, counts.data(),
                          offsets.data(), MPI_FLOAT, MPI_COMM_WORLD, &request),
          "Iallgatherv");
    wait(request, "Iallgatherv");
    if (staged_) backend_.upload(full, staging->data());
  }

  // The host collectives are non-blocking ones waited on with the timeout too: they are
  // where ranks meet between steps (the loss sum, the stop flag, checkpoint barriers).
  void sum(double* values, int count) override {
    all_reduce_in_place(values, count, MPI_DOUBLE, MPI_SUM);
  }
  void max(int64_t* values, int count) override {
    all_reduce_in_place(values, count, MPI_INT64_T, MPI_MAX);
  }
  void broadcast(void* data, size_t bytes, int root) override {
    MPI_Request request = MPI_REQUEST_NULL;
    check(MPI_Ibcast(data, static_cast<int>(bytes), MPI_BYTE, root, MPI_COMM_WORLD, &request),
          "Ibcast");
    wait(request, "Ibcast");
  }
  void barrier() override {
    MPI_Request request = MPI_REQUEST_NULL;
    check(MPI_Ibarrier(MPI_COMM_WORLD, &request), "Ibarrier");
    wait(request, "Ibarrier");
  }

  [[noreturn]] void abort(int exit_code) override {
    std::fflush(stdout);
    std::fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, exit_code);
    std::_Exit(exit_code);
  }

 private:
  void wait(MPI_Request& request, const char* what) {
    wait_for(request, what, timeout_seconds_, rank());
  }

  void all_reduce_in_place(void* values, int count, MPI_Datatype type, MPI_Op op) {
    MPI_Request request = MPI_REQUEST_NULL;
    check(MPI_Iallreduce(MPI_IN_PLACE, values, count, type, op, MPI_COMM_WORLD, &request),
          "Iallreduce");
    wait(request, "Iallreduce");
  }

  // A host pointer to `full`: the buffer itself on the CPU, else a downloaded copy.
  float* host_view(kernels::Tensor full, std::unique_ptr<HostStaging>& staging) {
    if (!staged_) return full.f32();
    staging = std::make_unique<HostStaging>(backend_, full.count);
    backend_.download(staging->data(), full);
    return staging->data();
  }

  // Rank r's part of a buffer of `count` cut into chunks of `chunk` (the last ones short).
  void chunk_counts(size_t count, size_t chunk, std::vector<int>& counts,
                    std::vector<int>& offsets) const {
    for (int r = 0; r < world(); ++r) {
      size_t begin = std::min(count, size_t(r) * chunk);
      size_t end = std::min(count, begin + chunk);
      offsets.push_back(static_cast<int>(begin));
      counts.push_back(static_cast<int>(end - begin));
    }
  }

  kernels::Backend& backend_;
  Placement placement_;
  bool staged_ = false;
  double timeout_seconds_;
};

}  // namespace

Placement join_world() {
  initialize_mpi_once();
  Placement placement;
  MPI_Comm_rank(MPI_COMM_WORLD, &placement.rank);
  MPI_Comm_size(MPI_COMM_WORLD, &placement.world);
  MPI_Comm node;
  MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, placement.rank, MPI_INFO_NULL, &node);
  MPI_Comm_rank(node, &placement.local_rank);
  MPI_Comm_size(node, &placement.local_world);
  MPI_Comm_free(&node);
  return placement;
}

std::unique_ptr<Comm> make_world_comm(kernels::Backend& backend, const CommOptions& options) {
  const bool device_buffers = backend.stream_handle() != nullptr;
  if (!device_buffers && options.backend == CommBackend::kNccl) {
    throw UserError("dist.backend = \"nccl\" needs run.device = \"cuda\" (NCCL sums GPU "
                    "buffers; CPU buffers go through MPI)");
  }
  auto mpi = std::make_unique<MpiComm>(backend, options.timeout_seconds);
  if (!device_buffers) return with_fault_injection(std::move(mpi));
  if (options.backend == CommBackend::kMpi) return with_fault_injection(std::move(mpi));
  // NCCL refuses two ranks on one device.
  const int devices = kernels::cuda_device_count();
  const bool own_device = every_rank_has_its_own_gpu(*mpi);
  if (nccl_available() && own_device) {
    return with_fault_injection(make_nccl_comm(std::move(mpi), backend, options.timeout_seconds));
  }
  if (options.backend == CommBackend::kNccl) {
    if (!nccl_available()) {
      throw UserError("dist.backend = \"nccl\": this build of molt has no NCCL (nccl.h or "
                      "libnccl was not found when it was configured); use dist.backend = "
                      "\"mpi\" or \"auto\"");
    }
    throw UserError("dist.backend = \"nccl\": ranks share a GPU (" +
                    std::to_string(mpi->local_world()) + " ranks on this node, " +
                    std::to_string(devices) +
                    " visible GPU(s)), and NCCL needs a GPU per rank; use dist.backend = "
                    "\"mpi\" (or \"auto\") to share GPUs, or start fewer ranks per node");
  }
  return with_fault_injection(std::move(mpi));
}

void abort_job_if_distributed(int exit_code) {
  int initialized = 0, finalized = 0;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  if (!initialized || finalized) return;
  int world = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &world);
  if (world > 1) {
    std::fflush(stdout);
    std::fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, exit_code);
  }
}

void abort_job_if_distributed(int exit_code, const std::string& message) {
  int initialized = 0, finalized = 0, world = 1;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  if (!initialized || finalized) return;
  MPI_Comm_size(MPI_COMM_WORLD, &world);
  if (world == 1) return;
  std::fprintf(stderr, "%s\n", message.c_str());
  abort_job_if_distributed(exit_code);
}

}  // namespace molt::dist
