// GPT-2 model contracts: layout and counts, determinism, generation over a KV cache,
// gradient accumulation, and gradients against finite differences of the whole model.
// (Agreement with an independent PyTorch model is gpt2_oracle_test.sh.)
#include "model/gpt2.h"

#include <gtest/gtest.h>

#include "kernels/error.h"
#include "tests/model/model_test_support.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace molt::model {
namespace {

using test_support::Download;

GPT2Config TinyConfig() {
  GPT2Config c;
  c.vocab_size = 50, c.n_ctx = 16, c.d_model = 16, c.n_layer = 2, c.n_head = 2;
  return c;
}

TokenBatch RandomBatch(int B, int T, int vocab, uint64_t seed) {
  TokenBatch batch;
  batch.batch = B, batch.input_tokens = batch.target_tokens = T;
  uint64_t s = seed;
  auto next = [&]() {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    return static_cast<int32_t>((s >> 33) % vocab);
  };
  for (int i = 0; i < B * T; ++i) batch.inputs.push_back(next());
  for (int i = 0; i < B * T; ++i) batch.targets.push_back(next());
  return batch;
}

TEST(GPT2Layout, PublishedSizesHaveTheirParameterCounts) {
  // Hugging Face's GPT-2 sizes with vocab 50257 (tied head): 124,439,808 and 354,823,168.
  auto backend = kernels::make_cpu_backend();
  GPT2Config small = gpt2_preset("gpt2");
  small.vocab_size = 50257;
  GPT2 model(small, *backend);
  EXPECT_EQ(model.parameter_counts().total, 124439808);
  EXPECT_EQ(model.parameter_counts().non_embedding, 124439808 - 50257 * 768 - 1024 * 768);
  EXPECT_EQ(model.table()[2].name, "transformer.h.0.ln_1.weight");
  EXPECT_EQ(model.table().back().name, "transformer.ln_f.bias");
}

TEST(GPT2Layout, UnknownPresetAndBadShapeAreUserErrors) {
  EXPECT_THROW(gpt2_preset("gpt5"), UserError);
  GPT2Config c = TinyConfig();
  c.n_head = 3;
  auto backend = kernels::make_cpu_backend();
  EXPECT_THROW(GPT2(c, *backend), UserError);
}

TEST(GPT2Flops, DecoderFlopsPerTokenAre6NPlusAttention) {
  auto backend = kernels::make_cpu_backend();
  GPT2Config c = TinyConfig();
  GPT2 model(c, *backend);
  const double T = 16, C = c.d_model, L = c.n_layer, F = 4 * C, V = c.vocab_size;
  const double n_matmul = L * (3 * C * C + C * C + 2 * C * F) + V * C;
  const double expected = T * (6 * n_matmul + 12 * L * T * C);
  EXPECT_DOUBLE_EQ(model.training_flops_per_example(16, 16), expected);
}

TEST(GPT2Init, SameSeedSameWeightsOtherSeedOtherWeights) {
  auto backend = kernels::make_cpu_backend();
  GPT2 a(TinyConfig(), *backend), b(TinyConfig(), *backend), c(TinyConfig(), *backend);
  a.initialize(1), b.initialize(1), c.initialize(2);
  auto wa = Download(*backend, a.params()), wb = Download(*backend, b.params());
  auto wc = Download(*backend, c.params());
  EXPECT_EQ(wa, wb);
  EXPECT_NE(wa, wc);
  // Residual projections are scaled down by 1/sqrt(2·n_layer).
  const TensorEntry* proj = nullptr;
  for (const auto& e : a.table())
    if (e.name == "transformer.h.0.mlp.c_proj.weight") proj = &e;
  ASSERT_NE(proj, nullptr);
  double sq = 0;
  for (size_t i = 0; i < proj->count(); ++i) sq += wa[proj->offset + i] * wa[proj->offset + i];
  EXPECT_NEAR(std::sqrt(sq / proj->count()), 0.02 / std::sqrt(4.0), 0.002);
}

TEST(GPT2Generate, KVCacheLogitsMatchTheFullForwardPass) {
  auto backend = kernels::make_cpu_backend();
  GPT2 model(TinyConfig(), *backend);
  model.initialize(3);
  std::vector<int32_t> prompt = {5, 17, 3, 42};
  TokenSampler sampler(0);
  SamplingOptions greedy;
  greedy.temperature = 0;
  std::vector<int32_t> generated = model.generate(prompt, 8, greedy, -1, sampler);
  ASSERT_EQ(generated.size(), 8u);
  // Greedy: each generated token is the argmax of the full forward pass over what precedes.
  std::vector<int32_t> sequence = prompt;
  sequence.insert(sequence.end(), generated.begin(), generated.end() - 1);
  TokenBatch batch;
  batch.batch = 1, batch.input_tokens = batch.target_tokens = static_cast<int>(sequence.size());
  batch.inputs = sequence;
  batch.targets.assign(sequence.size(), 0);
  std::vector<float> logits = model.logits(batch);
  const int V = TinyConfig().vocab_size;
  for (size_t i = 0; i < generated.size(); ++i) {
    const float* row = logits.data() + (prompt.size() - 1 + i) * V;
    int argmax = static_cast<int>(std::max_element(row, row + V) - row);
    EXPECT_EQ(generated[i], argmax) << "generated token " << i;
  }
}

TEST(GPT2Generate, StopsAtTheContextLength) {
  auto backend = kernels::make_cpu_backend();
  GPT2 model(TinyConfig(), *backend);
  model.initialize(3);
  TokenSampler sampler(1);
  auto out = model.generate({1, 2, 3}, 100, SamplingOptions{}, -1, sampler);
  EXPECT_EQ(out.size(), 16u - 3u + 1u);  // positions 3..15 filled, plus the last sample
}

TEST(GPT2Backward, TwoHalfBatchesAccumulateToTheFullBatchGradient) {
  auto backend = kernels::make_cpu_backend();
  GPT2 model(TinyConfig(), *backend);
  model.initialize(4);
  TokenBatch full = RandomBatch(4, 8, 50, 9);
  TokenBatch half[2];
  for (int h = 0; h < 2; ++h) {
    half[h] = full;
    half[h].batch = 2;
    half[h].inputs.assign(full.inputs.begin() + h * 16, full.inputs.begin() + (h + 1) * 16);
    half[h].targets.assign(full.targets.begin() + h * 16, full.targets.begin() + (h + 1) * 16);
  }
  backend->fill(model.grads(), 0);
  double loss_full = model.forward_backward(full, 1.0f / 32, {});
  auto g_full = Download(*backend, model.grads());
  backend->fill(model.grads(), 0);
  double loss_halves = model.forward_backward(half[0], 1.0f / 32, {}) +
                       model.forward_backward(half[1], 1.0f / 32, {});
  auto g_halves = Download(*backend, model.grads());
  EXPECT_NEAR(loss_full, loss_halves, 1e-4 * loss_full);
  double diff = 0, norm = 0;
  for (size_t i = 0; i < g_full.size(); ++i) {
    diff += (g_full[i] - g_halves[i]) * (g_full[i] - g_halves[i]);
    norm += g_full[i] * g_full[i];
  }
  EXPECT_LT(std::sqrt(diff / norm), 1e-5);
}

TEST(GPT2Backward, HookCoversEveryGradientExactlyOnce) {
  auto backend = kernels::make_cpu_backend();
  GPT2 model(TinyConfig(), *backend);
  model.initialize(5);
  std::vector<int> covered(model.params().count, 0);
  model.forward_backward(RandomBatch(2, 8, 50, 1), 1.0f / 16, [&](size_t begin, size_t end) {
    for (size_t i = begin; i < end; ++i) covered[i]++;
  });
  for (size_t i = 0; i < covered.size(); ++i) ASSERT_EQ(covered[i], 1) << "offset " << i;
}

TEST(GPT2Backward, GradientsMatchFiniteDifferences) {
  // 3 weights of every tensor; the bound is model_test_support.h's.
  auto backend = kernels::make_cpu_backend();
  GPT2 model(TinyConfig(), *backend);
  model.initialize(6);
  TokenBatch batch = RandomBatch(2, 8, 50, 2);
  const float scale = 1.0f / 16;
  test_support::ExpectGradientsMatchFiniteDifferences(model, *backend, batch, scale);
}

// Recomputation runs the same ops on the same inputs, so on the (deterministic) CPU backend
// the loss and every gradient are bit-identical. What it saves is exact: layers 1..L-1 give
// up everything but their output, N·(7C + 2F) activations and N·(4 + H) f32 statistics
// (two layernorms' mean and rstd, the attention log-sum-exp per head) each.
TEST(GPT2Recompute, SameLossAndGradientsBitForBitWithTheSavedActivationsFreed) {
  GPT2Config config = TinyConfig();
  config.n_layer = 3;
  const int B = 2, T = 8;
  for (bool prefix : {false, true}) {
    TokenBatch batch = RandomBatch(B, T, 50, 12);
    if (prefix) batch.prefix_lengths = {3, 5};
    double loss[2];
    std::vector<float> grads[2];
    size_t peak[2];
    std::vector<int> covered(0);
    for (int recompute = 0; recompute < 2; ++recompute) {
      auto backend = kernels::make_cpu_backend();
      GPT2 model(config, *backend);
      model.initialize(8);
      model.set_recompute(recompute == 1);
      covered.assign(model.params().count, 0);
      backend->fill(model.grads(), 0);
      loss[recompute] = model.forward_backward(batch, 1.0f / (B * T), [&](size_t b, size_t e) {
        for (size_t i = b; i < e; ++i) covered[i]++;
      });
      grads[recompute] = Download(*backend, model.grads());
      peak[recompute] = backend->memory_usage().peak_bytes;
      for (size_t i = 0; i < covered.size(); ++i) ASSERT_EQ(covered[i], 1) << "offset " << i;
    }
    EXPECT_EQ(loss[0], loss[1]) << "prefix " << prefix;
    ASSERT_EQ(grads[0].size(), grads[1].size());
    for (size_t i = 0; i < grads[0].size(); ++i)
      ASSERT_EQ(grads[0][i], grads[1][i]) << "offset " << i << " prefix " << prefix;
    const size_t N = B * T, C = config.d_model, F = config.ff_dim(), H = config.n_head;
    // Per layer: 7 buffers of N·C, 2 of N·F, 4 of N and one of N·H floats, each rounded up
    // to 256 bytes as model/buffer_set.h carves them.
    auto carved = [](size_t floats) { return (floats * sizeof(float) + 255) / 256 * 256; };
    const size_t saved = (config.n_layer - 1) *
                         (7 * carved(N * C) + 2 * carved(N * F) + 4 * carved(N) + carved(N * H));
    EXPECT_EQ(peak[0] - peak[1], saved) << "prefix " << prefix;
  }
}

TEST(GPT2Recompute, SwitchingOnAndOffBetweenStepsReplansAndKeepsTheNumbers) {
  auto backend = kernels::make_cpu_backend();
  GPT2 model(TinyConfig(), *backend);
  model.initialize(9);
  TokenBatch batch = RandomBatch(2, 8, 50, 13);
  std::vector<float> grads[3];
  for (int pass = 0; pass < 3; ++pass) {
    model.set_recompute(pass == 1);
    backend->fill(model.grads(), 0);
    model.forward_backward(batch, 1.0f / 16, {});
    grads[pass] = Download(*backend, model.grads());
  }
  EXPECT_EQ(grads[0], grads[1]);
  EXPECT_EQ(grads[0], grads[2]);
}

}  // namespace
}  // namespace molt::model
