// The CUDA emulator's scheduler and runtime API (see emulator.h for the design).
#include "tests/cuda_emulator/emulator.h"

#include <sys/mman.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/common_interface_defs.h>
#define MOLT_EMU_ASAN 1
#endif

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <numeric>
#include <stdexcept>
#include <vector>

#include "tests/cuda_emulator/include/cuda_runtime.h"

// Switching fibers: save the callee-saved registers on the current stack, store its
// pointer in *from, load `to` and restore the registers saved there. This is what
// swapcontext does without the signal-mask system call it makes on every switch, which
// made the emulator spend most of its time in the kernel. x86-64 System V only.
extern "C" void molt_emu_switch(void** from, void* to);
asm(R"(
  .text
  .globl molt_emu_switch
  .type molt_emu_switch, @function
molt_emu_switch:
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
  .size molt_emu_switch, .-molt_emu_switch
)");

namespace molt_emu {
namespace {

constexpr size_t kStackBytes = size_t{256} << 10;
constexpr size_t kDefaultSharedLimit = size_t{48} << 10;
constexpr size_t kSharedOptin = 232448;  // an H100's 227 KiB per block
constexpr size_t kTotalMemory = size_t{80} << 30;
constexpr int kWarp = 32;

struct Fault : std::runtime_error {
  using std::runtime_error::runtime_error;
};

enum class Wait { kRunnable, kBlock, kWarp, kDone };

struct Fiber {
  void* sp = nullptr;  // the saved stack pointer while the fiber is suspended
  void* asan_fake_stack = nullptr;
  unsigned shuffles = 0;
  void* stack = nullptr;
  Wait wait = Wait::kRunnable;
  Site site{"", 0};
  unsigned mask = 0;
  int linear = 0;
  ThreadPosition position;
  std::string error;
};

struct Allocation {
  size_t bytes;
  bool device;  // cudaMalloc (else pinned host memory, which the device reaches too)
};

struct State {
  std::vector<Fiber> fibers;
  Fiber* current = nullptr;
  void* scheduler_sp = nullptr;
  // AddressSanitizer's view of the stack switches (MOLT_CUDA_EMULATOR_ASAN).
  void* scheduler_fake_stack = nullptr;
  const void* scheduler_stack = nullptr;
  size_t scheduler_stack_bytes = 0;
  const std::function<void()>* body = nullptr;
  std::vector<void*> stacks;            // one per fiber slot, reused by every launch
  std::vector<unsigned char> exchange;  // per warp: two buffers of 32 lanes × 16 bytes
  unsigned char* dynamic_shared = nullptr;
  cudaError_t last_error = cudaSuccess;
  cudaError_t sticky_error = cudaSuccess;
  std::map<uintptr_t, Allocation> allocations;
  size_t device_bytes = 0;
  std::map<const void*, size_t> shared_limits;
  std::vector<std::pair<void*, size_t>> static_shared;  // register_shared()
  uint64_t random = seed();  // xorshift64* state: the fiber order's only source

