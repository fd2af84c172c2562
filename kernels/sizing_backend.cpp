#include "kernels/sizing_backend.h"

#include <cstdint>
#include <stdexcept>
#include <string>

namespace molt::kernels {
namespace {

class SizingBackend final : public Backend {
 public:
  explicit SizingBackend(DType compute_dtype) : compute_dtype_(compute_dtype) {}

  std::string name() const override { return "sizing"; }
  DType compute_dtype() const override { return compute_dtype_; }

  Tensor allocate(DType dtype, size_t count) override {
    Tensor tensor;
    tensor.dtype = dtype;
    tensor.count = count;
    if (count == 0) return tensor;
    // Distinct, 64-byte aligned, never dereferenced: views and comparisons of buffers work.
    tensor.data = reinterpret_cast<void*>(next_address_);
    next_address_ += (tensor.bytes() + 63) / 64 * 64;
    count_allocation(tensor);
    return tensor;
  }
  void free(Tensor tensor) override {
    if (tensor.data != nullptr) count_free(tensor);
  }
  void upload(Tensor, const void*) override {}
  void download(void*, Tensor) override { refuse("download"); }
  void synchronize() override {}

  void fill(Tensor, float) override {}
  void copy(Tensor, Tensor) override { refuse("copy"); }
  void scale(Tensor, float) override { refuse("scale"); }
  void add(Tensor, Tensor, Tensor) override { refuse("add"); }
  void accumulate(Tensor, Tensor) override { refuse("accumulate"); }
  void matmul_forward(Tensor, Tensor, Tensor, Tensor, int, int, int) override {
    refuse("matmul_forward");
  }
  void matmul_backward(Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, int, int, int,
                       Din) override {
    refuse("matmul_backward");
  }
  void layernorm_forward(Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, int, int,
                         float) override {
    refuse("layernorm_forward");
  }
  void layernorm_backward(Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, int,
                          int) override {
    refuse("layernorm_backward");
  }
  void rmsnorm_forward(Tensor, Tensor, Tensor, Tensor, int, int, float) override {
    refuse("rmsnorm_forward");
  }
  void rmsnorm_backward(Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, int, int) override {
    refuse("rmsnorm_backward");
  }
  void gelu_forward(Tensor, Tensor) override { refuse("gelu_forward"); }
  void gelu_backward(Tensor, Tensor, Tensor) override { refuse("gelu_backward"); }
  void gated_gelu_forward(Tensor, Tensor, Tensor) override { refuse("gated_gelu_forward"); }
  void gated_gelu_backward(Tensor, Tensor, Tensor, Tensor, Tensor) override {
    refuse("gated_gelu_backward");
  }
  void attention_forward(Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor,
                         const AttentionShape&) override {
    refuse("attention_forward");
  }
  void attention_backward(Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor,
                          Tensor, Tensor, Tensor, const AttentionShape&) override {
    refuse("attention_backward");
  }
  void embedding_forward(Tensor, Tensor, Tensor, Tensor, int, int, int) override {
    refuse("embedding_forward");
  }
  void embedding_backward(Tensor, Tensor, Tensor, Tensor, int, int, int) override {
    refuse("embedding_backward");
  }
  void position_bias_forward(Tensor, Tensor, Tensor, int, int, int) override {
    refuse("position_bias_forward");
  }
  void position_bias_backward(Tensor, Tensor, Tensor, int, int, int) override {
    refuse("position_bias_backward");
  }
  void cross_entropy(Tensor, Tensor, Tensor, int, int, int, float) override {
    refuse("cross_entropy");
  }
  void adamw(Tensor, Tensor, Tensor, Tensor, Tensor, const AdamWStep&) override {
    refuse("adamw");
  }
  double sum_of_squares(Tensor) override {
    refuse("sum_of_squares");
    return 0;
  }

 private:
  [[noreturn]] static void refuse(const char* op) {
    throw std::logic_error(std::string("the sizing backend runs no op (") + op + ")");
  }

  DType compute_dtype_;
  uintptr_t next_address_ = 4096;
};

}  // namespace

std::unique_ptr<Backend> make_sizing_backend(DType compute_dtype) {
  return std::make_unique<SizingBackend>(compute_dtype);
}

}  // namespace molt::kernels
