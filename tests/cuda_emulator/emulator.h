// molt's CUDA emulator: runs the CUDA backend's own kernels on the CPU, so that CI, which
// has no GPU, executes every line of kernels/cuda/ and not only its host side.
//
// Why hand-written: no Debian package runs CUDA C++ without a GPU (the toolkit's old
// device emulation is gone), and what molt's kernels use is small: blocks, barriers,
// warp shuffles, wmma tiles, a handful of runtime, cuBLAS and CUB calls. The kernel
// sources are compiled by the host compiler; rewrite_cuda_source.py turns the two pieces
// of CUDA syntax that C++ lacks (kernel<<<...>>>(args) and extern __shared__) into calls
// into this emulator, and the headers in include/ stand in for the toolkit's.
//
// How a launch runs. Blocks run one after another. Inside a block every CUDA thread is a
// fiber with its own stack (a small register switch, emulator.cpp); a fiber runs until it reaches a
// barrier
// (__syncthreads, __syncwarp, a shuffle, a wmma operation) or returns. When no fiber can
// run, the scheduler releases a barrier that every thread it waits for has reached. The
// order in which fibers run between barriers is shuffled (seeded, MOLT_CUDA_EMULATOR_SEED),
// so a missing barrier changes results instead of hiding behind a lucky fixed order.
//
// What it checks, and reports as the CUDA runtime would (an error from the launch or from
// the next synchronising call, with the reason on stderr):
//   * launch configurations: block and grid limits, dynamic shared memory above 48 KiB
//     without cudaFuncSetAttribute, or above the device's opt-in limit (an H100's);
//   * barriers: a __syncthreads that not every live thread reaches, or reaches at
//     different lines; a warp operation whose mask names a lane that has exited, that
//     waits elsewhere, or that uses another mask; a deadlock;
//   * wmma: pointers not on 32 bytes, leading dimensions that are not a multiple of 16 bytes;
//   * memory: cudaMemcpy/cudaMemset ranges outside an allocation, frees of unknown
//     pointers, raw pointer kernel arguments that are neither null nor device memory;
//   * dynamic shared memory, and every static __shared__ array after its first use, is
//     filled with NaN bytes before every block, as are fresh allocations, so a read of
//     memory that nothing wrote shows in the results.
// It does not model timing, memory coalescing, bank conflicts, or the memory consistency
// of blocks that run at the same time (they never do here).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>

struct dim3 {
  unsigned x = 1, y = 1, z = 1;
  constexpr dim3(unsigned vx = 1, unsigned vy = 1, unsigned vz = 1) : x(vx), y(vy), z(vz) {}
};

struct uint3 {
  unsigned x, y, z;
};

struct CUstream_st;
typedef CUstream_st* cudaStream_t;