  static uint64_t seed() {
    const char* set = std::getenv("MOLT_CUDA_EMULATOR_SEED");
    const uint64_t value = set != nullptr ? std::strtoull(set, nullptr, 10) : 1;
    return value != 0 ? value : 1;
  }
};

State& state() {
  static State s;
  return s;
}

// A Fisher-Yates shuffle with xorshift64*: the order only has to vary, cheaply.
void shuffle(int* items, int count) {
  uint64_t& x = state().random;
  for (int i = count - 1; i > 0; --i) {
    x ^= x >> 12, x ^= x << 25, x ^= x >> 27;
    const int j =
        static_cast<int>(((x * 0x2545F4914F6CDD1Dull) >> 33) % static_cast<uint64_t>(i + 1));
    std::swap(items[i], items[j]);
  }
}

std::string where(Site site) { return std::string(site.file) + ":" + std::to_string(site.line); }

std::string describe(const Fiber& f) {
  const ThreadPosition& p = f.position;
  return "thread (" + std::to_string(p.thread_idx.x) + "," + std::to_string(p.thread_idx.y) + "," +
         std::to_string(p.thread_idx.z) + ") of block (" + std::to_string(p.block_idx.x) + "," +
         std::to_string(p.block_idx.y) + "," + std::to_string(p.block_idx.z) + ")";
}

void* new_stack() {
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  void* base = mmap(nullptr, kStackBytes + page, PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (base == MAP_FAILED) throw std::runtime_error("CUDA emulator: no memory for a fiber stack");
  mprotect(base, page, PROT_NONE);  // a guard page below the stack: overflow faults at once
  return static_cast<char*>(base) + page;
}

// The two directions of a switch, told to AddressSanitizer when it is on, so it tracks
// which stack is live.
void switch_to_fiber(Fiber& f) {
  State& s = state();
#ifdef MOLT_EMU_ASAN
  __sanitizer_start_switch_fiber(&s.scheduler_fake_stack, f.stack, kStackBytes);
#endif
  molt_emu_switch(&s.scheduler_sp, f.sp);
#ifdef MOLT_EMU_ASAN
  __sanitizer_finish_switch_fiber(s.scheduler_fake_stack, nullptr, nullptr);
#endif
}

void arrived_in_fiber(Fiber* f) {
#ifdef MOLT_EMU_ASAN
  State& s = state();
  __sanitizer_finish_switch_fiber(f->asan_fake_stack, &s.scheduler_stack, &s.scheduler_stack_bytes);
#else
  static_cast<void>(f);
#endif
}

void switch_to_scheduler(Fiber* f, bool exiting) {
  State& s = state();
#ifdef MOLT_EMU_ASAN
  __sanitizer_start_switch_fiber(exiting ? nullptr : &f->asan_fake_stack, s.scheduler_stack,
                                 s.scheduler_stack_bytes);
#else
  static_cast<void>(exiting);
#endif
  molt_emu_switch(&f->sp, s.scheduler_sp);
  arrived_in_fiber(f);
}

[[noreturn]] void fiber_entry() {
  State& s = state();
  Fiber* f = s.current;
  arrived_in_fiber(f);
  try {
    (*s.body)();
  } catch (const std::exception& e) {
    f->error = e.what();
  }
  f->wait = Wait::kDone;
  switch_to_scheduler(f, true);
  __builtin_unreachable();
}

// A new fiber's stack, as molt_emu_switch leaves a suspended one: six saved registers,
// then the address to return to (fiber_entry), then a slot that plays fiber_entry's own
// return address, so it starts with the stack alignment a call gives (rsp ≡ 8 mod 16).
void* initial_stack(void* stack) {
  uintptr_t top = (reinterpret_cast<uintptr_t>(stack) + kStackBytes) & ~uintptr_t{15};
  auto* slots = reinterpret_cast<void**>(top);
  slots[-1] = nullptr;
  slots[-2] = reinterpret_cast<void*>(&fiber_entry);
  for (int i = 3; i <= 8; ++i) slots[-i] = nullptr;
  return slots - 8;
}

void suspend(Wait wait, Site site, unsigned mask) {
  State& s = state();
  Fiber* f = s.current;
  if (f == nullptr) throw Fault("a barrier outside a kernel");
  f->wait = wait;
  f->site = site;
  f->mask = mask;
  switch_to_scheduler(f, false);
}

// After a round of warp `base`'s lanes: releases its warp barrier when every lane the
// barrier's mask names has arrived. "" or what is wrong.
std::string release_warp(int base, int lanes, bool& released) {
  std::vector<Fiber>& fibers = state().fibers;
  released = false;
  unsigned at_warp = 0, at_block = 0, done = 0;
  const Fiber* first = nullptr;
  for (int lane = 0; lane < lanes; ++lane) {
    const Fiber& f = fibers[base + lane];
    if (f.wait == Wait::kWarp) {
      at_warp |= 1u << lane;
      if (first == nullptr) first = &f;
    } else if (f.wait == Wait::kBlock) {
      at_block |= 1u << lane;
    } else {
      done |= 1u << lane;
    }
  }
  if (first == nullptr) return "";
  const unsigned mask = first->mask;
  const unsigned present = lanes == kWarp ? ~0u : (1u << lanes) - 1;
  if ((mask & ~present) != 0) {
    return describe(*first) + " names lanes the block does not have (mask " + std::to_string(mask) +
           ") in a warp operation at " + where(first->site);
  }
  if ((mask & done) != 0) {
    return describe(*first) + " waits in a warp operation at " + where(first->site) +
           " for a lane that has exited (mask " + std::to_string(mask) + ")";
  }
  for (int lane = 0; lane < lanes; ++lane) {
    const Fiber& g = fibers[base + lane];
    if (g.wait == Wait::kWarp && g.mask != mask) {
      return describe(*first) + " (at " + where(first->site) + ") and " + describe(g) + " (at " +
             where(g.site) + ") are in warp operations with different masks";
    }
    if (g.wait == Wait::kBlock && ((mask >> lane) & 1u)) {
      return "deadlock: " + describe(*first) + " waits in a warp operation at " +
             where(first->site) + " for " + describe(g) + ", which waits at __syncthreads at " +
             where(g.site);
    }
  }
  for (int lane = 0; lane < lanes; ++lane) {
    if ((mask >> lane) & 1u) fibers[base + lane].wait = Wait::kRunnable;
  }
  released = true;
  return "";
}

// Releases __syncthreads when every live thread waits there. "" or what is wrong.
std::string release_block(bool& released) {
  std::vector<Fiber>& fibers = state().fibers;
  const Fiber* first = nullptr;
  for (const Fiber& f : fibers) {
    if (f.wait == Wait::kDone) continue;
    if (f.wait != Wait::kBlock) {
      for (const Fiber& g : fibers) {
        if (g.wait == Wait::kBlock) {
          return "deadlock: " + describe(f) + " waits in a warp operation at " + where(f.site) +
                 " while " + describe(g) + " waits at __syncthreads at " + where(g.site);
        }
      }
      return "deadlock: " + describe(f) + " waits in a warp operation at " + where(f.site);
    }
    if (first == nullptr) {
      first = &f;
    } else if (first->site.line != f.site.line ||
               (first->site.file != f.site.file && std::strcmp(first->site.file, f.site.file))) {
      return "divergent __syncthreads: " + describe(*first) + " at " + where(first->site) + ", " +
             describe(f) + " at " + where(f.site);
    }
  }
  for (Fiber& f : fibers) {
    if (f.wait == Wait::kBlock) f.wait = Wait::kRunnable;
  }
  released = first != nullptr;
  return "";
}

// What the inline functions of emulator.h see while fiber f runs.
void enter(Fiber& f) {
  State& s = state();
  s.current = &f;
  running.position = &f.position;
  running.lane = f.linear % kWarp;
  running.shuffles = f.shuffles;
  running.exchange = s.exchange.data() + static_cast<size_t>(f.linear / kWarp) * 2 * kWarp * 16;
}
void leave(Fiber& f) {
  f.shuffles = running.shuffles;
  state().current = nullptr;
  running = RunningThread{};
}

// Runs one block to the end. "" or what went wrong.
std::string run_block(const LaunchConfig& config, uint3 block_idx) {
  State& s = state();
  const dim3 b = config.block;
  const int n = static_cast<int>(b.x * b.y * b.z);
  while (static_cast<int>(s.stacks.size()) < n) s.stacks.push_back(new_stack());
  s.fibers.resize(n);  // reused block after block: only what a block changes is reset
  s.exchange.resize(static_cast<size_t>((n + kWarp - 1) / kWarp) * 2 * kWarp * 16);
  if (config.shared_bytes > 0) std::memset(s.dynamic_shared, 0xff, config.shared_bytes);
  for (const auto& [data, bytes] : s.static_shared) std::memset(data, 0xff, bytes);
  for (int i = 0; i < n; ++i) {
    Fiber& f = s.fibers[i];
    f.wait = Wait::kRunnable;
    f.shuffles = 0;
    f.error.clear();
    f.linear = i;
    f.position.thread_idx = {i % b.x, (i / b.x) % b.y, i / (b.x * b.y)};
    f.position.block_idx = block_idx;
    f.position.block_dim = b;
    f.position.grid_dim = config.grid;
    f.stack = s.stacks[i];
    f.sp = initial_stack(f.stack);
  }
  // Warp by warp: a warp's lanes run in shuffled rounds until none can go on without the
  // other warps (all wait at __syncthreads or have returned); the warps run in shuffled
  // order; then the block barrier is released and it starts again.
  const int warps = (n + kWarp - 1) / kWarp;
  std::vector<int> warp_order(warps);
  std::iota(warp_order.begin(), warp_order.end(), 0);
  int lane_order[kWarp];
  for (;;) {
    shuffle(warp_order.data(), warps);
    for (int w : warp_order) {
      const int base = w * kWarp, lanes = std::min(kWarp, n - base);
      for (bool released = true; released;) {
        std::iota(lane_order, lane_order + lanes, 0);
        shuffle(lane_order, lanes);
        for (int i = 0; i < lanes; ++i) {
          Fiber& f = s.fibers[base + lane_order[i]];
          if (f.wait != Wait::kRunnable) continue;
          enter(f);
          switch_to_fiber(f);
          leave(f);
          if (!f.error.empty()) return describe(f) + ": " + f.error;
        }
        const std::string problem = release_warp(base, lanes, released);
        if (!problem.empty()) return problem;
      }
    }
    bool released = false;
    const std::string problem = release_block(released);
    if (!problem.empty()) return problem;
    if (!released) return "";  // every thread has returned
  }
}

std::string check_config(const LaunchConfig& c) {
  const dim3 b = c.block, g = c.grid;
  if (b.x == 0 || b.y == 0 || b.z == 0 || g.x == 0 || g.y == 0 || g.z == 0)
    return "a grid or block dimension is 0";
  if (b.x > 1024 || b.y > 1024 || b.z > 64 || size_t{b.x} * b.y * b.z > 1024)
    return "more than 1024 threads per block, or a block dimension above its limit";
  if (g.y > 65535 || g.z > 65535) return "gridDim.y or gridDim.z above 65535";
  if (g.x > 2147483647u) return "gridDim.x above 2^31 - 1";
  const auto raised = state().shared_limits.find(c.kernel);
  const size_t limit = raised != state().shared_limits.end() ? raised->second : kDefaultSharedLimit;
  if (c.shared_bytes > limit) {
    return std::to_string(c.shared_bytes) + " bytes of dynamic shared memory, above the kernel's " +
           "limit of " + std::to_string(limit) +
           (raised == state().shared_limits.end() ? " (no cudaFuncSetAttribute raised it)" : "");
  }
  return "";
}

const Allocation* find_allocation(const void* p, uintptr_t& start) {
  const auto& allocations = state().allocations;
  const uintptr_t address = reinterpret_cast<uintptr_t>(p);
  auto it = allocations.upper_bound(address);
  if (it == allocations.begin()) return nullptr;
  --it;
  start = it->first;
  return address <= it->first + it->second.bytes ? &it->second : nullptr;
}

cudaError_t fail(cudaError_t code, const std::string& what) {
  report(code, what);
  state().last_error = code;
  return code;
}

cudaError_t sticky_or_success() { return state().sticky_error; }

}  // namespace

RunningThread running;

void outside_kernel() { throw Fault("threadIdx, blockIdx or a warp operation outside a kernel"); }

void sync_block(Site site) { suspend(Wait::kBlock, site, 0); }
void sync_warp(unsigned mask, Site site) { suspend(Wait::kWarp, site, mask); }

bool register_shared(void* data, size_t bytes) {
  state().static_shared.emplace_back(data, bytes);
  return true;
}

void* dynamic_shared_memory() { return state().dynamic_shared; }

void fault(const std::string& what) { throw Fault(what); }

// For the emulator's own tests: a real process would have to restart.
void reset_after_fault() {
  state().sticky_error = cudaSuccess;
  state().last_error = cudaSuccess;
}

bool is_device_pointer(const void* p) {
  uintptr_t start = 0;
  return find_allocation(p, start) != nullptr;
}

bool is_device_range(const void* p, size_t bytes) {
  uintptr_t start = 0;
  const Allocation* a = find_allocation(p, start);
  return a != nullptr && reinterpret_cast<uintptr_t>(p) + bytes <= start + a->bytes;
}

int report(int code, const std::string& what) {
  std::fprintf(stderr, "molt CUDA emulator: %s\n", what.c_str());
  return code;
}

int run_launch(const LaunchConfig& config, const std::function<void()>& thread_body,
               const std::string& pointer_problem) {
  State& s = state();
  const std::string launch = std::string("launch of ") + config.name + " at " + where(config.site);
  if (s.sticky_error != cudaSuccess) return s.last_error = s.sticky_error;
  const std::string bad = check_config(config);
  if (!bad.empty()) return fail(cudaErrorInvalidConfiguration, launch + " rejected: " + bad);
  if (!pointer_problem.empty()) {
    s.sticky_error = fail(cudaErrorLaunchFailure, launch + ": " + pointer_problem);
    return s.sticky_error;
  }
  // Exactly the bytes asked for, so AddressSanitizer sees a read past them.
  void* shared_storage = nullptr;
  if (posix_memalign(&shared_storage, 128, std::max<size_t>(config.shared_bytes, 1)) != 0)
    throw std::runtime_error("CUDA emulator: no memory for shared memory");
  s.dynamic_shared = static_cast<unsigned char*>(shared_storage);
  s.body = &thread_body;
  std::string problem;
  const dim3 g = config.grid;
  for (unsigned z = 0; z < g.z && problem.empty(); ++z)
    for (unsigned y = 0; y < g.y && problem.empty(); ++y)
      for (unsigned x = 0; x < g.x && problem.empty(); ++x) problem = run_block(config, {x, y, z});
  s.body = nullptr;
  std::free(shared_storage);
  s.dynamic_shared = nullptr;
  if (!problem.empty()) {
    s.sticky_error = fail(cudaErrorLaunchFailure, launch + ": " + problem);
    return s.sticky_error;
  }
  return cudaSuccess;
}

// ---- runtime API -------------------------------------------------------------------------

namespace {

cudaError_t check_range(const void* p, size_t bytes, const char* call, const char* what) {
  if (bytes == 0 || is_device_range(p, bytes)) return cudaSuccess;
  return fail(cudaErrorInvalidValue, std::string(call) + ": " + what + " [" +
                                         std::to_string(reinterpret_cast<uintptr_t>(p)) + ", +" +
                                         std::to_string(bytes) + ") is not inside one allocation");
}

// cudaMalloc's 256-byte alignment, and exactly `bytes`, so AddressSanitizer sees an
// access past the end.
void* aligned_block(size_t bytes) {
  void* p = nullptr;
  if (posix_memalign(&p, 256, std::max<size_t>(bytes, 1)) != 0) return nullptr;
  std::memset(p, 0xff, bytes);  // NaN bytes: unwritten memory shows
  return p;
}

// cudaMalloc (device) and cudaHostAlloc (pinned host memory): both recorded, so copies,
// kernels and libraries can check their ranges; only device bytes count as used.
cudaError_t allocate(void** pointer, size_t bytes, bool device, const char* call) {
  void* p = aligned_block(bytes);
  if (p == nullptr) return fail(cudaErrorMemoryAllocation, std::string(call) + ": out of memory");
  state().allocations[reinterpret_cast<uintptr_t>(p)] = {bytes, device};
  if (device) state().device_bytes += bytes;
  *pointer = p;
  return cudaSuccess;
}

// cudaFree and cudaFreeHost: only what the matching allocation call returned.
cudaError_t release(void* pointer, bool device, const char* call) {
  if (pointer == nullptr) return cudaSuccess;
  auto& allocations = state().allocations;
  const auto it = allocations.find(reinterpret_cast<uintptr_t>(pointer));
  if (it == allocations.end() || it->second.device != device) {
    return fail(cudaErrorInvalidValue, std::string(call) + " of a pointer " +
                                           (device ? "cudaMalloc" : "cudaHostAlloc") +
                                           " did not return");
  }
  if (device) state().device_bytes -= it->second.bytes;
  allocations.erase(it);
  std::free(pointer);
  return cudaSuccess;
}

}  // namespace
}  // namespace molt_emu

using molt_emu::state;

const char* cudaGetErrorName(cudaError_t error) {
  switch (error) {
    case cudaSuccess:
      return "cudaSuccess";
    case cudaErrorNotReady:
      return "cudaErrorNotReady";
    case cudaErrorInvalidValue:
      return "cudaErrorInvalidValue";
    case cudaErrorMemoryAllocation:
      return "cudaErrorMemoryAllocation";
    case cudaErrorInvalidConfiguration:
      return "cudaErrorInvalidConfiguration";
    case cudaErrorInvalidDevicePointer:
      return "cudaErrorInvalidDevicePointer";
    case cudaErrorInvalidMemcpyDirection:
      return "cudaErrorInvalidMemcpyDirection";
    case cudaErrorInvalidDevice:
      return "cudaErrorInvalidDevice";
    case cudaErrorLaunchFailure:
      return "cudaErrorLaunchFailure";
  }
  return "cudaErrorUnknown";
}

const char* cudaGetErrorString(cudaError_t error) {
  switch (error) {
    case cudaSuccess:
      return "no error";
    case cudaErrorLaunchFailure:
      return "unspecified launch failure (see the emulator's message)";
    default:
      return "see the CUDA emulator's message on stderr";
  }
}

cudaError_t cudaGetLastError() {
  const cudaError_t error = state().last_error;
  state().last_error = state().sticky_error;
  return error;
}
cudaError_t cudaPeekAtLastError() { return state().last_error; }

cudaError_t cudaGetDeviceCount(int* count) {
  *count = 1;
  return cudaSuccess;
}
cudaError_t cudaSetDevice(int device) {
  return device == 0 ? cudaSuccess
                     : molt_emu::fail(cudaErrorInvalidDevice,
                                      "cudaSetDevice: no device " + std::to_string(device));
}
cudaError_t cudaGetDevice(int* device) {
  *device = 0;
  return cudaSuccess;
}
cudaError_t cudaGetDeviceProperties(cudaDeviceProp* p, int device) {
  if (device != 0) return molt_emu::fail(cudaErrorInvalidDevice, "cudaGetDeviceProperties");
  *p = cudaDeviceProp{};
  std::snprintf(p->name, sizeof p->name, "molt CUDA emulator (an H100's limits)");
  p->totalGlobalMem = molt_emu::kTotalMemory;
  p->sharedMemPerBlock = molt_emu::kDefaultSharedLimit;
  p->sharedMemPerBlockOptin = molt_emu::kSharedOptin;
  p->sharedMemPerMultiprocessor = 233472;
  p->multiProcessorCount = 132;
  p->maxThreadsPerBlock = 1024;
  p->warpSize = 32;
  p->major = 9;
  p->minor = 0;
  return cudaSuccess;
}
cudaError_t cudaRuntimeGetVersion(int* version) {
  *version = 13000;
  return cudaSuccess;
}
cudaError_t cudaDriverGetVersion(int* version) {
  *version = 13000;
  return cudaSuccess;
}
cudaError_t cudaMemGetInfo(size_t* free, size_t* total) {
  *total = molt_emu::kTotalMemory;
  *free = molt_emu::kTotalMemory - state().device_bytes;
  return molt_emu::sticky_or_success();
}
cudaError_t cudaDeviceSynchronize() { return molt_emu::sticky_or_success(); }

cudaError_t cudaMalloc(void** pointer, size_t bytes) {
  return molt_emu::allocate(pointer, bytes, true, "cudaMalloc");
}
cudaError_t cudaFree(void* pointer) { return molt_emu::release(pointer, true, "cudaFree"); }

cudaError_t cudaHostAlloc(void** pointer, size_t bytes, unsigned flags) {
  static_cast<void>(flags);  // with unified addressing all pinned memory is mapped
  return molt_emu::allocate(pointer, bytes, false, "cudaHostAlloc");
}
cudaError_t cudaMallocHost(void** pointer, size_t bytes) {
  return cudaHostAlloc(pointer, bytes, 0);
}
cudaError_t cudaFreeHost(void* pointer) {
  return molt_emu::release(pointer, false, "cudaFreeHost");
}

cudaError_t cudaHostGetDevicePointer(void** device, void* host, unsigned flags) {
  uintptr_t start = 0;
  const molt_emu::Allocation* a = molt_emu::find_allocation(host, start);
  if (flags != 0 || a == nullptr || a->device) {
    return molt_emu::fail(cudaErrorInvalidValue,
                          "cudaHostGetDevicePointer: not pinned host memory, or flags != 0");
  }
  *device = host;
  return cudaSuccess;
}

cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind,
                            cudaStream_t stream) {
  static_cast<void>(stream);
  if (state().sticky_error != cudaSuccess) return state().sticky_error;
  const bool device_src = kind == cudaMemcpyDeviceToHost || kind == cudaMemcpyDeviceToDevice;
  const bool device_dst = kind == cudaMemcpyHostToDevice || kind == cudaMemcpyDeviceToDevice;
  if (kind == cudaMemcpyDefault || kind == cudaMemcpyHostToHost) {
    return molt_emu::fail(cudaErrorInvalidMemcpyDirection,
                          "cudaMemcpy: molt names every copy's direction");
  }
  cudaError_t status = cudaSuccess;
  if (device_src) status = molt_emu::check_range(src, bytes, "cudaMemcpy", "the source");
  if (status == cudaSuccess && device_dst)
    status = molt_emu::check_range(dst, bytes, "cudaMemcpy", "the destination");
  if (status != cudaSuccess) return status;
  if (bytes > 0) std::memmove(dst, src, bytes);
  return cudaSuccess;
}
cudaError_t cudaMemcpy(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind) {
  return cudaMemcpyAsync(dst, src, bytes, kind, nullptr);
}

