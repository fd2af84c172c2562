// Both model families on the CUDA backend against the CPU backend: one full training step
// (loss, every gradient, the AdamW update) and 20 steps of the tiny GPT, in f32 and bf16
// compute. The step runs for every variant a job can ask for: GPT-2 causal and prefix-LM,
// T5 v1.1 and each rung of the structure ladder (each switch alone, and all four), and
// both families with activation recomputation. Built only with nvcc; without a GPU every
// test skips with the reason.
//
// The CPU backend is the reference. Tolerances, and why:
//  * f32 loss: relative 1e-5. Both sides accumulate in f32; only the summation order of
//    the GEMMs, norms and softmax differs (~1e-7 relative per op).
//  * f32 gradients: ‖g_cuda − g_cpu‖ / ‖g_cpu‖ ≤ 1e-4 over the whole flat buffer.
//  * bf16 loss: absolute 3e-2 nats after one step. bf16 keeps 8 significant bits
//    (relative rounding 2⁻⁹ ≈ 2e-3 per stored activation); over a few layers the logits
//    move by ~1e-2.
//  * bf16 gradients: relative L2 error ≤ 5e-2 and cosine ≥ 0.998 — the direction is what
//    training needs.
//  * AdamW update: its first step moves every weight by ≈ lr·sign(g), so a gradient that
//    is ~0 on both sides may flip sign and move that weight by 2·lr. The check allows no
//    weight to differ by more than 2·lr + 1e-6, and at most 0.1 % of weights (f32) to
//    differ by more than 1e-5.
//  * 20 steps, f32: every step's loss within 1e-3 (absolute) of the CPU's; the small
//    per-step differences above compound only weakly on a model this small.
//  * 20 steps, bf16: every step's loss within 0.1 of the CPU's, and the mean of the last 5
//    within 0.05 — bf16 training follows the f32 curve, not its bits.
// These bounds were set from the arithmetic above, not measured: the first run on a GPU
// should print the actual differences (they are in the failure messages and in the
// RecordProperty values) and tighten them.
#include <gtest/gtest.h>

#ifdef MOLT_CUDA_EMULATED
#include <cuda_runtime.h>
#endif

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "jobs/optimizer.h"
#include "kernels/backend.h"
#include "kernels/device_info.h"
#include "model/gpt2.h"
#include "model/t5.h"

