// The CUDA backend against the CPU backend, op by op, on random inputs, in both compute
// dtypes (f32 and bf16). The CPU backend is the reference: its own tests hold it to a
// double-precision oracle (reference_ops.h), so here the only question is whether the
// GPU computes the same thing.
//
// How bf16 is compared: every input that the GPU holds in the compute dtype is first
// rounded to bf16 on the host, and the CPU gets exactly those rounded values in f32. Both
// backends then compute from identical inputs, and what is left to tolerate is the GPU's
// own rounding of its outputs to bf16 (≤ 2⁻⁹ relative) plus f32 summation order. So bf16
// tolerances are ~1e-2 relative, not the much looser bound a bf16 model-vs-f32 model
// comparison would need. Backward ops are fed the same saved forward values (out, lse,
// mean, rstd) on both sides, so each op is tested in isolation.
//
// Tolerances (atol, rtol) per op, f32 compute | bf16 compute:
//   memory, copy                 exact (bit-identical bf16 rounding to cpu/bf16.h)
//   fill, scale, add, accumulate 1e-6, 1e-6     | 1e-6, 4e-3   (one rounding to bf16)
//   matmul fwd/bwd               2e-4, 2e-4     | 1e-2, 1e-2   (OpenBLAS vs cuBLAS order)
//   layernorm, rmsnorm fwd/bwd   1e-4, 1e-4     | 2e-2, 2e-2
//   gelu, gated gelu fwd/bwd     1e-5, 1e-5     | 1e-5, 1e-2   (CPU tanh is a few-ulp approx)
//   attention forward, lse       2e-4, 2e-4     | 1e-2, 1e-2
//   attention backward, dbias    5e-4, 5e-4     | 2e-2, 2e-2
//   embedding fwd / bwd          1e-6, 1e-6 / 1e-5, 1e-5 | 1e-6, 4e-3 / 1e-5, 1e-5
//   position bias fwd / bwd      exact / 1e-4, 1e-4 (f32 in both modes)
//   cross-entropy losses         1e-4, 1e-5 (f32 in both modes)
//   cross-entropy dlogits        1e-9, 1e-4     | 1e-9, 1e-2
//   adamw params, m, v           1e-6, 1e-5 (f32 master state in both modes); compute copy
//                                exact (= the GPU's own master, rounded)
//   sum_of_squares               rtol 1e-11 (both sum exact f32 squares in double, in
//                                different orders: ~√n·2⁻⁵³ apart)
// Outputs that are f32 in a bf16 run (lse, mean/rstd, parameter gradients) are held to the
// op's bf16 bound — loose for them, but a wrong kernel misses by far more than 1e-2.
//
// Without a GPU (cudaGetDeviceCount fails or finds none) every test skips with the reason.
// The binary exists only in builds with nvcc (tests/CMakeLists.txt). Those builds also
// compile this file into molt_cuda_stand_in_tests with MOLT_CUDA_STAND_IN: the CPU backend
// stands in for CUDA in f32 (bf16 and the CUDA-only contracts skip), so each test's own
// logic runs in CI and a GPU session is not spent on a broken test.
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <ostream>
#include <random>
#include <stdexcept>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "kernels/cpu/bf16.h"
#include "kernels/cuda/attention.h"
#include "kernels/cuda/matmul.h"
#include "kernels/error.h"
#include "tests/kernels/attention_problem.h"
#include "tests/kernels/kernel_test_support.h"

namespace molt::kernels::testing {
namespace {

struct Tolerance {
  double atol, rtol;
};

// One bound per compute dtype.
struct OpTolerance {
  Tolerance f32, bf16;
};

constexpr OpTolerance kElementwise{{1e-6, 1e-6}, {1e-6, 4e-3}};
constexpr OpTolerance kMatmul{{2e-4, 2e-4}, {1e-2, 1e-2}};
constexpr OpTolerance kNorm{{1e-4, 1e-4}, {2e-2, 2e-2}};
constexpr OpTolerance kGelu{{1e-5, 1e-5}, {1e-5, 1e-2}};
constexpr OpTolerance kAttentionForward{{2e-4, 2e-4}, {1e-2, 1e-2}};
constexpr OpTolerance kAttentionBackward{{5e-4, 5e-4}, {2e-2, 2e-2}};
constexpr OpTolerance kEmbeddingForward{{1e-6, 1e-6}, {1e-6, 4e-3}};
constexpr OpTolerance kScatterAdd{{1e-5, 1e-5}, {1e-5, 1e-5}};
constexpr OpTolerance kPositionBiasBackward{{1e-4, 1e-4}, {1e-4, 1e-4}};
constexpr OpTolerance kLosses{{1e-4, 1e-5}, {1e-4, 1e-5}};
constexpr OpTolerance kLogitGradients{{1e-9, 1e-4}, {1e-9, 1e-2}};
constexpr OpTolerance kAdamW{{1e-6, 1e-5}, {1e-6, 1e-5}};

// Why this process cannot use a GPU, or "" when it can.
std::string missing_device() {
#ifdef MOLT_CUDA_STAND_IN
  return "";
#endif
  int count = 0;
  const cudaError_t status = cudaGetDeviceCount(&count);
  if (status != cudaSuccess) {
    cudaGetLastError();  // clear it, so nothing later trips over it
    return std::string("cudaGetDeviceCount failed: ") + cudaGetErrorName(status) + " (" +
           cudaGetErrorString(status) + ")";
  }
  if (count == 0) return "cudaGetDeviceCount found 0 devices";
  return "";
}

const char* short_name(DType dtype) { return dtype == DType::kBF16 ? "bf16" : "f32"; }

// Rows whose lse is −inf (queries that see no key) compare as one finite sentinel.
std::vector<float> finite_lse(std::vector<float> x) {
  for (float& v : x)
    if (std::isinf(v) && v < 0) v = -1e30f;
  return x;
}

// A CPU backend, a CUDA backend with the compute dtype under test, and the buffers a test
// allocates on either, freed when the test ends.
class CudaVsCpuTest : public ::testing::Test {
 protected:
  ~CudaVsCpuTest() override {
    for (auto& [backend, tensor] : owned_) backend->free(tensor);
  }

  // Called from a fixture's SetUp once a device is known to exist.
  void start(DType compute) {
    dtype_ = compute;
#ifdef MOLT_CUDA_STAND_IN
    if (compute == DType::kBF16) GTEST_SKIP() << "the CPU stands in for CUDA in f32 only";
    cuda_ = make_cpu_backend();
#else
    cuda_ = make_cuda_backend(0, compute);
#endif
  }

  Backend& cpu() { return *cpu_; }
  Backend& gpu() { return *cuda_; }
  DType dtype() const { return dtype_; }
  bool bf16() const { return dtype_ == DType::kBF16; }
  Tolerance tolerance(const OpTolerance& op) const { return bf16() ? op.bf16 : op.f32; }

  // x as a compute buffer of this run holds it: rounded to bf16 in a bf16 run.
  std::vector<float> representable(std::vector<float> x) const {
    if (bf16())
      for (float& v : x) v = cpu::f32_from_bf16(cpu::bf16_from_f32(v));
    return x;
  }
  std::vector<float> compute_values(size_t n, uint32_t seed, float stddev = 1.0f) const {
    return representable(random_normal(n, seed, stddev));
  }

  Tensor own(Backend& backend, Tensor t) {
    owned_.emplace_back(&backend, t);
    return t;
  }

  // CPU buffers (always f32 / i32). An empty vector gives an empty (absent) Tensor.
  Tensor on_cpu(const std::vector<float>& x) {
    Tensor t = own(cpu(), cpu().allocate(DType::kF32, x.size()));
    cpu().upload(t, x.data());
    return t;
  }
  Tensor on_cpu(const std::vector<int32_t>& x) {
    Tensor t = own(cpu(), cpu().allocate(DType::kI32, x.size()));
    cpu().upload(t, x.data());
    return t;
  }

  // GPU buffers of a given float dtype; bf16 uploads the rounded bit patterns.
  Tensor on_gpu(const std::vector<float>& x, DType dtype) {
    Tensor t = own(gpu(), gpu().allocate(dtype, x.size()));
    if (dtype == DType::kBF16) {
      std::vector<uint16_t> bits(x.size());
      for (size_t i = 0; i < x.size(); ++i) bits[i] = cpu::bf16_from_f32(x[i]);
      gpu().upload(t, bits.data());
    } else {
      gpu().upload(t, x.data());
    }
    return t;
  }
  Tensor on_gpu(const std::vector<int32_t>& x) {
    Tensor t = own(gpu(), gpu().allocate(DType::kI32, x.size()));
    gpu().upload(t, x.data());
    return t;
  }
  Tensor gpu_compute(const std::vector<float>& x) { return on_gpu(x, dtype_); }
  Tensor gpu_f32(const std::vector<float>& x) { return on_gpu(x, DType::kF32); }