cudaError_t cudaMemsetAsync(void* dst, int value, size_t bytes, cudaStream_t stream) {
  static_cast<void>(stream);
  if (state().sticky_error != cudaSuccess) return state().sticky_error;
  const cudaError_t status = molt_emu::check_range(dst, bytes, "cudaMemset", "the range");
  if (status != cudaSuccess) return status;
  if (bytes > 0) std::memset(dst, value, bytes);
  return cudaSuccess;
}
cudaError_t cudaMemset(void* dst, int value, size_t bytes) {
  return cudaMemsetAsync(dst, value, bytes, nullptr);
}

cudaError_t cudaStreamCreate(cudaStream_t* stream) { return cudaStreamCreateWithFlags(stream, 0); }
cudaError_t cudaStreamCreateWithFlags(cudaStream_t* stream, unsigned flags) {
  static_cast<void>(flags);
  *stream = reinterpret_cast<cudaStream_t>(new char);  // a distinct handle; work runs at once
  return cudaSuccess;
}
cudaError_t cudaStreamDestroy(cudaStream_t stream) {
  delete reinterpret_cast<char*>(stream);
  return cudaSuccess;
}
cudaError_t cudaStreamSynchronize(cudaStream_t stream) {
  static_cast<void>(stream);
  return molt_emu::sticky_or_success();
}

