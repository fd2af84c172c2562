// The wmma API (16×16×16 tiles) for the CUDA emulator (../emulator.h).
//
// A real fragment spreads a tile over the 32 lanes in an unspecified layout. Here every
// lane holds the whole tile, but a lane owns only the accumulator elements e with
// e % 32 == lane: mma_sync computes those and store_matrix_sync writes those, so memory
// written by a warp's store is complete only when every lane has stored, and a read of it
// without a __syncwarp first sees what the shuffled fiber order left there, as on a GPU.
// The *_sync operations wait for the whole warp (a warp barrier) and check the pointer
// (32-byte aligned) and leading dimension (a multiple of 16 bytes) as the API demands.
#pragma once

#include <cstdint>
#include <string>

#include "tests/cuda_emulator/emulator.h"
#include "tests/cuda_emulator/include/cuda_bf16.h"

namespace nvcuda::wmma {

struct matrix_a {};
struct matrix_b {};
struct accumulator {};
struct row_major {};
struct col_major {};
enum layout_t { mem_row_major, mem_col_major };

template <typename Use, int M, int N, int K>
struct tile_shape;
template <int M, int N, int K>
struct tile_shape<matrix_a, M, N, K> {
  static constexpr int rows = M, cols = K;
};
template <int M, int N, int K>
struct tile_shape<matrix_b, M, N, K> {
  static constexpr int rows = K, cols = N;
};
template <int M, int N, int K>
struct tile_shape<accumulator, M, N, K> {
  static constexpr int rows = M, cols = N;
};

template <typename Use, int M, int N, int K, typename T, typename Layout = void>
class fragment {
 public:
  static constexpr int rows = tile_shape<Use, M, N, K>::rows;
  static constexpr int cols = tile_shape<Use, M, N, K>::cols;
  static constexpr int num_elements = rows * cols;
  float x[num_elements];  // row-major, the whole tile, in f32
  float& at(int r, int c) { return x[r * cols + c]; }
  float at(int r, int c) const { return x[r * cols + c]; }
};

namespace detail {
inline float widen(float v) { return v; }
inline float widen(__nv_bfloat16 v) { return __bfloat162float(v); }
inline void narrow(float& out, float v) { out = v; }
inline void narrow(__nv_bfloat16& out, float v) { out = __float2bfloat16(v); }

inline void check(const void* p, unsigned ldm, size_t element_bytes, const char* what,
                  molt_emu::Site site) {
  if (reinterpret_cast<uintptr_t>(p) % 32 != 0) {
    molt_emu::fault(std::string(what) + ": pointer not on 32 bytes at " + site.file + ":" +
                    std::to_string(site.line));
  }
  if ((ldm * element_bytes) % 16 != 0) {
    molt_emu::fault(std::string(what) + ": leading dimension " + std::to_string(ldm) +
                    " not a multiple of 16 bytes at " + site.file + ":" +
                    std::to_string(site.line));
  }
}

template <typename Frag, typename T>
void load(Frag& frag, const T* p, unsigned ldm, bool row_major, molt_emu::Site site) {
  molt_emu::sync_warp(0xffffffffu, site);
  check(p, ldm, sizeof(T), "wmma::load_matrix_sync", site);
  for (int r = 0; r < Frag::rows; ++r)
    for (int c = 0; c < Frag::cols; ++c)
      frag.at(r, c) = widen(row_major ? p[size_t(r) * ldm + c] : p[r + size_t(c) * ldm]);
}

inline bool owned(int element) { return element % 32 == molt_emu::lane_id(); }
}  // namespace detail

template <typename Use, int M, int N, int K, typename T, typename Layout>
void fill_fragment(fragment<Use, M, N, K, T, Layout>& frag, float value) {
  for (float& v : frag.x) v = value;
}

template <typename Use, int M, int N, int K, typename T, typename Layout, typename P>
void load_matrix_sync(fragment<Use, M, N, K, T, Layout>& frag, const P* p, unsigned ldm,
                      const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
  static_assert(std::is_same_v<Layout, row_major> || std::is_same_v<Layout, col_major>);
  detail::load(frag, p, ldm, std::is_same_v<Layout, row_major>, molt_emu::Site{file, line});
}

template <int M, int N, int K>
void load_matrix_sync(fragment<accumulator, M, N, K, float>& frag, const float* p, unsigned ldm,
                      layout_t layout, const char* file = __builtin_FILE(),
                      int line = __builtin_LINE()) {
  detail::load(frag, p, ldm, layout == mem_row_major, molt_emu::Site{file, line});
}

template <int M, int N, int K>
void store_matrix_sync(float* p, const fragment<accumulator, M, N, K, float>& frag, unsigned ldm,
                       layout_t layout, const char* file = __builtin_FILE(),
                       int line = __builtin_LINE()) {
  const molt_emu::Site site{file, line};
  molt_emu::sync_warp(0xffffffffu, site);
  detail::check(p, ldm, sizeof(float), "wmma::store_matrix_sync", site);
  using Frag = fragment<accumulator, M, N, K, float>;
  for (int e = 0; e < Frag::num_elements; ++e) {
    if (!detail::owned(e)) continue;
    const int r = e / Frag::cols, c = e % Frag::cols;
    p[layout == mem_row_major ? size_t(r) * ldm + c : r + size_t(c) * ldm] = frag.x[e];
  }
}

template <int M, int N, int K, typename T, typename LayoutA, typename LayoutB>
void mma_sync(fragment<accumulator, M, N, K, float>& d,
              const fragment<matrix_a, M, N, K, T, LayoutA>& a,
              const fragment<matrix_b, M, N, K, T, LayoutB>& b,
              const fragment<accumulator, M, N, K, float>& c, const char* file = __builtin_FILE(),
              int line = __builtin_LINE()) {
  molt_emu::sync_warp(0xffffffffu, molt_emu::Site{file, line});
  for (int e = 0; e < M * N; ++e) {
    if (!detail::owned(e)) continue;
    const int r = e / N, col = e % N;
    float sum = c.x[e];
    for (int k = 0; k < K; ++k) sum += a.at(r, k) * b.at(k, col);
    d.x[e] = sum;
  }
}

}  // namespace nvcuda::wmma
