// The process group with device buffers, in a group of one (ctest runs this binary
// without mpirun): the NCCL communicator and the MPI path staged through pinned host memory
// must leave a sum over one rank equal to the buffer, keep ZeRO-1's cutting (padded blocks
// inside NCCL) and order themselves after the backend's stream. Two ranks on one GPU
// over MPI are tested end to end by tests/jobs/cuda_train_test.sh. Built only with nvcc;
// without a GPU every test skips with the reason, and the NCCL ones skip in a build
// without NCCL.
#include <gtest/gtest.h>

#include <memory>
#include <numeric>
#include <ostream>
#include <string>
#include <vector>

#include "dist/comm.h"
#include "dist/nccl_comm.h"
#include "kernels/backend.h"
#include "kernels/device_info.h"
#include "kernels/error.h"

namespace molt::dist {

const char* transport_name(CommBackend backend) {
  return backend == CommBackend::kNccl ? "nccl" : "mpi_staged";
}
// Test names and ctest listings show the transport, not the enum's bytes.
void PrintTo(CommBackend backend, std::ostream* os) { *os << transport_name(backend); }

namespace {

using kernels::DType;
using kernels::Tensor;

class CudaCommTest : public ::testing::TestWithParam<CommBackend> {
 protected:
  void SetUp() override {
    if (kernels::cuda_device_count() == 0) {
      GTEST_SKIP() << "no CUDA device (" << kernels::build_description() << ")";
    }
    if (GetParam() == CommBackend::kNccl && !nccl_available()) {
      GTEST_SKIP() << "this build has no NCCL";
    }
    backend_ = kernels::make_cuda_backend(0, DType::kF32);
    CommOptions options;
    options.backend = GetParam();
    options.timeout_seconds = 60;
    comm_ = make_world_comm(*backend_, options);
  }
  void TearDown() override {
    for (Tensor t : owned_) backend_->free(t);
    comm_.reset();
  }

  // 0, 1, 2, ... on the device; written by a backend op right before use, so a collective
  // that does not wait for the backend's stream reads stale data.
  Tensor iota(size_t n) {
    std::vector<float> host(n, -1.0f);
    Tensor t = backend_->allocate(DType::kF32, n);
    owned_.push_back(t);
    backend_->upload(t, host.data());
    std::iota(host.begin(), host.end(), 0.0f);
    Tensor staged = backend_->allocate(DType::kF32, n);
    owned_.push_back(staged);
    backend_->upload(staged, host.data());
    backend_->fill(t, 0.0f);  // enqueued, not yet run, when the collective starts
    backend_->accumulate(t, staged);
    return t;
  }
  std::vector<float> host(Tensor t) {
    std::vector<float> h(t.count);
    backend_->download(h.data(), t);
    return h;
  }
  static std::vector<float> iota_host(size_t n) {
    std::vector<float> h(n);
    std::iota(h.begin(), h.end(), 0.0f);
    return h;
  }

  std::unique_ptr<kernels::Backend> backend_;
  std::unique_ptr<Comm> comm_;
  std::vector<Tensor> owned_;
};

TEST_P(CudaCommTest, ChoosesTheTransportAskedFor) {
  EXPECT_EQ(comm_->world(), 1);
  EXPECT_EQ(comm_->transport(),
            GetParam() == CommBackend::kNccl ? "nccl" : "mpi, staged through host memory");
}

TEST_P(CudaCommTest, SumOverOneRankLeavesTheBufferAfterTheBackendsOps) {
  Tensor t = iota(1 << 20);
  auto pending = comm_->start_sum(t.slice(1000, 5000));
  pending->poll();
  pending->wait();
  EXPECT_EQ(host(t), iota_host(1 << 20));

  Tensor u = iota(777);
  comm_->start_sum_to(u, 0)->wait();
  EXPECT_EQ(host(u), iota_host(777));
}

TEST_P(CudaCommTest, ReduceScatterAndAllGatherKeepUnevenChunks) {
  // Chunk 10 fills the one rank's block exactly; chunk 16 leaves the block short, as the
  // last ranks' blocks are when world does not divide the count (shard_layout.h), so NCCL
  // works on a padded copy inside the Comm.
  for (size_t chunk : {size_t(10), size_t(16)}) {
    Tensor t = iota(10);
    comm_->reduce_scatter_sum(t, chunk);
    EXPECT_EQ(host(t), iota_host(10)) << "chunk " << chunk;
    Tensor u = iota(10);
    comm_->all_gather(u, chunk);
    EXPECT_EQ(host(u), iota_host(10)) << "chunk " << chunk;
  }
}

TEST_P(CudaCommTest, HostScalarsStillWork) {
  double values[2] = {1.5, -2.0};
  comm_->sum(values, 2);
  EXPECT_EQ(values[0], 1.5);
  int64_t flag = 3;
  comm_->max(&flag, 1);
  EXPECT_EQ(flag, 3);
  comm_->barrier();
}

INSTANTIATE_TEST_SUITE_P(Transports, CudaCommTest,
                         ::testing::Values(CommBackend::kNccl, CommBackend::kMpi),
                         [](const testing::TestParamInfo<CommBackend>& info) {
                           return std::string(transport_name(info.param));
                         });

TEST(CudaCommChoice, NcclOnTheCpuBackendIsAUserError) {
  auto cpu = kernels::make_cpu_backend();
  CommOptions options;
  options.backend = CommBackend::kNccl;
  EXPECT_THROW(make_world_comm(*cpu, options), UserError);
}

}  // namespace

}  // namespace molt::dist