namespace molt::model {
namespace {

using kernels::Backend;
using kernels::DType;

// MOLT_CUDA_STAND_IN (molt_cuda_stand_in_tests, see cuda_backend_test.cpp): the CPU backend
// stands in for CUDA in f32, so the tests' own logic runs without a GPU; bf16 skips.
// In molt_cuda_emulated_tests the CUDA backend runs on molt's CUDA emulator
// (tests/cuda_emulator): make_cuda_backend and cuda_device_count are the emulator's.
std::unique_ptr<Backend> device_backend(DType dtype) {
#ifdef MOLT_CUDA_STAND_IN
  static_cast<void>(dtype);
  return kernels::make_cpu_backend();
#else
  return kernels::make_cuda_backend(0, dtype);
#endif
}

std::string missing_device(DType dtype = DType::kF32) {
#ifdef MOLT_CUDA_STAND_IN
  return dtype == DType::kBF16 ? "the CPU stands in for CUDA in f32 only" : "";
#endif
  static_cast<void>(dtype);
  if (kernels::cuda_device_count() > 0) return "";
  return "no CUDA device (" + kernels::build_description() + ")";
}

uint64_t Lcg(uint64_t& s) {
  s = s * 6364136223846793005ull + 1442695040888963407ull;
  return s >> 33;
}

TokenBatch DecoderBatch(int B, int T, int vocab, uint64_t seed) {
  TokenBatch batch;
  batch.batch = B, batch.input_tokens = batch.target_tokens = T;
  for (int i = 0; i < B * T; ++i) batch.inputs.push_back(int32_t(Lcg(seed) % vocab));
  for (int i = 0; i < B * T; ++i) batch.targets.push_back(int32_t(Lcg(seed) % vocab));
  return batch;
}

// As DecoderBatch, as a prefix-LM sees it: row b's first prefix_b tokens are input only
// (attended bidirectionally, no loss); prefixes 0, 5, 17 and T − 1 in turn.
TokenBatch PrefixLmBatch(int B, int T, int vocab, uint64_t seed) {
  TokenBatch batch = DecoderBatch(B, T, vocab, seed);
  const int prefixes[] = {0, 5, 17, T - 1};
  for (int b = 0; b < B; ++b) {
    const int prefix = std::min(prefixes[b % 4], T - 1);
    batch.prefix_lengths.push_back(prefix);
    for (int t = 0; t + 1 < prefix; ++t) batch.targets[size_t(b) * T + t] = kIgnoreIndex;
  }
  return batch;
}

TokenBatch EncdecBatch(int B, int Te, int Td, int vocab, uint64_t seed) {
  TokenBatch batch;
  batch.batch = B, batch.input_tokens = Te, batch.target_tokens = Td;
  for (int i = 0; i < B * Te; ++i) batch.inputs.push_back(int32_t(Lcg(seed) % vocab));
  for (int b = 0; b < B; ++b) {
    for (int t = 0; t < Td; ++t) batch.targets.push_back(int32_t(Lcg(seed) % vocab));
    batch.decoder_inputs.push_back(0);
    for (int t = 0; t + 1 < Td; ++t) batch.decoder_inputs.push_back(batch.targets[b * Td + t]);
  }
  return batch;
}

GPT2Config TinyGpt() {
  GPT2Config c;
  c.vocab_size = 512, c.n_ctx = 32, c.d_model = 64, c.n_layer = 2, c.n_head = 4;
  return c;
}

T5Config TinyT5() {
  T5Config c = t5_preset("tiny");
  c.vocab_size = 128, c.d_model = 32, c.d_kv = 8, c.n_head = 4, c.d_ff = 48;
  c.n_encoder_layer = 2, c.n_decoder_layer = 2;
  return c;
}

// What a step test builds: a family, for T5 the structure switches as 4 bits
// (share_cross_attention, share_encoder_decoder, layerwise cross-attention, causal input),
// for GPT-2 whether the batch is prefix-LM, and whether activations are recomputed.
struct ModelCase {
  const char* name;
  bool decoder;
  int structure = 0;
  bool prefix_lm = false;
  bool recompute = false;
};

T5Config StructureConfig(int bits) {
  T5Config c = TinyT5();
  c.share_cross_attention = bits & 1;
  c.share_encoder_decoder = bits & 2;
  c.layerwise_cross_attention = bits & 4;
  c.causal_input = bits & 8;
  return c;
}

// A model with its optimizer on one backend, stepping as the trainer does (jobs/trainer.cpp):
// zero grads, forward_backward scaled by 1/targets, clip by the global norm, AdamW.
struct Trainee {
  std::unique_ptr<Backend> backend;
  std::unique_ptr<LanguageModel> model;
  std::unique_ptr<AdamW> optimizer;

  Trainee(std::unique_ptr<Backend> b, bool decoder)
      : Trainee(std::move(b), ModelCase{"", decoder}) {}
  Trainee(std::unique_ptr<Backend> b, const ModelCase& c) : backend(std::move(b)) {
    if (c.decoder) {
      model = std::make_unique<GPT2>(TinyGpt(), *backend);
    } else {
      model = std::make_unique<T5>(StructureConfig(c.structure), *backend);
    }
    model->set_recompute(c.recompute);
    model->initialize(1234);
    optimizer = std::make_unique<AdamW>(*backend, model->table(), 0, model->params().count);
  }
  // Mean loss of the batch; grads() then hold its gradient.
  double backward(const TokenBatch& batch) {
    backend->fill(model->grads(), 0.0f);
    const double counted = double(batch.counted_targets());
    return model->forward_backward(batch, float(1.0 / counted), {}) / counted;
  }

  void update(int64_t t) {
    AdamWSettings settings;
    const double norm = std::sqrt(backend->sum_of_squares(model->grads()));
    optimizer->step(model->params(), model->grads(), model->compute_params(), settings, 1e-3f,
                    clip_factor(norm, 1.0f), t);
  }

