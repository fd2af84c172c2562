// Table lookups and their scatter-add gradients.
//
//   embedding:      out[r, :] = table[ids[r], :] + positions[r mod T, :]
//                   dtable[ids[r], :] += dout[r, :];  dpositions[r mod T, :] += dout[r, :]
//   position bias:  out[h, i, j] = table[buckets[i·Tk + j], h]
//                   dtable[buckets[i·Tk + j], h] += dout[h, i, j]
// A forward lookup is a gather, parallel over rows. Its gradient is a scatter in which
// many rows may hit the same table row (a repeated token, a shared bucket), so threads
// split the table's COLUMNS instead: each thread owns channels [c0, c1) (or heads) of
// every row and walks all rows in order. No two threads touch one element, and the sum
// order is fixed, so the result is deterministic.
// Ids and buckets are checked on the calling thread first: an id outside the table is a
// programmer (or loader) bug and must not become an out-of-bounds write.
#include "kernels/cpu/embedding.h"

#include <algorithm>
#include <string>

#include "kernels/cpu/checks.h"

namespace molt::kernels::cpu {
namespace {

constexpr size_t kParallelElements = 1 << 14;
constexpr int kChannelsPerTask = 64;

void require_indices_below(const int32_t* indices, size_t n, size_t limit, const char* what) {
  for (size_t i = 0; i < n; ++i) {
    require(indices[i] >= 0 && static_cast<size_t>(indices[i]) < limit,
            std::string(what) + " index " + std::to_string(indices[i]) + " at " +
                std::to_string(i) + " is outside [0, " + std::to_string(limit) + ")");
  }
}

}  // namespace

void embedding_forward(Tensor out, Tensor ids, Tensor table, Tensor positions, int B, int T,
                       int C) {
  const size_t rows = product(B, T);
  float* y = f32_covering(out, rows * C, "embedding_forward: out");
  const int32_t* id = i32_covering(ids, rows, "embedding_forward: ids");
  const float* wte = f32_covering(table, C, "embedding_forward: table");
  const float* wpe = optional_f32(positions, product(T, C), "embedding_forward: positions");
  require_indices_below(id, rows, table.count / C, "embedding_forward: token");
  const int64_t n = static_cast<int64_t>(rows);
#pragma omp parallel for if (rows * C > kParallelElements)
  for (int64_t r = 0; r < n; ++r) {
    float* yr = y + r * C;
    const float* token = wte + static_cast<size_t>(id[r]) * C;
    if (wpe == nullptr) {
      std::copy(token, token + C, yr);
      continue;
    }
    const float* position = wpe + (r % T) * C;
    for (int c = 0; c < C; ++c) yr[c] = token[c] + position[c];
  }
}

void embedding_backward(Tensor dtable, Tensor dpositions, Tensor dout, Tensor ids, int B, int T,
                        int C) {
  const size_t rows = product(B, T);
  const float* dy = f32_covering(dout, rows * C, "embedding_backward: dout");
  const int32_t* id = i32_covering(ids, rows, "embedding_backward: ids");
  float* dwte = optional_f32(dtable, C, "embedding_backward: dtable");
  float* dwpe = optional_f32(dpositions, product(T, C), "embedding_backward: dpositions");
  if (dwte != nullptr) require_indices_below(id, rows, dtable.count / C, "embedding_backward");
  const int tasks = (C + kChannelsPerTask - 1) / kChannelsPerTask;
#pragma omp parallel for if (rows * C > kParallelElements)
  for (int task = 0; task < tasks; ++task) {
    const int c0 = task * kChannelsPerTask;
    const int c1 = std::min(C, c0 + kChannelsPerTask);
    for (size_t r = 0; r < rows; ++r) {
      const float* dyr = dy + r * C;
      float* token = dwte == nullptr ? nullptr : dwte + static_cast<size_t>(id[r]) * C;
      float* position = dwpe == nullptr ? nullptr : dwpe + (r % T) * C;
      for (int c = c0; c < c1; ++c) {
        if (token != nullptr) token[c] += dyr[c];
        if (position != nullptr) position[c] += dyr[c];
      }
    }
  }
}

void position_bias_forward(Tensor out, Tensor table, Tensor buckets, int H, int Tq, int Tk) {
  const size_t cells = product(Tq, Tk);
  float* y = f32_covering(out, cells * H, "position_bias_forward: out");
  const float* w = f32_covering(table, H, "position_bias_forward: table");
  const int32_t* bucket = i32_covering(buckets, cells, "position_bias_forward: buckets");
  require_indices_below(bucket, cells, table.count / H, "position_bias_forward: bucket");
#pragma omp parallel for collapse(2) if (cells * H > kParallelElements)
  for (int h = 0; h < H; ++h) {
    for (int i = 0; i < Tq; ++i) {
      float* yr = y + (static_cast<size_t>(h) * Tq + i) * Tk;
      const int32_t* br = bucket + product(i, Tk);
      for (int j = 0; j < Tk; ++j) yr[j] = w[static_cast<size_t>(br[j]) * H + h];
    }
  }
}

void position_bias_backward(Tensor dtable, Tensor dout, Tensor buckets, int H, int Tq, int Tk) {
  const size_t cells = product(Tq, Tk);
  float* dw = f32_covering(dtable, H, "position_bias_backward: dtable");
  const float* dy = f32_covering(dout, cells * H, "position_bias_backward: dout");
  const int32_t* bucket = i32_covering(buckets, cells, "position_bias_backward: buckets");
  require_indices_below(bucket, cells, dtable.count / H, "position_bias_backward: bucket");
  // Head h owns column h of the table: threads split heads and never collide.
#pragma omp parallel for if (cells * H > kParallelElements)
  for (int h = 0; h < H; ++h) {
    const float* dyh = dy + cells * h;
    for (size_t cell = 0; cell < cells; ++cell) {
      dw[static_cast<size_t>(bucket[cell]) * H + h] += dyh[cell];
    }
  }
}

}  // namespace molt::kernels::cpu