cudaError_t cudaFuncSetAttribute(const void* kernel, cudaFuncAttribute attribute, int value) {
  if (attribute != cudaFuncAttributeMaxDynamicSharedMemorySize || value < 0 ||
      static_cast<size_t>(value) > molt_emu::kSharedOptin) {
    return molt_emu::fail(cudaErrorInvalidValue,
                          "cudaFuncSetAttribute: " + std::to_string(value) +
                              " bytes of dynamic shared memory, above the device's opt-in limit " +
                              std::to_string(molt_emu::kSharedOptin));
  }
  state().shared_limits[kernel] = static_cast<size_t>(value);
  return cudaSuccess;
}

// Events: a recorded time, and always complete (work runs when it is issued).
struct CUevent_st {
  std::chrono::steady_clock::time_point recorded;
};

cudaError_t cudaEventCreate(cudaEvent_t* event) { return cudaEventCreateWithFlags(event, 0); }
cudaError_t cudaEventCreateWithFlags(cudaEvent_t* event, unsigned flags) {
  static_cast<void>(flags);
  *event = new CUevent_st{std::chrono::steady_clock::now()};
  return cudaSuccess;
}
cudaError_t cudaEventDestroy(cudaEvent_t event) {
  delete event;
  return cudaSuccess;
}
cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t stream) {
  static_cast<void>(stream);
  if (event == nullptr) return molt_emu::fail(cudaErrorInvalidValue, "cudaEventRecord: no event");
  event->recorded = std::chrono::steady_clock::now();
  return molt_emu::sticky_or_success();
}
cudaError_t cudaEventQuery(cudaEvent_t event) {
  if (event == nullptr) return molt_emu::fail(cudaErrorInvalidValue, "cudaEventQuery: no event");
  return molt_emu::sticky_or_success();
}
cudaError_t cudaEventSynchronize(cudaEvent_t event) { return cudaEventQuery(event); }
cudaError_t cudaEventElapsedTime(float* ms, cudaEvent_t start, cudaEvent_t end) {
  *ms = std::chrono::duration<float, std::milli>(end->recorded - start->recorded).count();
  return cudaSuccess;
}
cudaError_t cudaStreamWaitEvent(cudaStream_t stream, cudaEvent_t event, unsigned flags) {
  static_cast<void>(stream), static_cast<void>(flags);
  if (event == nullptr) return molt_emu::fail(cudaErrorInvalidValue, "cudaStreamWaitEvent");
  return molt_emu::sticky_or_success();
}
cudaError_t cudaDeviceGetPCIBusId(char* bus_id, int length, int device) {
  if (device != 0) return molt_emu::fail(cudaErrorInvalidDevice, "cudaDeviceGetPCIBusId");
  std::snprintf(bus_id, static_cast<size_t>(length), "0000:00:00.0");
  return cudaSuccess;
}