  std::vector<float> from_cpu(Tensor t) {
    std::vector<float> out(t.count);
    cpu().download(out.data(), t);
    return out;
  }
  // Widened to f32 whatever the buffer's dtype.
  std::vector<float> from_gpu(Tensor t) {
    std::vector<float> out(t.count);
    if (t.dtype == DType::kBF16) {
      std::vector<uint16_t> bits(t.count);
      gpu().download(bits.data(), t);
      for (size_t i = 0; i < t.count; ++i) out[i] = cpu::f32_from_bf16(bits[i]);
    } else {
      gpu().download(out.data(), t);
    }
    return out;
  }

  // The GPU buffer against the CPU buffer, within the op's bound for this run.
  ::testing::AssertionResult same(Tensor on_gpu_side, Tensor on_cpu_side, const OpTolerance& op) {
    const Tolerance t = tolerance(op);
    return all_near(from_gpu(on_gpu_side), to_double(from_cpu(on_cpu_side)), t.atol, t.rtol);
  }

 private:
  std::unique_ptr<Backend> cpu_ = make_cpu_backend();
  std::unique_ptr<Backend> cuda_;
  DType dtype_ = DType::kF32;
  std::vector<std::pair<Backend*, Tensor>> owned_;
};

// A contract of the CUDA backend alone (its name, deferred index errors, its messages):
// skipped where the CPU stands in for it.
#ifdef MOLT_CUDA_STAND_IN
#define MOLT_CUDA_ONLY() GTEST_SKIP() << "a contract of the CUDA backend alone"
#else
#define MOLT_CUDA_ONLY() static_cast<void>(0)
#endif

class CudaBackendTest : public CudaVsCpuTest, public ::testing::WithParamInterface<DType> {
 protected:
  void SetUp() override {
    const std::string missing = missing_device();
    if (!missing.empty()) GTEST_SKIP() << "no CUDA device: " << missing;
    start(GetParam());
  }
};

// ---- memory and elementwise ---------------------------------------------------------------

TEST_P(CudaBackendTest, AllocationsAreZeroFilledAndUploadsRoundTrip) {
  MOLT_CUDA_ONLY();
  EXPECT_EQ(gpu().name(), "cuda:0");
  EXPECT_EQ(gpu().compute_dtype(), dtype());
  for (DType d : {DType::kF32, DType::kBF16}) {
    Tensor t = own(gpu(), gpu().allocate(d, 1001));
    EXPECT_EQ(t.dtype, d);
    EXPECT_EQ(from_gpu(t), std::vector<float>(1001, 0.0f)) << short_name(d);
  }
  Tensor ids = own(gpu(), gpu().allocate(DType::kI32, 77));
  std::vector<int32_t> back(77, 5);
  gpu().download(back.data(), ids);
  EXPECT_EQ(back, std::vector<int32_t>(77, 0));
  const auto values = random_normal(1001, 1);
  EXPECT_EQ(from_gpu(gpu_f32(values)), values);
  const auto rounded = representable(values);
  EXPECT_EQ(from_gpu(gpu_compute(rounded)), rounded);
  const auto ints = random_ints(77, 1000, 2);
  std::vector<int32_t> ints_back(77);
  gpu().download(ints_back.data(), on_gpu(ints));
  EXPECT_EQ(ints_back, ints);
  Tensor whole = gpu_f32(values);
  EXPECT_EQ(from_gpu(whole.slice(10, 5)),
            std::vector<float>(values.begin() + 10, values.begin() + 15));
  EXPECT_TRUE(gpu().allocate(DType::kF32, 0).empty());
  gpu().synchronize();
}

TEST_P(CudaBackendTest, CopyRoundsToBf16ExactlyAsTheCpuDoes) {
  // Random values plus exact ties (the dropped half is 0x8000) both ways, and signed zero.
  auto values = random_normal(4099, 3, 10.0f);
  const uint32_t ties[] = {0x3F808000u, 0x3F818000u, 0xBF808000u, 0x80000000u};
  for (uint32_t bits : ties) {
    float f;
    std::memcpy(&f, &bits, sizeof f);
    values.push_back(f);
  }
  Tensor f32 = gpu_f32(values);
  Tensor narrowed = own(gpu(), gpu().allocate(DType::kBF16, values.size()));
  gpu().copy(narrowed, f32);
  std::vector<uint16_t> bits(values.size());
  gpu().download(bits.data(), narrowed);
  for (size_t i = 0; i < values.size(); ++i)
    ASSERT_EQ(bits[i], cpu::bf16_from_f32(values[i])) << "value " << values[i];
  Tensor widened = own(gpu(), gpu().allocate(DType::kF32, values.size()));
  gpu().copy(widened, narrowed);
  EXPECT_EQ(from_gpu(widened), from_gpu(narrowed));
  Tensor same_dtype = own(gpu(), gpu().allocate(DType::kF32, values.size()));
  gpu().copy(same_dtype, f32);
  EXPECT_EQ(from_gpu(same_dtype), values);
  const auto ints = random_ints(50, 100, 4);
  Tensor ints_copy = own(gpu(), gpu().allocate(DType::kI32, 50));
  gpu().copy(ints_copy, on_gpu(ints));
  std::vector<int32_t> ints_back(50);
  gpu().download(ints_back.data(), ints_copy);
  EXPECT_EQ(ints_back, ints);
  EXPECT_THROW(gpu().copy(ints_copy, gpu_f32(random_normal(50, 5))), std::logic_error);
}

TEST_P(CudaBackendTest, FillScaleAddAccumulateMatchCpu) {
  const size_t n = 70001;                   // odd, so the last block of threads is partial
  for (DType d : {dtype(), DType::kF32}) {  // compute buffers, and f32 gradients
    SCOPED_TRACE(short_name(d));
    const auto a = compute_values(n, 1), b = compute_values(n, 2);
    Tensor ga = on_gpu(a, d), gb = on_gpu(b, d), gout = on_gpu(random_normal(n, 3), d);
    Tensor ca = on_cpu(a), cb = on_cpu(b), cout = on_cpu(random_normal(n, 3));
    gpu().add(gout, ga, gb);
    cpu().add(cout, ca, cb);
    EXPECT_TRUE(same(gout, cout, kElementwise));
    gpu().accumulate(ga, gb);
    cpu().accumulate(ca, cb);
    EXPECT_TRUE(same(ga, ca, kElementwise));
    gpu().scale(gb, -0.37f);
    cpu().scale(cb, -0.37f);
    EXPECT_TRUE(same(gb, cb, kElementwise));
    gpu().fill(gout, 0.25f);
    EXPECT_EQ(from_gpu(gout), std::vector<float>(n, 0.25f));
  }
}

TEST_P(CudaBackendTest, SumOfSquaresMatchesCpu) {
  const auto x = random_normal(1000003, 6, 3.0f);
  const double expected = cpu().sum_of_squares(on_cpu(x));
  EXPECT_NEAR(gpu().sum_of_squares(gpu_f32(x)), expected, 1e-11 * expected);
  EXPECT_EQ(gpu().sum_of_squares(Tensor{}), 0.0);
}

// ---- linear layers ------------------------------------------------------------------------

TEST_P(CudaBackendTest, MatmulMatchesCpuForwardAndAccumulatingBackward) {
  struct Size {
    int M, K, N;
  };
  for (const Size s : {Size{7, 13, 5}, Size{1, 1, 1}, Size{1, 64, 257}, Size{131, 67, 3},
                       Size{300, 129, 97}, Size{64, 768, 2304}, Size{3, 256, 1000}}) {
    SCOPED_TRACE(std::to_string(s.M) + "x" + std::to_string(s.K) + "x" + std::to_string(s.N));
    const auto x = compute_values(size_t(s.M) * s.K, 1), w = compute_values(size_t(s.N) * s.K, 2),
               b = compute_values(s.N, 3);
    Tensor gx = gpu_compute(x), gw = gpu_compute(w), cx = on_cpu(x), cw = on_cpu(w);
    // Forward overwrites whatever out held, with and without a bias.
    Tensor gout = gpu_compute(random_normal(size_t(s.M) * s.N, 9));
    Tensor cout = on_cpu(random_normal(size_t(s.M) * s.N, 9));
    gpu().matmul_forward(gout, gx, gw, gpu_compute(b), s.M, s.K, s.N);
    cpu().matmul_forward(cout, cx, cw, on_cpu(b), s.M, s.K, s.N);
    EXPECT_TRUE(same(gout, cout, kMatmul));
    gpu().matmul_forward(gout, gx, gw, Tensor{}, s.M, s.K, s.N);
    cpu().matmul_forward(cout, cx, cw, Tensor{}, s.M, s.K, s.N);
    EXPECT_TRUE(same(gout, cout, kMatmul));
    // Backward adds into gradients that already hold something.
    const auto dy = compute_values(size_t(s.M) * s.N, 4);
    const auto dx0 = compute_values(size_t(s.M) * s.K, 5);
    const auto dw0 = random_normal(size_t(s.N) * s.K, 6), db0 = random_normal(s.N, 7);
    Tensor gdx = gpu_compute(dx0), gdw = gpu_f32(dw0), gdb = gpu_f32(db0);
    Tensor cdx = on_cpu(dx0), cdw = on_cpu(dw0), cdb = on_cpu(db0);
    gpu().matmul_backward(gdx, gdw, gdb, gpu_compute(dy), gx, gw, s.M, s.K, s.N, Din::kAdd);
    cpu().matmul_backward(cdx, cdw, cdb, on_cpu(dy), cx, cw, s.M, s.K, s.N, Din::kAdd);
    EXPECT_TRUE(same(gdx, cdx, kMatmul));
    EXPECT_TRUE(same(gdw, cdw, kMatmul));
    EXPECT_TRUE(same(gdb, cdb, kMatmul));
    // din written (Din::kWrite) over what the add left; the parameter gradients still add.
    gpu().matmul_backward(gdx, gdw, gdb, gpu_compute(dy), gx, gw, s.M, s.K, s.N, Din::kWrite);
    cpu().matmul_backward(cdx, cdw, cdb, on_cpu(dy), cx, cw, s.M, s.K, s.N, Din::kWrite);
    EXPECT_TRUE(same(gdx, cdx, kMatmul));
    EXPECT_TRUE(same(gdw, cdw, kMatmul));
    EXPECT_TRUE(same(gdb, cdb, kMatmul));
    // Each output on its own (the others empty).
    gpu().matmul_backward(Tensor{}, gdw, Tensor{}, gpu_compute(dy), gx, gw, s.M, s.K, s.N,
                          Din::kAdd);
    cpu().matmul_backward(Tensor{}, cdw, Tensor{}, on_cpu(dy), cx, cw, s.M, s.K, s.N, Din::kAdd);
    EXPECT_TRUE(same(gdw, cdw, kMatmul));
    gpu().matmul_backward(Tensor{}, Tensor{}, gdb, gpu_compute(dy), gx, gw, s.M, s.K, s.N,
                          Din::kAdd);
    cpu().matmul_backward(Tensor{}, Tensor{}, cdb, on_cpu(dy), cx, cw, s.M, s.K, s.N, Din::kAdd);
    EXPECT_TRUE(same(gdb, cdb, kMatmul));
  }
}

// A test of the GEMM paths MOLT_CUDA_GEMM chooses between; it unsets the variable when done.
class CudaGemmPathTest : public CudaBackendTest {
 protected:
  struct Size {
    int M, K, N;
  };
  // check(s) for each size, with MOLT_CUDA_GEMM=gemm: GPT-2's shapes (K, N multiples of
  // 8) and small ones, then two the epilogues must leave to the unfused paths.
  template <class Check>
  void for_each_size(const char* gemm, Size gpt2_a, Size gpt2_b, const Check& check) {
    setenv("MOLT_CUDA_GEMM", gemm, 1);
    for (const Size s :
         {gpt2_a, gpt2_b, Size{5, 16, 8}, Size{33, 64, 200}, Size{16, 12, 8}, Size{16, 16, 12}}) {
      SCOPED_TRACE(std::string(gemm) + " " + std::to_string(s.M) + "x" + std::to_string(s.K) + "x" +
                   std::to_string(s.N));
      check(s);
    }
  }
  void TearDown() override { unsetenv("MOLT_CUDA_GEMM"); }
};

// The forward with a bias both ways: cuBLASLt's bias epilogue (aligned shapes, the default)
// and the broadcast path (MOLT_CUDA_GEMM=cublas), each against the CPU, as two tests so a
// GPU session can tell which path failed. The shapes include GPT-2's (K, N multiples of 8)
// and ones the epilogue must leave to the broadcast path.
class CudaBiasGemmTest : public CudaGemmPathTest {
 protected:
  void check_forward_with_bias(const char* gemm) {
    for_each_size(gemm, Size{64, 768, 2304}, Size{1024, 768, 3072}, [&](Size s) {
      const auto x = compute_values(size_t(s.M) * s.K, 21),
                 w = compute_values(size_t(s.N) * s.K, 22), b = compute_values(s.N, 23, 3.0f);
      Tensor gout = gpu_compute(random_normal(size_t(s.M) * s.N, 24));
      Tensor cout = on_cpu(random_normal(size_t(s.M) * s.N, 24));
      gpu().matmul_forward(gout, gpu_compute(x), gpu_compute(w), gpu_compute(b), s.M, s.K, s.N);
      cpu().matmul_forward(cout, on_cpu(x), on_cpu(w), on_cpu(b), s.M, s.K, s.N);
      EXPECT_TRUE(same(gout, cout, kMatmul));
    });
  }
};

TEST_P(CudaBiasGemmTest, MatmulWithBiasThroughTheEpilogueMatchesCpu) {
  check_forward_with_bias("auto");
}
TEST_P(CudaBiasGemmTest, MatmulWithBiasThroughTheBroadcastMatchesCpu) {
  check_forward_with_bias("cublas");
}
INSTANTIATE_TEST_SUITE_P(ComputeDtypes, CudaBiasGemmTest,
                         ::testing::Values(DType::kF32, DType::kBF16),
                         [](const auto& info) { return std::string(short_name(info.param)); });

// The switch between the two paths; host code, so it runs without a GPU too.
TEST(CudaGemmChoice, MoltCudaGemmIsAutoOrCublas) {
  unsetenv("MOLT_CUDA_GEMM");
  EXPECT_TRUE(cuda::bias_epilogue_allowed());
  setenv("MOLT_CUDA_GEMM", "auto", 1);
  EXPECT_TRUE(cuda::bias_epilogue_allowed());
  setenv("MOLT_CUDA_GEMM", "cublas", 1);
  EXPECT_FALSE(cuda::bias_epilogue_allowed());
  setenv("MOLT_CUDA_GEMM", "cublaslt", 1);
  EXPECT_THROW(cuda::bias_epilogue_allowed(), UserError);
  unsetenv("MOLT_CUDA_GEMM");
}

// A linear layer with GELU after it (GPT-2's MLP): the forward and the backward on through
// the GELU, against the CPU backend's unfused ops. In bf16 with aligned shapes the CUDA
// backend puts the GELU (and its gradient) into cuBLASLt's epilogue; f32, odd shapes and
// MOLT_CUDA_GEMM=cublas take the unfused ops. dpre starts as junk (it is written, not
// added to); dweight and dbias start non-zero (they are added to).
class CudaGeluGemmTest : public CudaGemmPathTest {
 protected:
  void check(const char* gemm) {
    for_each_size(gemm, Size{64, 768, 3072}, Size{40, 3072, 768}, [&](Size s) {
      const size_t mk = size_t(s.M) * s.K, mn = size_t(s.M) * s.N, nk = size_t(s.N) * s.K;
      const auto x = compute_values(mk, 31), w = compute_values(nk, 32, 0.05f),
                 b = compute_values(s.N, 33);
      // Forward: out = gelu(pre), pre = x·wᵀ + b, with and without b.
      for (const bool with_bias : {true, false}) {
        Tensor gout = gpu_compute(random_normal(mn, 34)), gpre = gpu_compute(random_normal(mn, 35));
        Tensor cout = on_cpu(random_normal(mn, 34)), cpre = on_cpu(random_normal(mn, 35));
        gpu().matmul_gelu_forward(gout, gpre, gpu_compute(x), gpu_compute(w),
                                  with_bias ? gpu_compute(b) : Tensor{}, s.M, s.K, s.N);
        cpu().matmul_gelu_forward(cout, cpre, on_cpu(x), on_cpu(w),
                                  with_bias ? on_cpu(b) : Tensor{}, s.M, s.K, s.N);
        EXPECT_TRUE(same(gpre, cpre, kMatmul)) << "pre, bias " << with_bias;
        EXPECT_TRUE(same(gout, cout, kMatmul)) << "out, bias " << with_bias;
      }
      // Backward of the layer whose input was gelu(pre): here pre is [M,K] and the layer
      // maps K to N, as GPT-2's c_proj maps 4C to C.
      const auto pre = compute_values(mk, 36, 2.0f), dy = compute_values(mn, 37);
      Tensor gelu_of_pre = on_cpu(pre);
      cpu().gelu_forward(gelu_of_pre, on_cpu(pre));
      const auto in = representable(from_cpu(gelu_of_pre));
      const auto junk = random_normal(mk, 38), dw0 = random_normal(nk, 39),
                 db0 = random_normal(s.N, 40);
      Tensor gdpre = gpu_compute(junk), gdw = gpu_f32(dw0), gdb = gpu_f32(db0);
      Tensor cdpre = on_cpu(junk), cdw = on_cpu(dw0), cdb = on_cpu(db0);
      gpu().matmul_gelu_backward(gdpre, gdw, gdb, gpu_compute(dy), gpu_compute(in), gpu_compute(w),
                                 gpu_compute(pre), gpu_compute(junk), s.M, s.K, s.N);
      cpu().matmul_gelu_backward(cdpre, cdw, cdb, on_cpu(dy), on_cpu(in), on_cpu(w), on_cpu(pre),
                                 on_cpu(junk), s.M, s.K, s.N);
      EXPECT_TRUE(same(gdpre, cdpre, kMatmul));
      EXPECT_TRUE(same(gdw, cdw, kMatmul));
      EXPECT_TRUE(same(gdb, cdb, kMatmul));
      // Without the parameter gradients.
      gpu().matmul_gelu_backward(gdpre, Tensor{}, Tensor{}, gpu_compute(dy), gpu_compute(in),
                                 gpu_compute(w), gpu_compute(pre), gpu_compute(junk), s.M, s.K,
                                 s.N);
      EXPECT_TRUE(same(gdpre, cdpre, kMatmul));
    });
  }
};

#ifdef MOLT_CUDA_EMULATED
// cublasLtMatmul calls so far with the GELU epilogues, forward and backward.
std::pair<long, long> gelu_epilogue_calls() {
  return {molt_emu::lt_matmul_calls(CUBLASLT_EPILOGUE_GELU_AUX_BIAS) +
              molt_emu::lt_matmul_calls(CUBLASLT_EPILOGUE_GELU_AUX),
          molt_emu::lt_matmul_calls(CUBLASLT_EPILOGUE_DGELU)};
}
#endif

TEST_P(CudaGeluGemmTest, ThroughTheEpilogueMatchesCpu) {
#ifdef MOLT_CUDA_EMULATED
  const auto before = gelu_epilogue_calls();
#endif
  check("auto");
#ifdef MOLT_CUDA_EMULATED
  // The epilogues ran, in bf16 only: for the four aligned shapes (twice forward, twice
  // backward each), and never for the two odd ones.
  const auto after = gelu_epilogue_calls();
  EXPECT_EQ(after.first - before.first, bf16() ? 8 : 0);
  EXPECT_EQ(after.second - before.second, bf16() ? 8 : 0);
#endif
}
TEST_P(CudaGeluGemmTest, ThroughTheSeparateGeluMatchesCpu) {
#ifdef MOLT_CUDA_EMULATED
  const auto before = gelu_epilogue_calls();
#endif
  check("cublas");
#ifdef MOLT_CUDA_EMULATED
  EXPECT_EQ(gelu_epilogue_calls(), before);
#endif
}
INSTANTIATE_TEST_SUITE_P(ComputeDtypes, CudaGeluGemmTest,
                         ::testing::Values(DType::kF32, DType::kBF16),
                         [](const auto& info) { return std::string(short_name(info.param)); });

// ---- normalisation ------------------------------------------------------------------------

TEST_P(CudaBackendTest, LayerNormMatchesCpu) {
  struct Size {
    int N, C;
  };
  for (const Size s : {Size{300, 771}, Size{5, 8}, Size{64, 1024}, Size{129, 33}}) {
    SCOPED_TRACE(std::to_string(s.N) + "x" + std::to_string(s.C));
    const size_t NC = size_t(s.N) * s.C;
    const auto x = compute_values(NC, 1, 2.0f), w = compute_values(s.C, 2),
               b = compute_values(s.C, 3);
    Tensor gout = gpu_compute(random_normal(NC, 4)), gmean = gpu_f32(random_normal(s.N, 5)),
           grstd = gpu_f32(random_normal(s.N, 6));
    Tensor cout = on_cpu(random_normal(NC, 4)), cmean = on_cpu(random_normal(s.N, 5)),
           crstd = on_cpu(random_normal(s.N, 6));
    gpu().layernorm_forward(gout, gmean, grstd, gpu_compute(x), gpu_compute(w), gpu_compute(b), s.N,
                            s.C, 1e-5f);
    cpu().layernorm_forward(cout, cmean, crstd, on_cpu(x), on_cpu(w), on_cpu(b), s.N, s.C, 1e-5f);
    EXPECT_TRUE(same(gout, cout, kNorm));
    EXPECT_TRUE(same(gmean, cmean, kNorm));
    EXPECT_TRUE(same(grstd, crstd, kNorm));
    // Backward from the CPU's saved statistics on both sides.
    const auto mean = from_cpu(cmean), rstd = from_cpu(crstd);
    const auto dy = compute_values(NC, 7), dx0 = compute_values(NC, 8);
    const auto dw0 = random_normal(s.C, 9), db0 = random_normal(s.C, 10);
    Tensor gdx = gpu_compute(dx0), gdw = gpu_f32(dw0), gdb = gpu_f32(db0);
    Tensor cdx = on_cpu(dx0), cdw = on_cpu(dw0), cdb = on_cpu(db0);
    gpu().layernorm_backward(gdx, gdw, gdb, gpu_compute(dy), gpu_compute(x), gpu_compute(w),
                             gpu_f32(mean), gpu_f32(rstd), s.N, s.C);
    cpu().layernorm_backward(cdx, cdw, cdb, on_cpu(dy), on_cpu(x), on_cpu(w), on_cpu(mean),
                             on_cpu(rstd), s.N, s.C);
    EXPECT_TRUE(same(gdx, cdx, kNorm));
    EXPECT_TRUE(same(gdw, cdw, kNorm));
    EXPECT_TRUE(same(gdb, cdb, kNorm));
    // Parameter gradients alone, and no bias.
    gpu().layernorm_backward(Tensor{}, gdw, Tensor{}, gpu_compute(dy), gpu_compute(x),
                             gpu_compute(w), gpu_f32(mean), gpu_f32(rstd), s.N, s.C);
    cpu().layernorm_backward(Tensor{}, cdw, Tensor{}, on_cpu(dy), on_cpu(x), on_cpu(w),
                             on_cpu(mean), on_cpu(rstd), s.N, s.C);
    EXPECT_TRUE(same(gdw, cdw, kNorm));
    gpu().layernorm_forward(gout, gmean, grstd, gpu_compute(x), gpu_compute(w), Tensor{}, s.N, s.C,
                            1e-5f);
    cpu().layernorm_forward(cout, cmean, crstd, on_cpu(x), on_cpu(w), Tensor{}, s.N, s.C, 1e-5f);
    EXPECT_TRUE(same(gout, cout, kNorm));
  }
}

TEST_P(CudaBackendTest, RmsNormMatchesCpu) {
  struct Size {
    int N, C;
  };
  for (const Size s : {Size{300, 771}, Size{5, 8}, Size{64, 512}}) {
    SCOPED_TRACE(std::to_string(s.N) + "x" + std::to_string(s.C));
    const size_t NC = size_t(s.N) * s.C;
    const auto x = compute_values(NC, 1, 2.0f), w = compute_values(s.C, 2);
    Tensor gout = gpu_compute(random_normal(NC, 4)), grstd = gpu_f32(random_normal(s.N, 6));
    Tensor cout = on_cpu(random_normal(NC, 4)), crstd = on_cpu(random_normal(s.N, 6));
    gpu().rmsnorm_forward(gout, grstd, gpu_compute(x), gpu_compute(w), s.N, s.C, 1e-6f);
    cpu().rmsnorm_forward(cout, crstd, on_cpu(x), on_cpu(w), s.N, s.C, 1e-6f);
    EXPECT_TRUE(same(gout, cout, kNorm));
    EXPECT_TRUE(same(grstd, crstd, kNorm));
    const auto rstd = from_cpu(crstd);
    const auto dy = compute_values(NC, 7), dx0 = compute_values(NC, 8);
    const auto dw0 = random_normal(s.C, 9);
    Tensor gdx = gpu_compute(dx0), gdw = gpu_f32(dw0);
    Tensor cdx = on_cpu(dx0), cdw = on_cpu(dw0);
    gpu().rmsnorm_backward(gdx, gdw, gpu_compute(dy), gpu_compute(x), gpu_compute(w), gpu_f32(rstd),
                           s.N, s.C);
    cpu().rmsnorm_backward(cdx, cdw, on_cpu(dy), on_cpu(x), on_cpu(w), on_cpu(rstd), s.N, s.C);
    EXPECT_TRUE(same(gdx, cdx, kNorm));
    EXPECT_TRUE(same(gdw, cdw, kNorm));
  }
}

// ---- activations --------------------------------------------------------------------------

TEST_P(CudaBackendTest, GeluMatchesCpu) {
  const size_t n = 100003;
  const auto x = compute_values(n, 1, 3.0f), dy = compute_values(n, 2), dx0 = compute_values(n, 3);
  Tensor gout = gpu_compute(random_normal(n, 4)), cout = on_cpu(random_normal(n, 4));
  gpu().gelu_forward(gout, gpu_compute(x));
  cpu().gelu_forward(cout, on_cpu(x));
  EXPECT_TRUE(same(gout, cout, kGelu));
  Tensor gdx = gpu_compute(dx0), cdx = on_cpu(dx0);
  gpu().gelu_backward(gdx, gpu_compute(dy), gpu_compute(x));
  cpu().gelu_backward(cdx, on_cpu(dy), on_cpu(x));
  EXPECT_TRUE(same(gdx, cdx, kGelu));
}

TEST_P(CudaBackendTest, GatedGeluMatchesCpu) {
  const size_t n = 100003;
  const auto gate = compute_values(n, 1, 3.0f), linear = compute_values(n, 2),
             dy = compute_values(n, 3), dg0 = compute_values(n, 4), dl0 = compute_values(n, 5);
  Tensor gout = gpu_compute(random_normal(n, 6)), cout = on_cpu(random_normal(n, 6));
  gpu().gated_gelu_forward(gout, gpu_compute(gate), gpu_compute(linear));
  cpu().gated_gelu_forward(cout, on_cpu(gate), on_cpu(linear));
  EXPECT_TRUE(same(gout, cout, kGelu));
  Tensor gdg = gpu_compute(dg0), gdl = gpu_compute(dl0), cdg = on_cpu(dg0), cdl = on_cpu(dl0);
  gpu().gated_gelu_backward(gdg, gdl, gpu_compute(dy), gpu_compute(gate), gpu_compute(linear));
  cpu().gated_gelu_backward(cdg, cdl, on_cpu(dy), on_cpu(gate), on_cpu(linear));
  EXPECT_TRUE(same(gdg, cdg, kGelu));
  EXPECT_TRUE(same(gdl, cdl, kGelu));
  // One gradient at a time, each onto fresh buffers: a second += onto the first's result
  // would add a rounding of the larger intermediate sum, which cancellation can make
  // larger than the op's bound relative to the final value.
  gdg = gpu_compute(dg0), gdl = gpu_compute(dl0), cdg = on_cpu(dg0), cdl = on_cpu(dl0);
  gpu().gated_gelu_backward(gdg, Tensor{}, gpu_compute(dy), gpu_compute(gate), gpu_compute(linear));
  cpu().gated_gelu_backward(cdg, Tensor{}, on_cpu(dy), on_cpu(gate), on_cpu(linear));
  EXPECT_TRUE(same(gdg, cdg, kGelu));
  EXPECT_EQ(from_gpu(gdl), dl0) << "without dlinear, its buffer is not touched";
  gpu().gated_gelu_backward(Tensor{}, gdl, gpu_compute(dy), gpu_compute(gate), gpu_compute(linear));
  cpu().gated_gelu_backward(Tensor{}, cdl, on_cpu(dy), on_cpu(gate), on_cpu(linear));
  EXPECT_TRUE(same(gdl, cdl, kGelu));
}

// ---- embeddings ---------------------------------------------------------------------------

TEST_P(CudaBackendTest, EmbeddingMatchesCpuWithAndWithoutPositions) {
  const int B = 3, T = 17, C = 40, vocab = 23;  // few ids, so rows repeat and collide
  const size_t rows = size_t(B) * T;
  const auto ids = random_ints(rows, vocab, 1);
  const auto table = compute_values(size_t(vocab) * C, 2), positions = compute_values(T * C, 3);
  Tensor gids = on_gpu(ids), cids = on_cpu(ids);
  for (bool with_positions : {true, false}) {
    SCOPED_TRACE(with_positions ? "positions" : "no positions");
    Tensor gout = gpu_compute(random_normal(rows * C, 4)),
           cout = on_cpu(random_normal(rows * C, 4));
    gpu().embedding_forward(gout, gids, gpu_compute(table),
                            with_positions ? gpu_compute(positions) : Tensor{}, B, T, C);
    cpu().embedding_forward(cout, cids, on_cpu(table),
                            with_positions ? on_cpu(positions) : Tensor{}, B, T, C);
    EXPECT_TRUE(same(gout, cout, kEmbeddingForward));
    const auto dy = compute_values(rows * C, 5);
    const auto dtable0 = random_normal(size_t(vocab) * C, 6), dpos0 = random_normal(T * C, 7);
    Tensor gdt = gpu_f32(dtable0), cdt = on_cpu(dtable0);
    Tensor gdp = with_positions ? gpu_f32(dpos0) : Tensor{};
    Tensor cdp = with_positions ? on_cpu(dpos0) : Tensor{};
    gpu().embedding_backward(gdt, gdp, gpu_compute(dy), gids, B, T, C);
    cpu().embedding_backward(cdt, cdp, on_cpu(dy), cids, B, T, C);
    EXPECT_TRUE(same(gdt, cdt, kScatterAdd));
    if (with_positions) {
      EXPECT_TRUE(same(gdp, cdp, kScatterAdd));
    }
  }
}

TEST_P(CudaBackendTest, PositionBiasMatchesCpu) {
  const int H = 4, Tq = 20, Tk = 25, buckets = 32;
  const auto bucket_ids = random_ints(size_t(Tq) * Tk, buckets, 1);
  const auto table = compute_values(size_t(buckets) * H, 2);
  const size_t cells = size_t(H) * Tq * Tk;
  Tensor gout = gpu_f32(random_normal(cells, 3)), cout = on_cpu(random_normal(cells, 3));
  gpu().position_bias_forward(gout, gpu_compute(table), on_gpu(bucket_ids), H, Tq, Tk);
  cpu().position_bias_forward(cout, on_cpu(table), on_cpu(bucket_ids), H, Tq, Tk);
  EXPECT_EQ(from_gpu(gout), from_cpu(cout));
  const auto dy = random_normal(cells, 4), dtable0 = random_normal(size_t(buckets) * H, 5);
  Tensor gdt = gpu_f32(dtable0), cdt = on_cpu(dtable0);
  gpu().position_bias_backward(gdt, gpu_f32(dy), on_gpu(bucket_ids), H, Tq, Tk);
  cpu().position_bias_backward(cdt, on_cpu(dy), on_cpu(bucket_ids), H, Tq, Tk);
  EXPECT_TRUE(same(gdt, cdt, kPositionBiasBackward));
}

// Token ids the way text has them: a few ids take a large share of the rows (id 0 about a
// sixth here), many ids appear once or twice, and most of the vocabulary not at all.
std::vector<int32_t> skewed_ids(size_t n, int vocab, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  std::vector<int32_t> ids(n);
  for (int32_t& id : ids)
    id = std::min(vocab - 1, static_cast<int32_t>(vocab * std::pow(uniform(rng), 6.0)));
  return ids;
}

// T5's bucket map in miniature: bucket min(|i − j|, buckets − 1), so the last bucket holds
// most cells and the others one diagonal each.
std::vector<int32_t> distance_buckets(int Tq, int Tk, int buckets) {
  std::vector<int32_t> map(size_t(Tq) * Tk);
  for (int i = 0; i < Tq; ++i)
    for (int j = 0; j < Tk; ++j) map[size_t(i) * Tk + j] = std::min(std::abs(i - j), buckets - 1);
  return map;
}

bool bit_identical(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

// The message of the std::logic_error that `call` throws, or "" when it throws none.
template <typename Call>
std::string logic_error_of(Call call) {
  try {
    call();
  } catch (const std::logic_error& e) {
    return e.what();
  }
  return "";
}

TEST_P(CudaBackendTest, EmbeddingBackwardMatchesCpuForRepeatedIdsAndAbsentGradients) {
  struct IdCase {
    const char* name;
    int B, T, C, vocab;
    std::vector<int32_t> ids;
  };
  // C = 300 takes two blocks of channels per run; 8192 rows take CUB's multi-block sort.
  const std::vector<IdCase> cases = {
      {"uniform over 23 ids", 3, 17, 300, 23, random_ints(3 * 17, 23, 1)},
      {"all one id", 4, 33, 300, 50, std::vector<int32_t>(4 * 33, 37)},
      {"skewed over GPT-2's vocabulary", 8, 1024, 72, 50257, skewed_ids(8 * 1024, 50257, 2)},
  };
  for (const IdCase& c : cases) {
    const size_t rows = size_t(c.B) * c.T;
    const auto dy = compute_values(rows * c.C, 3);
    const auto dtable0 = random_normal(size_t(c.vocab) * c.C, 4);
    const auto dpos0 = random_normal(size_t(c.T) * c.C, 5);
    Tensor gids = on_gpu(c.ids), cids = on_cpu(c.ids);
    for (const char* present : {"both", "dtable only", "dpositions only"}) {
      SCOPED_TRACE(std::string(c.name) + ", " + present);
      const bool with_table = std::string(present) != "dpositions only";
      const bool with_positions = std::string(present) != "dtable only";
      Tensor gdt = with_table ? gpu_f32(dtable0) : Tensor{};
      Tensor cdt = with_table ? on_cpu(dtable0) : Tensor{};
      Tensor gdp = with_positions ? gpu_f32(dpos0) : Tensor{};
      Tensor cdp = with_positions ? on_cpu(dpos0) : Tensor{};
      gpu().embedding_backward(gdt, gdp, gpu_compute(dy), gids, c.B, c.T, c.C);
      cpu().embedding_backward(cdt, cdp, on_cpu(dy), cids, c.B, c.T, c.C);
      if (with_table) {
        EXPECT_TRUE(same(gdt, cdt, kScatterAdd));
      }
      if (with_positions) {
        EXPECT_TRUE(same(gdp, cdp, kScatterAdd));
      }
    }
  }
}

// No float atomics: the same inputs give the same bits, so a resumed run can match an
// uninterrupted one.
TEST_P(CudaBackendTest, EmbeddingBackwardIsBitIdenticalAcrossRuns) {
  const int B = 8, T = 1024, C = 300, vocab = 50257;
  const size_t rows = size_t(B) * T;
  const auto ids = skewed_ids(rows, vocab, 1);
  const auto dy = compute_values(rows * C, 2);
  const auto dtable0 = random_normal(size_t(vocab) * C, 3), dpos0 = random_normal(T * C, 4);
  Tensor gids = on_gpu(ids), gdy = gpu_compute(dy);
  std::vector<float> first_table, first_positions;
  for (int run = 0; run < 2; ++run) {
    Tensor gdt = gpu_f32(dtable0), gdp = gpu_f32(dpos0);
    gpu().embedding_backward(gdt, gdp, gdy, gids, B, T, C);
    const auto table = from_gpu(gdt), positions = from_gpu(gdp);
    if (run == 0) {
      first_table = table;
      first_positions = positions;
      continue;
    }
    EXPECT_TRUE(bit_identical(table, first_table));
    EXPECT_TRUE(bit_identical(positions, first_positions));
  }
}

TEST_P(CudaBackendTest, PositionBiasBackwardMatchesCpuForT5LikeBuckets) {
  const int H = 6, Tq = 128, Tk = 96, buckets = 32;
  const auto bucket_ids = distance_buckets(Tq, Tk, buckets);
  const auto dy = random_normal(size_t(H) * Tq * Tk, 1);
  const auto dtable0 = random_normal(size_t(buckets) * H, 2);
  Tensor gdt = gpu_f32(dtable0), cdt = on_cpu(dtable0);
  gpu().position_bias_backward(gdt, gpu_f32(dy), on_gpu(bucket_ids), H, Tq, Tk);
  cpu().position_bias_backward(cdt, on_cpu(dy), on_cpu(bucket_ids), H, Tq, Tk);
  EXPECT_TRUE(same(gdt, cdt, kPositionBiasBackward));
}

TEST_P(CudaBackendTest, PositionBiasBackwardIsBitIdenticalAcrossRuns) {
  const int H = 12, Tq = 512, Tk = 512, buckets = 32;
  const auto bucket_ids = distance_buckets(Tq, Tk, buckets);
  const auto dtable0 = random_normal(size_t(buckets) * H, 2);
  Tensor gdy = gpu_f32(random_normal(size_t(H) * Tq * Tk, 1)), gbuckets = on_gpu(bucket_ids);
  Tensor first = gpu_f32(dtable0), second = gpu_f32(dtable0);
  gpu().position_bias_backward(first, gdy, gbuckets, H, Tq, Tk);
  gpu().position_bias_backward(second, gdy, gbuckets, H, Tq, Tk);
  EXPECT_TRUE(bit_identical(from_gpu(first), from_gpu(second)));
  EXPECT_FALSE(bit_identical(from_gpu(first), dtable0));  // it did add something
}

// Backward skips what it cannot place, adds the rest, and the backend throws once.
TEST_P(CudaBackendTest, BackwardIndicesOutsideTheirTableAreSkippedAndThrowOnce) {
  MOLT_CUDA_ONLY();
  const int B = 2, T = 4, C = 5, vocab = 6;
  const std::vector<int32_t> ids = {0, vocab, 2, -1, 2, 0, 7, vocab - 1};
  const auto dy = compute_values(size_t(B) * T * C, 1);
  const auto dtable0 = random_normal(size_t(vocab) * C, 2);
  Tensor gdt = gpu_f32(dtable0);
  gpu().embedding_backward(gdt, Tensor{}, gpu_compute(dy), on_gpu(ids), B, T, C);
  EXPECT_NE(logic_error_of([&] { gpu().synchronize(); }).find("embedding_backward"),
            std::string::npos);
  EXPECT_NO_THROW(gpu().synchronize());
  std::vector<double> expected(dtable0.begin(), dtable0.end());
  for (size_t r = 0; r < ids.size(); ++r)
    if (ids[r] >= 0 && ids[r] < vocab)
      for (int c = 0; c < C; ++c) expected[size_t(ids[r]) * C + c] += dy[r * C + c];
  EXPECT_TRUE(all_near(from_gpu(gdt), expected, 1e-5, 1e-5));

  const int H = 3, Tq = 2, Tk = 3, buckets = 4;
  const std::vector<int32_t> bucket_ids = {0, buckets, 1, -1, 1, buckets - 1};
  const auto dbias = random_normal(size_t(H) * Tq * Tk, 3);
  const auto dw0 = random_normal(size_t(buckets) * H, 4);
  Tensor gdw = gpu_f32(dw0);
  gpu().position_bias_backward(gdw, gpu_f32(dbias), on_gpu(bucket_ids), H, Tq, Tk);
  EXPECT_NE(logic_error_of([&] { from_gpu(gdw); }).find("position_bias_backward"),
            std::string::npos);
  std::vector<double> expected_w(dw0.begin(), dw0.end());
  for (int h = 0; h < H; ++h)
    for (size_t cell = 0; cell < bucket_ids.size(); ++cell)
      if (bucket_ids[cell] >= 0 && bucket_ids[cell] < buckets)
        expected_w[size_t(bucket_ids[cell]) * H + h] += dbias[h * bucket_ids.size() + cell];
  EXPECT_TRUE(all_near(from_gpu(gdw), expected_w, 1e-5, 1e-5));
}

// ---- loss ---------------------------------------------------------------------------------

TEST_P(CudaBackendTest, CrossEntropyMatchesCpuLossesAndInPlaceGradient) {
  const int ignore = -100;
  struct Size {
    int N, V;
  };
  for (const Size s : {Size{64, 5003}, Size{8, 50257}}) {  // 50257: GPT-2's vocabulary
    const int N = s.N, V = s.V;
    const auto logits = compute_values(size_t(N) * V, 1, 3.0f);
    auto targets = random_ints(N, V, 2);
    targets[3] = ignore;
    targets[5] = 0;
    targets[6] = V - 1;
    for (float grad_scale : {1.0f / float(N - 1), 0.0f}) {
      SCOPED_TRACE("V " + std::to_string(V) + ", grad_scale " + std::to_string(grad_scale));
      Tensor glogits = gpu_compute(logits), clogits = on_cpu(logits);
      Tensor glosses = gpu_f32(random_normal(N, 3)), closses = on_cpu(random_normal(N, 3));
      gpu().cross_entropy(glogits, glosses, on_gpu(targets), N, V, ignore, grad_scale);
      cpu().cross_entropy(clogits, closses, on_cpu(targets), N, V, ignore, grad_scale);
      EXPECT_TRUE(same(glosses, closses, kLosses));
      EXPECT_TRUE(same(glogits, clogits, kLogitGradients));  // = logits when grad_scale is 0
      EXPECT_EQ(from_gpu(glosses)[3], 0.0f);
    }
  }
}

// ---- optimizer ----------------------------------------------------------------------------

TEST_P(CudaBackendTest, AdamWMatchesCpuAndWritesTheComputeCopy) {
  const size_t n = 100003;
  const auto p0 = random_normal(n, 1);
  Tensor gp = gpu_f32(p0), gm = gpu_f32(std::vector<float>(n)), gv = gpu_f32(std::vector<float>(n));
  Tensor cp = on_cpu(p0), cm = on_cpu(std::vector<float>(n)), cv = on_cpu(std::vector<float>(n));
  Tensor compute = own(gpu(), gpu().allocate(dtype(), n));
  AdamWStep step;
  step.lr = 1e-2f;
  step.weight_decay = 0.1f;
  step.grad_scale = 0.5f;
  for (int t = 1; t <= 3; ++t) {
    step.t = t;
    const auto g = random_normal(n, 10 + t);
    gpu().adamw(gp, gpu_f32(g), gm, gv, compute, step);
    cpu().adamw(cp, on_cpu(g), cm, cv, Tensor{}, step);
  }
  EXPECT_TRUE(same(gp, cp, kAdamW));
  EXPECT_TRUE(same(gm, cm, kAdamW));
  EXPECT_TRUE(same(gv, cv, kAdamW));
  EXPECT_EQ(from_gpu(compute), representable(from_gpu(gp)));
  // The compute copy may be the master itself (an f32 backend's FlatParameters).
  step.t = 4;
  gpu().adamw(gp, gpu_f32(random_normal(n, 20)), gm, gv, gp, step);
  gpu().synchronize();
}

// ---- contracts ----------------------------------------------------------------------------

TEST_P(CudaBackendTest, WrongBuffersAreProgrammerErrors) {
  MOLT_CUDA_ONLY();
  auto zeros = [&](size_t n, DType d) { return own(gpu(), gpu().allocate(d, n)); };
  EXPECT_THROW(gpu().matmul_forward(zeros(6, dtype()), zeros(6, dtype()), zeros(5, dtype()),
                                    Tensor{}, 2, 3, 3),
               std::logic_error);
  // GEMM inputs must share a dtype.
  EXPECT_THROW(gpu().matmul_forward(zeros(9, DType::kF32), zeros(9, DType::kF32),
                                    zeros(9, DType::kBF16), Tensor{}, 3, 3, 3),
               std::logic_error);
  // Statistics are f32 whatever the compute dtype.
  EXPECT_THROW(gpu().rmsnorm_forward(zeros(8, dtype()), zeros(2, DType::kBF16), zeros(8, dtype()),
                                     zeros(4, dtype()), 2, 4, 1e-6f),
               std::logic_error);
  EXPECT_THROW(gpu().fill(zeros(3, DType::kI32), 1.0f), std::logic_error);
  AttentionShape shape{
      1, 2, 2, 1, cuda::kMaxAttentionHeadDim + 1, 0, 0, 1.0f, AttentionMask::kCausal};
  shape.q_row_stride = shape.kv_row_stride = shape.head_dim;
  Tensor big = zeros(size_t(2) * shape.head_dim, dtype());
  EXPECT_THROW(
      gpu().attention_forward(big, zeros(2, DType::kF32), big, big, big, Tensor{}, Tensor{}, shape),
      std::logic_error);
}

TEST_P(CudaBackendTest, IndicesOutsideTheirTableThrowAtTheNextSynchronisingCall) {
  MOLT_CUDA_ONLY();
  const int C = 4, vocab = 5;
  Tensor table = gpu_compute(compute_values(size_t(vocab) * C, 1));
  Tensor out = own(gpu(), gpu().allocate(dtype(), 3 * C));
  gpu().embedding_forward(out, on_gpu(std::vector<int32_t>{0, vocab, 2}), table, Tensor{}, 1, 3, C);
  EXPECT_THROW(from_gpu(out), std::logic_error);
  EXPECT_NO_THROW(from_gpu(out));  // reported once, and the backend carries on
  Tensor logits = gpu_compute(compute_values(2 * 7, 2));
  Tensor losses = own(gpu(), gpu().allocate(DType::kF32, 2));
  gpu().cross_entropy(logits, losses, on_gpu(std::vector<int32_t>{7, 1}), 2, 7, -100, 1.0f);
  EXPECT_THROW(gpu().synchronize(), std::logic_error);
  EXPECT_NO_THROW(gpu().synchronize());
}

INSTANTIATE_TEST_SUITE_P(ComputeDtypes, CudaBackendTest,
                         ::testing::Values(DType::kF32, DType::kBF16),
                         [](const auto& info) { return std::string(short_name(info.param)); });

// ---- attention ----------------------------------------------------------------------------

// A compute dtype and the MOLT_CUDA_ATTENTION setting the op runs under: bf16 "auto" runs
// the tensor-core kernels where they fit (head_dim 16/32/64/128), bf16 "reference" and
// every f32 run the reference kernels (cuda::choose_attention_kernel).
struct AttentionVariant {
  DType dtype;
  const char* kernels;
};

std::string variant_name(const AttentionVariant& v) {
  return std::string(short_name(v.dtype)) + (std::string(v.kernels) == "auto" ? "" : "_reference");
}
void PrintTo(const AttentionVariant& v, std::ostream* os) { *os << variant_name(v); }

class CudaAttentionTest
    : public CudaVsCpuTest,
      public ::testing::WithParamInterface<std::tuple<AttentionCase, AttentionVariant>> {
 protected:
  void SetUp() override {
    const std::string missing = missing_device();
    if (!missing.empty()) GTEST_SKIP() << "no CUDA device: " << missing;
    start(std::get<1>(GetParam()).dtype);
    setenv("MOLT_CUDA_ATTENTION", std::get<1>(GetParam()).kernels, 1);
  }
  void TearDown() override { unsetenv("MOLT_CUDA_ATTENTION"); }
  const AttentionCase& the_case() const { return std::get<0>(GetParam()); }

  // Inputs already representable in the compute dtype.
  AttentionProblem make_problem(uint32_t seed) const {
    return make_attention_problem(the_case(), seed,
                                  [this](size_t n, uint32_t s) { return compute_values(n, s); });
  }

  struct Views {
    Tensor q, k, v;
  };
  // q, k, v over one fused buffer (views at column offsets 0, C, 2C) or three buffers.
  static Views views(const AttentionProblem& p, Tensor q_or_qkv, Tensor k, Tensor v) {
    if (p.qkv.empty()) return {q_or_qkv, k, v};
    const size_t n = p.qkv.size();
    return {q_or_qkv, q_or_qkv.slice(p.k_offset, n - p.k_offset),
            q_or_qkv.slice(p.v_offset, n - p.v_offset)};
  }
  Views cpu_inputs(const AttentionProblem& p) {
    if (!p.qkv.empty()) return views(p, on_cpu(p.qkv), Tensor{}, Tensor{});
    return {on_cpu(p.q), on_cpu(p.k), on_cpu(p.v)};
  }
  Views gpu_inputs(const AttentionProblem& p) {
    if (!p.qkv.empty()) return views(p, gpu_compute(p.qkv), Tensor{}, Tensor{});
    return {gpu_compute(p.q), gpu_compute(p.k), gpu_compute(p.v)};
  }
  size_t out_count(const AttentionProblem& p) const {
    return size_t(p.shape.batch) * p.shape.q_tokens * p.shape.heads * p.shape.head_dim;
  }
  size_t lse_count(const AttentionProblem& p) const {
    return size_t(p.shape.batch) * p.shape.heads * p.shape.q_tokens;
  }
};

TEST_P(CudaAttentionTest, ForwardMatchesCpuOutputAndLogSumExp) {
  const AttentionProblem p = make_problem(1);
  const Views c = cpu_inputs(p), g = gpu_inputs(p);
  Tensor cout = on_cpu(random_normal(out_count(p), 99)),
         clse = on_cpu(random_normal(lse_count(p), 98));
  Tensor gout = gpu_compute(random_normal(out_count(p), 99)),
         glse = gpu_f32(random_normal(lse_count(p), 98));
  cpu().attention_forward(cout, clse, c.q, c.k, c.v, on_cpu(p.bias), on_cpu(p.prefix), p.shape);
  gpu().attention_forward(gout, glse, g.q, g.k, g.v, gpu_f32(p.bias), on_gpu(p.prefix), p.shape);
  EXPECT_TRUE(same(gout, cout, kAttentionForward));
  const Tolerance t = tolerance(kAttentionForward);
  EXPECT_TRUE(
      all_near(finite_lse(from_gpu(glse)), to_double(finite_lse(from_cpu(clse))), t.atol, t.rtol));
}

TEST_P(CudaAttentionTest, BackwardAddsWhatTheCpuAdds) {
  const AttentionCase& ac = the_case();
  const AttentionProblem p = make_problem(1);
  const Views c = cpu_inputs(p), g = gpu_inputs(p);
  // The saved forward values, identical on both sides: the CPU's, in the compute dtype.
  Tensor cout = on_cpu(std::vector<float>(out_count(p))),
         clse = on_cpu(std::vector<float>(lse_count(p)));
  cpu().attention_forward(cout, clse, c.q, c.k, c.v, on_cpu(p.bias), on_cpu(p.prefix), p.shape);
  const auto out = representable(from_cpu(cout)), lse = from_cpu(clse);
  const auto dout = compute_values(out_count(p), 7);
  const auto dbias0 = ac.with_bias ? random_normal(p.bias.size(), 8) : std::vector<float>{};
  Tensor cdbias = on_cpu(dbias0), gdbias = gpu_f32(dbias0);
  if (!p.qkv.empty()) {
    // One fused gradient buffer: its q, k and v column groups receive dq, dk and dv.
    const auto dqkv0 = compute_values(p.qkv.size(), 9);
    Tensor cd = on_cpu(dqkv0), gd = gpu_compute(dqkv0);
    const Views cdv = views(p, cd, Tensor{}, Tensor{}), gdv = views(p, gd, Tensor{}, Tensor{});
    cpu().attention_backward(cdv.q, cdv.k, cdv.v, cdbias, on_cpu(dout), on_cpu(out), on_cpu(lse),
                             c.q, c.k, c.v, on_cpu(p.bias), on_cpu(p.prefix), p.shape);
    gpu().attention_backward(gdv.q, gdv.k, gdv.v, gdbias, gpu_compute(dout), gpu_compute(out),
                             gpu_f32(lse), g.q, g.k, g.v, gpu_f32(p.bias), on_gpu(p.prefix),
                             p.shape);
    EXPECT_TRUE(same(gd, cd, kAttentionBackward));
  } else {
    const auto dq0 = compute_values(p.q.size(), 10), dk0 = compute_values(p.k.size(), 11),
               dv0 = compute_values(p.v.size(), 12);
    Tensor cdq = on_cpu(dq0), cdk = on_cpu(dk0), cdv = on_cpu(dv0);
    Tensor gdq = gpu_compute(dq0), gdk = gpu_compute(dk0), gdv = gpu_compute(dv0);
    cpu().attention_backward(cdq, cdk, cdv, cdbias, on_cpu(dout), on_cpu(out), on_cpu(lse), c.q,
                             c.k, c.v, on_cpu(p.bias), on_cpu(p.prefix), p.shape);
    gpu().attention_backward(gdq, gdk, gdv, gdbias, gpu_compute(dout), gpu_compute(out),
                             gpu_f32(lse), g.q, g.k, g.v, gpu_f32(p.bias), on_gpu(p.prefix),
                             p.shape);
    EXPECT_TRUE(same(gdq, cdq, kAttentionBackward));
    EXPECT_TRUE(same(gdk, cdk, kAttentionBackward));
    EXPECT_TRUE(same(gdv, cdv, kAttentionBackward));
    // dq alone, then dk and dv alone (the two backward kernels separately).
    cpu().attention_backward(cdq, Tensor{}, Tensor{}, Tensor{}, on_cpu(dout), on_cpu(out),
                             on_cpu(lse), c.q, c.k, c.v, on_cpu(p.bias), on_cpu(p.prefix), p.shape);
    gpu().attention_backward(gdq, Tensor{}, Tensor{}, Tensor{}, gpu_compute(dout), gpu_compute(out),
                             gpu_f32(lse), g.q, g.k, g.v, gpu_f32(p.bias), on_gpu(p.prefix),
                             p.shape);
    EXPECT_TRUE(same(gdq, cdq, kAttentionBackward));
    cpu().attention_backward(Tensor{}, cdk, cdv, Tensor{}, on_cpu(dout), on_cpu(out), on_cpu(lse),
                             c.q, c.k, c.v, on_cpu(p.bias), on_cpu(p.prefix), p.shape);
    gpu().attention_backward(Tensor{}, gdk, gdv, Tensor{}, gpu_compute(dout), gpu_compute(out),
                             gpu_f32(lse), g.q, g.k, g.v, gpu_f32(p.bias), on_gpu(p.prefix),
                             p.shape);
    EXPECT_TRUE(same(gdk, cdk, kAttentionBackward));
    EXPECT_TRUE(same(gdv, cdv, kAttentionBackward));
  }
  if (ac.with_bias) {
    EXPECT_TRUE(same(gdbias, cdbias, kAttentionBackward));
    // dbias alone: the dQ kernel then runs for dbias only, with no dq to write.
    Tensor cdb = on_cpu(dbias0), gdb = gpu_f32(dbias0);
    cpu().attention_backward(Tensor{}, Tensor{}, Tensor{}, cdb, on_cpu(dout), on_cpu(out),
                             on_cpu(lse), c.q, c.k, c.v, on_cpu(p.bias), on_cpu(p.prefix), p.shape);
    gpu().attention_backward(Tensor{}, Tensor{}, Tensor{}, gdb, gpu_compute(dout), gpu_compute(out),
                             gpu_f32(lse), g.q, g.k, g.v, gpu_f32(p.bias), on_gpu(p.prefix),
                             p.shape);
    EXPECT_TRUE(same(gdb, cdb, kAttentionBackward));
  }
}

// The backward twice from the same gradients: bit-identical sums (no atomics anywhere, so
// a resumed CUDA run can follow an uninterrupted one exactly).
TEST_P(CudaAttentionTest, BackwardGivesTheSameBitsTwice) {
  const AttentionCase& ac = the_case();
  const AttentionProblem p = make_problem(2);
  const Views g = gpu_inputs(p);
  Tensor out = gpu_compute(std::vector<float>(out_count(p))),
         lse = gpu_f32(std::vector<float>(lse_count(p)));
  gpu().attention_forward(out, lse, g.q, g.k, g.v, gpu_f32(p.bias), on_gpu(p.prefix), p.shape);
  const auto dout = compute_values(out_count(p), 17);
  std::vector<std::vector<float>> runs[2];
  for (auto& run : runs) {
    // unfused q, k, v buffers here: dq, dk, dv get buffers of q's and k's sizes
    const size_t q_size = p.qkv.empty() ? p.q.size() : p.qkv.size();
    const size_t kv_size = p.qkv.empty() ? p.k.size() : p.qkv.size();
    Tensor dq = gpu_compute(compute_values(q_size, 18)),
           dk = gpu_compute(compute_values(kv_size, 19)),
           dv = gpu_compute(compute_values(kv_size, 20));
    Tensor dbias = ac.with_bias ? gpu_f32(random_normal(p.bias.size(), 21)) : Tensor{};
    gpu().attention_backward(dq, dk, dv, dbias, gpu_compute(dout), out, lse, g.q, g.k, g.v,
                             gpu_f32(p.bias), on_gpu(p.prefix), p.shape);
    run = {from_gpu(dq), from_gpu(dk), from_gpu(dv)};
    if (ac.with_bias) run.push_back(from_gpu(dbias));
  }
  const char* names[] = {"dq", "dk", "dv", "dbias"};
  for (size_t t = 0; t < runs[0].size(); ++t) {
    EXPECT_EQ(0,
              std::memcmp(runs[0][t].data(), runs[1][t].data(), runs[0][t].size() * sizeof(float)))
        << names[t] << " differs between two identical backward passes";
  }
}

const AttentionCase kAttentionCases[] = {
    // name, B, H, Tq, Tk, D, mask, fused, bias, scale
    {"CausalFusedQkv", 2, 3, 70, 70, 5, AttentionMask::kCausal, true, false, 0.4472136f},
    {"BidirectionalFusedQkv", 2, 2, 67, 67, 4, AttentionMask::kBidirectional, true, false, 0.5f},
    {"Gpt2ShapeFusedQkv", 2, 4, 200, 200, 64, AttentionMask::kCausal, true, false, 0.125f},
    {"PrefixPerBatchLengths", 3, 2, 66, 66, 3, AttentionMask::kPrefix, false, false, 0.7f},
    {"PrefixFusedQkv", 3, 2, 45, 45, 32, AttentionMask::kPrefix, true, false, 0.18f},
    {"PrefixWithBias", 3, 2, 40, 40, 8, AttentionMask::kPrefix, false, true, 1.0f},
    {"CrossTqLessThanTk", 2, 3, 9, 130, 6, AttentionMask::kBidirectional, false, false, 1.0f},
    {"CrossTqMoreThanTkWithBias", 2, 2, 75, 13, 4, AttentionMask::kBidirectional, false, true,
     1.0f},
    {"CausalKvCacheChunk", 2, 2, 5, 69, 8, AttentionMask::kCausal, false, false, 0.35f},
    {"CausalQueriesThatSeeNoKey", 1, 2, 40, 7, 4, AttentionMask::kCausal, false, false, 1.0f},
    {"EncoderBiasUnscaled", 3, 4, 65, 65, 6, AttentionMask::kBidirectional, false, true, 1.0f},
    {"DecoderBiasCausal", 2, 3, 33, 33, 16, AttentionMask::kCausal, false, true, 1.0f},
    {"SingleQueryDecodeStep", 2, 2, 1, 40, 8, AttentionMask::kCausal, false, true, 0.25f},
    {"HeadDim33Causal", 2, 2, 50, 50, 33, AttentionMask::kCausal, false, false, 0.17f},
    {"HeadDim128Cross", 1, 2, 100, 77, 128, AttentionMask::kBidirectional, false, true, 0.0883883f},
    // head sizes the tensor-core kernels take (16, 32, 64, 128), over their 64-row tiles
    {"KvCacheChunkD16", 2, 2, 5, 69, 16, AttentionMask::kCausal, false, false, 0.35f},
    {"QueriesThatSeeNoKeyD16", 1, 2, 40, 7, 16, AttentionMask::kCausal, false, false, 1.0f},
    {"PrefixWithBiasD32", 3, 2, 100, 100, 32, AttentionMask::kPrefix, false, true, 1.0f},
    {"CrossTqMoreThanTkWithBiasD32", 3, 2, 150, 40, 32, AttentionMask::kBidirectional, false, true,
     1.0f},
    {"EncoderBiasD64", 2, 3, 130, 130, 64, AttentionMask::kBidirectional, false, true, 1.0f},
    {"DecodeStepWithBiasD64", 2, 2, 1, 70, 64, AttentionMask::kCausal, false, true, 0.125f},
    {"Gpt2Shape192TokensD64", 2, 2, 192, 192, 64, AttentionMask::kCausal, true, false, 0.125f},
};

INSTANTIATE_TEST_SUITE_P(
    Layouts, CudaAttentionTest,
    ::testing::Combine(::testing::ValuesIn(kAttentionCases),
                       ::testing::Values(AttentionVariant{DType::kF32, "auto"},
                                         AttentionVariant{DType::kBF16, "auto"},
                                         AttentionVariant{DType::kBF16, "reference"})),
    [](const auto& info) {
      return std::get<0>(info.param).name + "_" + variant_name(std::get<1>(info.param));
    });

// The rule that picks the kernels; host code, so it runs without a GPU too.
TEST(CudaAttentionKernelChoice, TensorCoresForBf16OperandsWithTheirHeadSizes) {
  unsetenv("MOLT_CUDA_ATTENTION");
  using cuda::AttentionKernel;
  for (int d : {16, 32, 64, 128}) {
    EXPECT_EQ(cuda::choose_attention_kernel(true, d), AttentionKernel::kTensorCore) << d;
    EXPECT_EQ(cuda::choose_attention_kernel(false, d), AttentionKernel::kReference) << d;
  }
  for (int d : {1, 8, 33, 48, 96, 127}) {
    EXPECT_EQ(cuda::choose_attention_kernel(true, d), AttentionKernel::kReference) << d;
  }
  setenv("MOLT_CUDA_ATTENTION", "auto", 1);
  EXPECT_EQ(cuda::choose_attention_kernel(true, 64), AttentionKernel::kTensorCore);
  setenv("MOLT_CUDA_ATTENTION", "reference", 1);
  EXPECT_EQ(cuda::choose_attention_kernel(true, 64), AttentionKernel::kReference);
  setenv("MOLT_CUDA_ATTENTION", "fast", 1);
  EXPECT_THROW(cuda::choose_attention_kernel(true, 64), UserError);
  unsetenv("MOLT_CUDA_ATTENTION");
}

}  // namespace
}  // namespace molt::kernels::testing