namespace molt_emu {

// Where the thread of the running fiber is, and the shape of its launch.
struct ThreadPosition {
  uint3 thread_idx{0, 0, 0};
  uint3 block_idx{0, 0, 0};
  dim3 block_dim;
  dim3 grid_dim;
};

// The running fiber, as the inline functions below need it (set by the scheduler; null
// outside a kernel).
struct RunningThread {
  const ThreadPosition* position = nullptr;
  int lane = 0;
  unsigned shuffles = 0;              // how many this thread has made: picks the buffer
  unsigned char* exchange = nullptr;  // its warp's two exchange buffers, 32×16 bytes each
};
extern RunningThread running;

[[noreturn]] void outside_kernel();
inline const ThreadPosition& position() {
  if (running.position == nullptr) outside_kernel();
  return *running.position;
}
inline int lane_id() { return running.lane; }

// Barriers. `site` names the line of the call, for the mismatch checks.
struct Site {
  const char* file;
  int line;
};
void sync_block(Site site);
void sync_warp(unsigned mask, Site site);

// A shuffle: each lane in `mask` publishes `value`, waits for the others, then reads the
// value of `source_lane`. Two buffers in turn: a lane can write shuffle k + 1's buffer
// while a slower one still reads shuffle k's, and it cannot reach shuffle k + 2's write
// before every lane has passed shuffle k + 1's barrier, after its read of k.
template <typename T>
T shuffle(unsigned mask, T value, int source_lane, Site site) {
  static_assert(sizeof(T) <= 16 && std::is_trivially_copyable_v<T>, "shuffle of a wide type");
  unsigned char* buffer = running.exchange + (running.shuffles++ % 2) * 32 * 16;
  std::memcpy(buffer + running.lane * 16, &value, sizeof(T));
  sync_warp(mask, site);
  T result;
  std::memcpy(&result, buffer + (source_lane & 31) * 16, sizeof(T));
  return result;
}

// A kernel's static shared array (rewrite_cuda_source.py registers each on its first use):
// the emulator fills it with NaN bytes before every block, as a GPU gives a block shared
// memory with whatever was there.
bool register_shared(void* data, size_t bytes);

// The block's dynamic shared memory (the launch's third <<<>>> argument).
void* dynamic_shared_memory();

// A device fault raised inside a kernel (__trap, a failed check): ends the launch.
[[noreturn]] void fault(const std::string& what);

// Whether p lies in device memory (or pinned host memory, which the device can reach), up
// to and including one past the end of its allocation.
bool is_device_pointer(const void* p);
// Whether [p, p + bytes) lies inside one such allocation.
bool is_device_range(const void* p, size_t bytes);
// Reports a misuse of the runtime or a library (stderr) and returns `code`.
int report(int code, const std::string& what);

struct LaunchConfig {
  Site site;         // the line of the <<<>>>
  const char* name;  // the kernel expression, as written there
  dim3 grid;
  dim3 block;
  size_t shared_bytes;
  cudaStream_t stream;
  const void* kernel;  // identifies the kernel for cudaFuncSetAttribute's limit
};
// Checks the configuration and runs `thread_body` once per CUDA thread. Returns the
// cudaError_t value the launch reports (cudaGetLastError sees it too).
int run_launch(const LaunchConfig& config, const std::function<void()>& thread_body,
               const std::string& pointer_problem);

template <typename T>
void check_pointer_argument(const T& value, int index, std::string& problem) {
  if constexpr (std::is_pointer_v<T>) {
    if (value != nullptr && problem.empty() && !is_device_pointer(value)) {
      problem = "kernel argument " + std::to_string(index) + " is a pointer (" +
                std::to_string(reinterpret_cast<uintptr_t>(value)) + ") outside device memory";
    }
  }
}

// kernel<<<grid, block, shared, stream>>>(args...) becomes
// molt_emu::launch(Site{__FILE__, __LINE__}, "kernel", kernel, grid, block, shared,
// stream)(args...).
template <typename... Params>
class Launch {
 public:
  Launch(void (*kernel)(Params...), LaunchConfig config) : kernel_(kernel), config_(config) {}

  template <typename... Args>
  void operator()(Args&&... args) const {
    static_assert(sizeof...(Args) == sizeof...(Params), "kernel argument count");
    const std::tuple<std::decay_t<Params>...> params(std::forward<Args>(args)...);
    std::string problem;
    check_all(params, problem, std::index_sequence_for<Params...>{});
    auto kernel = kernel_;
    run_launch(
        config_, [&params, kernel] { std::apply(kernel, params); }, problem);
  }

 private:
  template <typename Tuple, size_t... I>
  static void check_all(const Tuple& params, std::string& problem, std::index_sequence<I...>) {
    (check_pointer_argument(std::get<I>(params), static_cast<int>(I), problem), ...);
  }

  void (*kernel_)(Params...);
  LaunchConfig config_;
};

template <typename... Params>
Launch<Params...> launch(Site site, const char* name, void (*kernel)(Params...), dim3 grid,
                         dim3 block, size_t shared_bytes = 0, cudaStream_t stream = nullptr) {
  return Launch<Params...>(kernel, LaunchConfig{site, name, grid, block, shared_bytes, stream,
                                                reinterpret_cast<const void*>(kernel)});
}

}  // namespace molt_emu
