// The MPI process group: bootstrap, local rank, host-buffer collectives.
//
// CPU buffers are reduced in place by MPI directly. Device buffers (the CUDA backend) are
// staged through a host copy, which is slow but lets several ranks share one GPU in tests;
// real GPU jobs reduce gradients with NCCL instead.
#include <mpi.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <vector>

#include "dist/comm.h"
#include "dist/fault_injection.h"

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

class MpiReduction final : public PendingReduction {
 public:
  // root < 0: every rank receives the sum (Iallreduce); else only `root` does (Ireduce).
  MpiReduction(kernels::Backend& backend, kernels::Tensor buffer, bool staged, int root, int rank)
      : backend_(backend), buffer_(buffer), staged_(staged) {
    float* data = buffer.f32();
    if (staged_) {
      host_.resize(buffer.count);
      backend_.download(host_.data(), buffer);
      data = host_.data();
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
    check(MPI_Wait(&request_, MPI_STATUS_IGNORE), "Wait");
    if (staged_ && !uploaded_) backend_.upload(buffer_, host_.data());
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
  std::vector<float> host_;
  bool uploaded_ = false;
  MPI_Request request_ = MPI_REQUEST_NULL;
};

class MpiComm final : public Comm {
 public:
  explicit MpiComm(kernels::Backend& backend) : backend_(backend) {
    int initialized = 0;
    MPI_Initialized(&initialized);
    if (!initialized) {
      int provided = 0;
      MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided);
      std::atexit([] {
        int finalized = 0;
        MPI_Finalized(&finalized);
        if (!finalized) MPI_Finalize();
      });
    }
    // Errors come back as codes, and check() turns them into one message and an abort.
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &world_);
    MPI_Comm node;
    MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &node);
    MPI_Comm_rank(node, &local_rank_);
    MPI_Comm_size(node, &local_world_);
    MPI_Comm_free(&node);
    staged_ = backend_.name() != "cpu";
  }

  int rank() const override { return rank_; }
  int world() const override { return world_; }
  int local_rank() const override { return local_rank_; }
  int local_world() const override { return local_world_; }

  std::unique_ptr<PendingReduction> start_sum(kernels::Tensor buffer) override {
    return std::make_unique<MpiReduction>(backend_, buffer, staged_, -1, rank_);
  }
  std::unique_ptr<PendingReduction> start_sum_to(kernels::Tensor buffer, int root) override {
    return std::make_unique<MpiReduction>(backend_, buffer, staged_, root, rank_);
  }

  void reduce_scatter_sum(kernels::Tensor full, size_t chunk) override {
    std::vector<float> staging;
    float* data = host_view(full, staging);
    std::vector<int> counts, offsets;
    chunk_counts(full.count, chunk, counts, offsets);
    std::vector<float> mine(size_t(counts[size_t(rank_)]));
    check(MPI_Reduce_scatter(data, mine.data(), counts.data(), MPI_FLOAT, MPI_SUM,
                             MPI_COMM_WORLD),
          "Reduce_scatter");
    std::copy(mine.begin(), mine.end(), data + offsets[size_t(rank_)]);
    if (staged_) backend_.upload(full, staging.data());
  }

  void all_gather(kernels::Tensor full, size_t chunk) override {
    std::vector<float> staging;
    float* data = host_view(full, staging);
    std::vector<int> counts, offsets;
    chunk_counts(full.count, chunk, counts, offsets);
    check(MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, data, counts.data(), offsets.data(),
                         MPI_FLOAT, MPI_COMM_WORLD),
          "Allgatherv");
    if (staged_) backend_.upload(full, staging.data());
  }

  void sum(double* values, int count) override {
    check(MPI_Allreduce(MPI_IN_PLACE, values, count, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD),
          "Allreduce");
  }
  void max(int64_t* values, int count) override {
    check(MPI_Allreduce(MPI_IN_PLACE, values, count, MPI_INT64_T, MPI_MAX, MPI_COMM_WORLD),
          "Allreduce");
  }
  void broadcast(void* data, size_t bytes, int root) override {
    check(MPI_Bcast(data, static_cast<int>(bytes), MPI_BYTE, root, MPI_COMM_WORLD), "Bcast");
  }
  void barrier() override { check(MPI_Barrier(MPI_COMM_WORLD), "Barrier"); }

  [[noreturn]] void abort(int exit_code) override {
    std::fflush(stdout);
    std::fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, exit_code);
    std::_Exit(exit_code);
  }

 private:
  // A host pointer to `full`: the buffer itself on the CPU, else a downloaded copy.
  float* host_view(kernels::Tensor full, std::vector<float>& staging) {
    if (!staged_) return full.f32();
    staging.resize(full.count);
    backend_.download(staging.data(), full);
    return staging.data();
  }

  // Rank r's part of a buffer of `count` cut into chunks of `chunk` (the last ones short).
  void chunk_counts(size_t count, size_t chunk, std::vector<int>& counts,
                    std::vector<int>& offsets) const {
    for (int r = 0; r < world_; ++r) {
      size_t begin = std::min(count, size_t(r) * chunk);
      size_t end = std::min(count, begin + chunk);
      offsets.push_back(static_cast<int>(begin));
      counts.push_back(static_cast<int>(end - begin));
    }
  }

  kernels::Backend& backend_;
  int rank_ = 0, world_ = 1, local_rank_ = 0, local_world_ = 1;
  bool staged_ = false;
};

}  // namespace

std::unique_ptr<Comm> make_world_comm(kernels::Backend& backend) {
  return with_fault_injection(std::make_unique<MpiComm>(backend));
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