  std::vector<float> host(kernels::Tensor t) { return download_as_f32(*backend, t); }
};

struct Difference {
  double relative_l2 = 0, cosine = 0, max_abs = 0;
  double fraction_above = 0;  // of elements differing by more than the threshold
};

Difference compare(const std::vector<float>& want, const std::vector<float>& got,
                   double threshold = 1e-5) {
  double dd = 0, ww = 0, gg = 0, wg = 0;
  size_t above = 0;
  Difference d;
  for (size_t i = 0; i < want.size(); ++i) {
    const double w = want[i], g = got[i], e = g - w;
    dd += e * e, ww += w * w, gg += g * g, wg += w * g;
    d.max_abs = std::max(d.max_abs, std::abs(e));
    if (std::abs(e) > threshold) ++above;
  }
  d.relative_l2 = std::sqrt(dd / std::max(ww, 1e-300));
  d.cosine = wg / std::sqrt(std::max(ww * gg, 1e-300));
  d.fraction_above = double(above) / double(std::max<size_t>(1, want.size()));
  return d;
}

class CudaModelStepTest : public ::testing::TestWithParam<std::tuple<ModelCase, DType>> {
 protected:
  void SetUp() override {
    const std::string missing = missing_device(dtype());
    if (!missing.empty()) GTEST_SKIP() << missing;
  }
  const ModelCase& model_case() const { return std::get<0>(GetParam()); }
  DType dtype() const { return std::get<1>(GetParam()); }
  TokenBatch batch(uint64_t seed) const {
    if (!model_case().decoder) return EncdecBatch(4, 24, 12, TinyT5().vocab_size, seed);
    return model_case().prefix_lm ? PrefixLmBatch(4, 32, TinyGpt().vocab_size, seed)
                                  : DecoderBatch(4, 32, TinyGpt().vocab_size, seed);
  }
};

TEST_P(CudaModelStepTest, OneTrainingStepMatchesTheCpu) {
  Trainee cpu(kernels::make_cpu_backend(), model_case());
  Trainee cuda(device_backend(dtype()), model_case());
  const bool bf16 = dtype() == DType::kBF16;

  // Same seed, same initial master weights, bit for bit (initialisation runs on the host).
  EXPECT_EQ(cpu.host(cpu.model->params()), cuda.host(cuda.model->params()));

  const TokenBatch b = batch(7);
  const double loss_cpu = cpu.backward(b), loss_cuda = cuda.backward(b);
  RecordProperty("loss_difference", std::to_string(loss_cuda - loss_cpu));
  if (bf16) {
    EXPECT_NEAR(loss_cuda, loss_cpu, 3e-2);
  } else {
    EXPECT_NEAR(loss_cuda, loss_cpu, 1e-5 * std::abs(loss_cpu));
  }

  const Difference grads = compare(cpu.host(cpu.model->grads()), cuda.host(cuda.model->grads()));
  RecordProperty("grad_relative_l2", std::to_string(grads.relative_l2));
  EXPECT_LE(grads.relative_l2, bf16 ? 5e-2 : 1e-4) << "cosine " << grads.cosine;
  EXPECT_GE(grads.cosine, bf16 ? 0.998 : 0.999999);

  const double norm_cpu = std::sqrt(cpu.backend->sum_of_squares(cpu.model->grads()));
  const double norm_cuda = std::sqrt(cuda.backend->sum_of_squares(cuda.model->grads()));
  EXPECT_NEAR(norm_cuda, norm_cpu, (bf16 ? 5e-2 : 1e-4) * norm_cpu);

  cpu.update(1);
  cuda.update(1);
  const Difference params =
      compare(cpu.host(cpu.model->params()), cuda.host(cuda.model->params()), 1e-5);
  RecordProperty("params_max_abs", std::to_string(params.max_abs));
  EXPECT_LE(params.max_abs, 2 * 1e-3 + 1e-6);
  if (!bf16) {
    EXPECT_LE(params.fraction_above, 1e-3);
  }

  // The compute copy follows the master weights (bf16: rounded; f32: the same buffer).
  const Difference compute =
      compare(cuda.host(cuda.model->params()), cuda.host(cuda.model->compute_params()));
  EXPECT_LE(compute.max_abs, bf16 ? 0.01 : 0.0);
}

std::string StepTestName(const testing::TestParamInfo<std::tuple<ModelCase, DType>>& info) {
  return std::string(std::get<0>(info.param).name) +
         (std::get<1>(info.param) == DType::kBF16 ? "_bf16" : "_f32");
}

void PrintTo(const ModelCase& c, std::ostream* os) { *os << c.name; }

const ModelCase kModelCases[] = {
    // name, decoder, structure bits, prefix_lm, recompute
    {"gpt2", true},
    {"gpt2_prefix_lm", true, 0, true},
    {"gpt2_recompute", true, 0, false, true},
    {"t5", false},
    {"t5_shared_cross_attention", false, 1},
    {"t5_one_stack", false, 2},
    {"t5_layerwise_cross_attention", false, 4},
    {"t5_causal_input", false, 8},
    {"t5_all_four_switches", false, 15},
    {"t5_recompute", false, 0, false, true},
    {"t5_all_four_switches_recompute", false, 15, false, true},
};

INSTANTIATE_TEST_SUITE_P(Families, CudaModelStepTest,
                         ::testing::Combine(::testing::ValuesIn(kModelCases),
                                            ::testing::Values(DType::kF32, DType::kBF16)),
                         StepTestName);

// Backend::memory_usage() counts every byte the CUDA backend takes from the device: the
// tensors, and apart (own_bytes) its scratch, ones vectors and cuBLASLt workspace. The emulator's
// cudaMemGetInfo reports exactly the bytes allocated (a GPU's also holds the context and
// cuBLAS's own workspace), so there the two must agree after a training step of either
// family, and every byte must be back once the model and backend are gone.
TEST(CudaMemoryUsageTest, CountsEveryDeviceByteAndReturnsThem) {
#ifndef MOLT_CUDA_EMULATED
  GTEST_SKIP() << "only the CUDA emulator's cudaMemGetInfo counts molt's own bytes alone";
#else
  const auto used = [] {
    size_t free = 0, total = 0;
    EXPECT_EQ(cudaMemGetInfo(&free, &total), cudaSuccess);
    return total - free;
  };
  for (const ModelCase& c : {kModelCases[0], kModelCases[3]}) {
    SCOPED_TRACE(c.name);
    const size_t before = used();
    {
      Trainee cuda(device_backend(DType::kBF16), c);
      const TokenBatch b = c.decoder ? DecoderBatch(4, 32, TinyGpt().vocab_size, 7)
                                     : EncdecBatch(4, 24, 12, TinyT5().vocab_size, 7);
      cuda.backward(b);
      cuda.update(1);
      const Backend::MemoryUsage counted = cuda.backend->memory_usage();
      EXPECT_EQ(counted.current_bytes + counted.own_bytes, used() - before);
      EXPECT_GE(counted.own_bytes, size_t{32} << 20);  // the cuBLASLt workspace at least
      EXPECT_GE(counted.peak_bytes, counted.current_bytes);
    }
    EXPECT_EQ(used(), before);
  }
#endif
}

class CudaTinyGptTrainingTest : public ::testing::TestWithParam<DType> {
 protected:
  void SetUp() override {
    const std::string missing = missing_device(GetParam());
    if (!missing.empty()) GTEST_SKIP() << missing;
  }
};

TEST_P(CudaTinyGptTrainingTest, TwentyStepsFollowTheCpuLossCurve) {
  const bool bf16 = GetParam() == DType::kBF16;
  Trainee cpu(kernels::make_cpu_backend(), true);
  Trainee cuda(device_backend(GetParam()), true);
  std::vector<double> cpu_losses, cuda_losses;
  for (int step = 0; step < 20; ++step) {
    // A few fixed batches repeated, so the loss falls visibly within 20 steps.
    const TokenBatch b = DecoderBatch(4, 32, TinyGpt().vocab_size, 100 + step % 4);
    cpu_losses.push_back(cpu.backward(b));
    cuda_losses.push_back(cuda.backward(b));
    cpu.update(step + 1);
    cuda.update(step + 1);
  }
  double worst = 0;
  for (int step = 0; step < 20; ++step) {
    worst = std::max(worst, std::abs(cuda_losses[step] - cpu_losses[step]));
    EXPECT_NEAR(cuda_losses[step], cpu_losses[step], bf16 ? 0.1 : 1e-3) << "step " << step + 1;
  }
  RecordProperty("worst_loss_difference", std::to_string(worst));
  std::printf("20 steps: CPU loss %.6f -> %.6f, CUDA %.6f -> %.6f, worst step difference %.3g\n",
              cpu_losses.front(), cpu_losses.back(), cuda_losses.front(), cuda_losses.back(),
              worst);
  EXPECT_LT(cpu_losses.back(), cpu_losses.front()) << "the CPU run did not learn";
  double tail_cpu = 0, tail_cuda = 0;
  for (int step = 15; step < 20; ++step)
    tail_cpu += cpu_losses[step], tail_cuda += cuda_losses[step];
  EXPECT_NEAR(tail_cuda / 5, tail_cpu / 5, bf16 ? 0.05 : 1e-3);
}

INSTANTIATE_TEST_SUITE_P(ComputeDtypes, CudaTinyGptTrainingTest,
                         ::testing::Values(DType::kF32, DType::kBF16),
                         [](const testing::TestParamInfo<DType>& info) {
                           return std::string(info.param == DType::kBF16 ? "bf16" : "f32");
                         });

}  // namespace
}  // namespace molt::model
