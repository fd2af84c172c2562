// The part of the CUDA runtime that molt's CUDA backend uses, for the emulator
// (../emulator.h). Forced into every emulated source (-include), as nvcc forces the real
// one. Functions have C++ linkage, so they never meet libcudart's C symbols at link time.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>

#include "tests/cuda_emulator/emulator.h"

// ---- CUDA C++ keywords -------------------------------------------------------------------
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __align__(n) __attribute__((aligned(n)))
// Static locals are shared by the fibers of a block; blocks run one after another.
#define __shared__ static

#define threadIdx (::molt_emu::position().thread_idx)
#define blockIdx (::molt_emu::position().block_idx)
#define blockDim (::molt_emu::position().block_dim)
#define gridDim (::molt_emu::position().grid_dim)
constexpr int warpSize = 32;

#define __syncthreads() ::molt_emu::sync_block(::molt_emu::Site{__FILE__, __LINE__})
#define __syncwarp(...)                                             \
  ::molt_emu::sync_warp(::molt_emu::warp_mask_or_full(__VA_ARGS__), \
                        ::molt_emu::Site{__FILE__, __LINE__})
#define __shfl_sync(mask, value, lane, ...)                                            \
  ::molt_emu::shuffle_indexed(mask, value, lane, ::molt_emu::Site{__FILE__, __LINE__}, \
                              ##__VA_ARGS__)
#define __shfl_xor_sync(mask, value, lane_mask, ...)                                    \
  ::molt_emu::shuffle_xor(mask, value, lane_mask, ::molt_emu::Site{__FILE__, __LINE__}, \
                          ##__VA_ARGS__)
#define __trap() ::molt_emu::fault("__trap()")

namespace molt_emu {
inline unsigned warp_mask_or_full() { return 0xffffffffu; }
inline unsigned warp_mask_or_full(unsigned mask) { return mask; }

template <typename T>
T shuffle_indexed(unsigned mask, T value, int lane, Site site, int width = 32) {
  const int base = lane_id() & ~(width - 1);
  return shuffle(mask, value, base + (lane % width), site);
}
template <typename T>
T shuffle_xor(unsigned mask, T value, int lane_mask, Site site, int width = 32) {
  const int source = lane_id() ^ lane_mask;
  // Outside the caller's group of `width` lanes a lane reads its own value.
  const bool inside = (source & ~(width - 1)) == (lane_id() & ~(width - 1));
  return shuffle(mask, value, inside ? source : lane_id(), site);
}
}  // namespace molt_emu

// ---- device math -------------------------------------------------------------------------
inline float __expf(float x) { return std::exp(x); }
inline float __logf(float x) { return std::log(x); }
inline float __fdividef(float a, float b) { return a / b; }
inline float rsqrtf(float x) { return 1.0f / std::sqrt(x); }
inline float __frcp_rn(float x) { return 1.0f / x; }
// CUDA's device min and max overloads.
#define MOLT_EMU_MIN_MAX(T)                        \
  inline T min(T a, T b) { return b < a ? b : a; } \
  inline T max(T a, T b) { return a < b ? b : a; }
MOLT_EMU_MIN_MAX(int)
MOLT_EMU_MIN_MAX(unsigned)
MOLT_EMU_MIN_MAX(long)
MOLT_EMU_MIN_MAX(unsigned long)
MOLT_EMU_MIN_MAX(long long)
MOLT_EMU_MIN_MAX(unsigned long long)
MOLT_EMU_MIN_MAX(float)
MOLT_EMU_MIN_MAX(double)
#undef MOLT_EMU_MIN_MAX

// ---- vector types --------------------------------------------------------------------------
struct alignas(16) uint4 {
  unsigned x, y, z, w;
};
inline uint4 make_uint4(unsigned x, unsigned y, unsigned z, unsigned w) { return {x, y, z, w}; }
struct alignas(16) float4 {
  float x, y, z, w;
};
inline float4 make_float4(float x, float y, float z, float w) { return {x, y, z, w}; }

// ---- runtime API ---------------------------------------------------------------------------
enum cudaError_t {
  cudaSuccess = 0,
  cudaErrorNotReady = 600,
  cudaErrorInvalidValue = 1,
  cudaErrorMemoryAllocation = 2,
  cudaErrorInvalidConfiguration = 9,
  cudaErrorInvalidDevicePointer = 17,
  cudaErrorInvalidMemcpyDirection = 21,
  cudaErrorInvalidDevice = 101,
  cudaErrorLaunchFailure = 719,
};
typedef cudaError_t cudaError;

enum cudaMemcpyKind {
  cudaMemcpyHostToHost = 0,
  cudaMemcpyHostToDevice = 1,
  cudaMemcpyDeviceToHost = 2,
  cudaMemcpyDeviceToDevice = 3,
  cudaMemcpyDefault = 4,
};

enum cudaFuncAttribute {
  cudaFuncAttributeMaxDynamicSharedMemorySize = 8,
};

constexpr unsigned cudaStreamDefault = 0, cudaStreamNonBlocking = 1;
constexpr unsigned cudaEventDefault = 0, cudaEventDisableTiming = 2;
constexpr unsigned cudaHostAllocDefault = 0, cudaHostAllocPortable = 1, cudaHostAllocMapped = 2;

struct cudaDeviceProp {
  char name[256];
  size_t totalGlobalMem;
  size_t sharedMemPerBlock;
  size_t sharedMemPerBlockOptin;
  size_t sharedMemPerMultiprocessor;
  int multiProcessorCount;
  int maxThreadsPerBlock;
  int warpSize;
  int major, minor;
};

const char* cudaGetErrorName(cudaError_t error);
const char* cudaGetErrorString(cudaError_t error);
cudaError_t cudaGetLastError();
cudaError_t cudaPeekAtLastError();
cudaError_t cudaGetDeviceCount(int* count);
cudaError_t cudaSetDevice(int device);
cudaError_t cudaGetDevice(int* device);
cudaError_t cudaGetDeviceProperties(cudaDeviceProp* properties, int device);
cudaError_t cudaRuntimeGetVersion(int* version);
cudaError_t cudaDriverGetVersion(int* version);
cudaError_t cudaMemGetInfo(size_t* free, size_t* total);
cudaError_t cudaDeviceSynchronize();

cudaError_t cudaMalloc(void** pointer, size_t bytes);
template <typename T>
cudaError_t cudaMalloc(T** pointer, size_t bytes) {
  return cudaMalloc(reinterpret_cast<void**>(pointer), bytes);
}
cudaError_t cudaFree(void* pointer);
cudaError_t cudaHostAlloc(void** pointer, size_t bytes, unsigned flags);
cudaError_t cudaMallocHost(void** pointer, size_t bytes);
cudaError_t cudaFreeHost(void* pointer);
cudaError_t cudaHostGetDevicePointer(void** device, void* host, unsigned flags);

cudaError_t cudaMemcpy(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind);
cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind,
                            cudaStream_t stream = nullptr);
cudaError_t cudaMemset(void* dst, int value, size_t bytes);
cudaError_t cudaMemsetAsync(void* dst, int value, size_t bytes, cudaStream_t stream = nullptr);

cudaError_t cudaStreamCreate(cudaStream_t* stream);
cudaError_t cudaStreamCreateWithFlags(cudaStream_t* stream, unsigned flags);
cudaError_t cudaStreamDestroy(cudaStream_t stream);
cudaError_t cudaStreamSynchronize(cudaStream_t stream);

cudaError_t cudaFuncSetAttribute(const void* kernel, cudaFuncAttribute attribute, int value);
template <typename... Params>
cudaError_t cudaFuncSetAttribute(void (*kernel)(Params...), cudaFuncAttribute attribute,
                                 int value) {
  return cudaFuncSetAttribute(reinterpret_cast<const void*>(kernel), attribute, value);
}

// Events. Work runs when it is issued, so every recorded event has completed.
struct CUevent_st;
typedef CUevent_st* cudaEvent_t;
cudaError_t cudaEventCreate(cudaEvent_t* event);
cudaError_t cudaEventCreateWithFlags(cudaEvent_t* event, unsigned flags);
cudaError_t cudaEventDestroy(cudaEvent_t event);
cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t stream = nullptr);
cudaError_t cudaEventQuery(cudaEvent_t event);
cudaError_t cudaEventSynchronize(cudaEvent_t event);
cudaError_t cudaEventElapsedTime(float* ms, cudaEvent_t start, cudaEvent_t end);
cudaError_t cudaStreamWaitEvent(cudaStream_t stream, cudaEvent_t event, unsigned flags = 0);
cudaError_t cudaDeviceGetPCIBusId(char* bus_id, int length, int device);
