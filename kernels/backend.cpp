// The parts of backend.h that belong to no device: dtype sizes and names, Tensor views,
// and the factory for the CPU backend (whose implementation lives in cpu/).
#include "kernels/backend.h"

#include <algorithm>
#include <cstdlib>
#include <new>
#include <stdexcept>
#include <string>

#include "kernels/cpu/cpu_backend.h"

namespace molt::kernels {

size_t dtype_bytes(DType dtype) {
  switch (dtype) {
    case DType::kF32: return 4;
    case DType::kBF16: return 2;
    case DType::kI32: return 4;
  }
  throw std::logic_error("dtype_bytes: unknown dtype");
}

const char* dtype_name(DType dtype) {
  switch (dtype) {
    case DType::kF32: return "f32";
    case DType::kBF16: return "bf16";
    case DType::kI32: return "i32";
  }
  throw std::logic_error("dtype_name: unknown dtype");
}

Tensor Tensor::slice(size_t offset, size_t n) const {
  if (offset > count || n > count - offset) {
    throw std::logic_error("Tensor::slice [" + std::to_string(offset) + ", " +
                           std::to_string(offset + n) + ") outside a view of " +
                           std::to_string(count) + " elements");
  }
  Tensor view = *this;
  view.data = data == nullptr ? nullptr : static_cast<char*>(data) + offset * dtype_bytes(dtype);
  view.count = n;
  return view;
}

void* Backend::allocate_host(size_t bytes) {
  void* host = std::malloc(bytes == 0 ? 1 : bytes);
  if (host == nullptr) throw std::bad_alloc();
  return host;
}

void Backend::free_host(void* host) { std::free(host); }

void Backend::count_allocation(const Tensor& tensor) {
  memory_.current_bytes += tensor.bytes();
  memory_.peak_bytes = std::max(memory_.peak_bytes, memory_.current_bytes);
}

void Backend::count_free(const Tensor& tensor) {
  memory_.current_bytes -= std::min(memory_.current_bytes, tensor.bytes());
}

void Backend::count_own_bytes(size_t allocated, size_t freed) {
  memory_.own_bytes += allocated;
  memory_.own_bytes -= std::min(memory_.own_bytes, freed);
}

static void require_dtype(DType have, DType want) {
  if (have != want) {
    throw std::logic_error(std::string("Tensor is ") + dtype_name(have) + ", expected " +
                           dtype_name(want));
  }
}

float* Tensor::f32() const {
  require_dtype(dtype, DType::kF32);
  return static_cast<float*>(data);
}

int32_t* Tensor::i32() const {
  require_dtype(dtype, DType::kI32);
  return static_cast<int32_t*>(data);
}

void Backend::matmul_gelu_forward(Tensor out, Tensor pre, Tensor in, Tensor weight, Tensor bias,
                                  int M, int K, int N) {
  matmul_forward(pre, in, weight, bias, M, K, N);
  gelu_forward(out, pre);
}

void Backend::matmul_gelu_backward(Tensor dpre, Tensor dweight, Tensor dbias, Tensor dout,
                                   Tensor in, Tensor weight, Tensor pre, Tensor scratch, int M,
                                   int K, int N) {
  matmul_backward(scratch, dweight, dbias, dout, in, weight, M, K, N, Din::kWrite);
  fill(dpre, 0.0f);
  gelu_backward(dpre, scratch, pre);
}

std::unique_ptr<Backend> make_cpu_backend() { return std::make_unique<cpu::CpuBackend>(); }

}  // namespace molt::kernels
