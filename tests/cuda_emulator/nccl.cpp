// NCCL for the CUDA emulator, one rank per communicator (include/nccl.h). With one rank,
// every reduction's result is its input; what is left to check is the call itself.
#include "tests/cuda_emulator/include/nccl.h"

#include <cstring>
#include <string>

#include "tests/cuda_emulator/emulator.h"

struct ncclComm {
  std::string last_error;
};

namespace {

ncclResult_t misuse(ncclComm_t comm, const std::string& what) {
  molt_emu::report(ncclInvalidUsage, "NCCL: " + what);
  if (comm != nullptr) comm->last_error = what;
  return ncclInvalidUsage;
}

// recv ← send (count floats), after checking both lie in device memory.
ncclResult_t one_rank_copy(const void* send, void* recv, size_t count, ncclDataType_t type,
                           ncclComm_t comm, const char* call) {
  if (comm == nullptr) return misuse(nullptr, std::string(call) + ": no communicator");
  if (type != ncclFloat) return misuse(comm, std::string(call) + ": the emulator sums floats only");
  const size_t bytes = count * sizeof(float);
  if (count > 0 &&
      (!molt_emu::is_device_range(send, bytes) || !molt_emu::is_device_range(recv, bytes))) {
    return misuse(comm, std::string(call) + ": a buffer outside device memory");
  }
  if (send != recv && count > 0) std::memmove(recv, send, bytes);
  return ncclSuccess;
}

}  // namespace

const char* ncclGetErrorString(ncclResult_t result) {
  switch (result) {
    case ncclSuccess:
      return "no error";
    case ncclInvalidUsage:
      return "invalid usage (see the CUDA emulator's message)";
    case ncclInvalidArgument:
      return "invalid argument";
    case ncclInProgress:
      return "NCCL operation in progress";
    default:
      return "unhandled error";
  }
}
const char* ncclGetLastError(ncclComm_t comm) {
  return comm != nullptr ? comm->last_error.c_str() : "";
}

ncclResult_t ncclGetUniqueId(ncclUniqueId* id) {
  std::memset(id->internal, 0, sizeof id->internal);
  std::strcpy(id->internal, "molt CUDA emulator");
  return ncclSuccess;
}

ncclResult_t ncclCommInitRank(ncclComm_t* comm, int nranks, ncclUniqueId id, int rank) {
  if (std::strcmp(id.internal, "molt CUDA emulator") != 0)
    return misuse(nullptr, "ncclCommInitRank: an id ncclGetUniqueId did not make");
  if (nranks != 1 || rank != 0)
    return misuse(nullptr, "ncclCommInitRank: the CUDA emulator's NCCL has one rank, not " +
                               std::to_string(nranks));
  *comm = new ncclComm;
  return ncclSuccess;
}
ncclResult_t ncclCommDestroy(ncclComm_t comm) {
  delete comm;
  return ncclSuccess;
}
ncclResult_t ncclCommAbort(ncclComm_t comm) { return ncclCommDestroy(comm); }
ncclResult_t ncclCommGetAsyncError(ncclComm_t comm, ncclResult_t* async_error) {
  if (comm == nullptr) return ncclInvalidArgument;
  *async_error = ncclSuccess;
  return ncclSuccess;
}

ncclResult_t ncclAllReduce(const void* send, void* recv, size_t count, ncclDataType_t type,
                           ncclRedOp_t op, ncclComm_t comm, cudaStream_t stream) {
  static_cast<void>(op), static_cast<void>(stream);
  return one_rank_copy(send, recv, count, type, comm, "ncclAllReduce");
}
ncclResult_t ncclReduce(const void* send, void* recv, size_t count, ncclDataType_t type,
                        ncclRedOp_t op, int root, ncclComm_t comm, cudaStream_t stream) {
  static_cast<void>(op), static_cast<void>(stream);
  if (root != 0) return misuse(comm, "ncclReduce: root " + std::to_string(root) + " of one rank");
  return one_rank_copy(send, recv, count, type, comm, "ncclReduce");
}
ncclResult_t ncclReduceScatter(const void* send, void* recv, size_t recv_count, ncclDataType_t type,
                               ncclRedOp_t op, ncclComm_t comm, cudaStream_t stream) {
  static_cast<void>(op), static_cast<void>(stream);
  return one_rank_copy(send, recv, recv_count, type, comm, "ncclReduceScatter");
}
ncclResult_t ncclAllGather(const void* send, void* recv, size_t send_count, ncclDataType_t type,
                           ncclComm_t comm, cudaStream_t stream) {
  static_cast<void>(stream);
  return one_rank_copy(send, recv, send_count, type, comm, "ncclAllGather");
}
