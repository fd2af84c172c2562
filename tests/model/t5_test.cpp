// T5 v1.1 model contracts: layout and published counts, relative position buckets, FLOPs,
// determinism, generation over KV caches, gradient accumulation, hook coverage, and
// gradients against finite differences of the whole model — for T5 v1.1 and for all 15
// combinations of the structure-ladder switches.
// (Agreement with an independent PyTorch model, and the ladder's end being a decoder-only
// model, are t5_oracle_test.sh.)
#include "model/t5.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "kernels/error.h"
#include "tests/model/model_test_support.h"

namespace molt::model {
namespace {

using test_support::Download;

T5Config TinyConfig() {
  T5Config c = t5_preset("tiny");
  c.vocab_size = 40, c.d_model = 16, c.d_kv = 6, c.n_head = 2, c.d_ff = 24;
  c.n_encoder_layer = 2, c.n_decoder_layer = 3;  // d_kv·n_head != d_model, unequal stacks
  return c;
}

// Structure switches as 4 bits: share_cross_attention, share_encoder_decoder,
// layerwise cross-attention, causal input. Equal depths, so every combination is valid.
T5Config VariantConfig(int bits) {
  T5Config c = TinyConfig();
  c.n_encoder_layer = c.n_decoder_layer = 2;
  c.share_cross_attention = bits & 1;
  c.share_encoder_decoder = bits & 2;
  c.layerwise_cross_attention = bits & 4;
  c.causal_input = bits & 8;
  return c;
}

std::string VariantName(const testing::TestParamInfo<int>& info) {
  std::string name = structure_name(VariantConfig(info.param));
  for (char& ch : name)
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  return name.empty() ? "t5_v1_1" : name;
}

uint64_t Lcg(uint64_t& s) {
  s = s * 6364136223846793005ull + 1442695040888963407ull;
  return s >> 33;
}

TokenBatch RandomBatch(int B, int Te, int Td, int vocab, uint64_t seed) {
  TokenBatch batch;
  batch.batch = B, batch.input_tokens = Te, batch.target_tokens = Td;
  uint64_t s = seed;
  for (int i = 0; i < B * Te; ++i) batch.inputs.push_back(int32_t(Lcg(s) % vocab));
  for (int b = 0; b < B; ++b) {
    for (int t = 0; t < Td; ++t) batch.targets.push_back(int32_t(Lcg(s) % vocab));
    batch.decoder_inputs.push_back(0);  // [pad, targets[:-1]]
    for (int t = 0; t + 1 < Td; ++t) batch.decoder_inputs.push_back(batch.targets[b * Td + t]);
  }
  batch.targets[1] = kIgnoreIndex;  // one position without loss
  return batch;
}

TokenBatch Rows(const TokenBatch& full, int first, int rows) {
  TokenBatch part = full;
  part.batch = rows;
  auto cut = [&](const std::vector<int32_t>& v, int width) {
    return std::vector<int32_t>(v.begin() + first * width, v.begin() + (first + rows) * width);
  };
  part.inputs = cut(full.inputs, full.input_tokens);
  part.decoder_inputs = cut(full.decoder_inputs, full.target_tokens);
  part.targets = cut(full.targets, full.target_tokens);
  return part;
}

const TensorEntry* Find(const TensorTable& table, const std::string& name) {
  for (const auto& e : table)
    if (e.name == name) return &e;
  return nullptr;
}

TEST(T5Layout, PublishedSizesHaveTheirParameterCounts) {
  // google/t5-v1_1-small, -base, -large with vocab 32128 (untied head), from the layout
  // alone (the model's own table; allocating 783M floats would not fit a unit test).
  const std::pair<const char*, int64_t> published[] = {
      {"small", 76961152}, {"base", 247577856}, {"large", 783150080}};
  for (auto [name, count] : published) {
    T5Config c = t5_preset(name);
    c.vocab_size = 32128;
    ParameterCounts counts = T5::count_parameters(T5::layout(c).table);
    EXPECT_EQ(counts.total, count) << name;
    const int64_t embeddings = 2LL * 32128 * c.d_model;  // shared + lm_head
    const int64_t position_tables = 2LL * 32 * c.n_head;
    EXPECT_EQ(counts.non_embedding, count - embeddings - position_tables) << name;
  }
  // An allocated model reports the same counts as its layout.
  auto backend = kernels::make_cpu_backend();
  T5 tiny(TinyConfig(), *backend);
  EXPECT_EQ(tiny.parameter_counts().total, int64_t(tiny.params().count));
  EXPECT_EQ(tiny.parameter_counts().total,
            T5::count_parameters(T5::layout(TinyConfig()).table).total);
}

TEST(T5Layout, NamesFollowTheHuggingFaceLayout) {
  auto backend = kernels::make_cpu_backend();
  T5 model(TinyConfig(), *backend);
  const TensorTable& t = model.table();
  EXPECT_EQ(t.front().name, "shared.weight");
  EXPECT_EQ(t[1].name, "encoder.block.0.layer.0.SelfAttention.q.weight");
  EXPECT_EQ(t.back().name, "lm_head.weight");
  for (const char* name :
       {"encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight",
        "decoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight",
        "encoder.block.1.layer.1.DenseReluDense.wi_0.weight", "encoder.final_layer_norm.weight",
        "decoder.block.2.layer.1.EncDecAttention.o.weight",
        "decoder.block.2.layer.2.DenseReluDense.wo.weight",
        "decoder.block.2.layer.2.layer_norm.weight", "decoder.final_layer_norm.weight"}) {
    EXPECT_NE(Find(t, name), nullptr) << name;
  }
  EXPECT_EQ(Find(t, "encoder.block.1.layer.0.SelfAttention.relative_attention_bias.weight"),
            nullptr);
  EXPECT_EQ(Find(t, "decoder.block.0.layer.0.SelfAttention.q.weight")->shape,
            (std::vector<int64_t>{12, 16}));  // [n_head·d_kv, d_model]
  EXPECT_EQ(Find(t, "decoder.block.0.layer.1.EncDecAttention.o.weight")->shape,
            (std::vector<int64_t>{16, 12}));
  EXPECT_EQ(Find(t, "encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight")->shape,
            (std::vector<int64_t>{32, 2}));
}

TEST(T5Layout, UnknownPresetAndBadShapeAreUserErrors) {
  EXPECT_THROW(t5_preset("xxl-turbo"), UserError);
  T5Config c = TinyConfig();
  c.d_kv = 0;
  auto backend = kernels::make_cpu_backend();
  EXPECT_THROW(T5(c, *backend), UserError);
}

TEST(T5Buckets, BidirectionalBucketsMatchTheReferenceTable) {
  // 32 buckets, max distance 128: 16 per direction, exact below 8, logarithmic to 128.
  auto b = [](int q, int k) { return relative_position_bucket(q, k, true, 32, 128); };
  EXPECT_EQ(b(5, 5), 0);
  EXPECT_EQ(b(5, 4), 1);   // one key back
  EXPECT_EQ(b(4, 5), 17);  // one key ahead: the upper half
  EXPECT_EQ(b(7, 0), 7);
  EXPECT_EQ(b(8, 0), 8);    // first logarithmic bucket
  EXPECT_EQ(b(15, 0), 9);   // 8 + ⌊2·log2(15/8)⌋ = 8 + 1
  EXPECT_EQ(b(16, 0), 10);  // exact power-of-two boundaries land on their bucket
  EXPECT_EQ(b(32, 0), 12);
  EXPECT_EQ(b(64, 0), 14);
  EXPECT_EQ(b(0, 64), 30);
  EXPECT_EQ(b(127, 0), 15);
  EXPECT_EQ(b(500, 0), 15);  // everything past max_distance shares the last bucket
  EXPECT_EQ(b(0, 500), 31);
}

TEST(T5Buckets, CausalBucketsUseAllBucketsForThePast) {
  auto b = [](int q, int k) { return relative_position_bucket(q, k, false, 32, 128); };
  EXPECT_EQ(b(3, 9), 0);  // keys ahead: bucket 0 (masked anyway)
  EXPECT_EQ(b(9, 9), 0);
  EXPECT_EQ(b(24, 9), 15);  // distance 15 < 16: exact
  EXPECT_EQ(b(20, 0), 17);  // 16 + ⌊16·ln(20/16)/ln 8⌋ = 16 + 1
  EXPECT_EQ(b(127, 0), 31);
  EXPECT_EQ(b(1000, 0), 31);
  std::vector<int32_t> row = relative_position_buckets(1, 4, 3, false, 32, 128);
  EXPECT_EQ(row, (std::vector<int32_t>{3, 2, 1, 0}));
}

TEST(T5Flops, EncoderAndDecoderTokensAreCountedSeparately) {
  auto backend = kernels::make_cpu_backend();
  T5Config c = TinyConfig();
  T5 model(c, *backend);
  const double Te = 10, Td = 4, C = c.d_model, I = c.inner_dim(), F = c.d_ff, V = c.vocab_size;
  const double encoder = 2 * (Te * (4 * C * I + 3 * C * F) + 2 * Te * Te * I);
  const double decoder = 3 * (Td * (4 * C * I + 3 * C * F) + 2 * Td * Td * I         // self + FFN
                              + Td * 2 * C * I + Te * 2 * C * I + 2 * Td * Te * I);  // cross
  EXPECT_DOUBLE_EQ(model.training_flops_per_example(10, 4), 6 * (encoder + decoder + Td * C * V));
}

TEST(T5Init, SameSeedSameWeightsAndTheScalesOfV11) {
  auto backend = kernels::make_cpu_backend();
  T5Config c = t5_preset("tiny");
  c.vocab_size = 300;
  T5 a(c, *backend), b(c, *backend), other(c, *backend);
  a.initialize(1), b.initialize(1), other.initialize(2);
  auto wa = Download(*backend, a.params());
  EXPECT_EQ(wa, Download(*backend, b.params()));
  EXPECT_NE(wa, Download(*backend, other.params()));
  auto rms = [&](const std::string& name) {
    const TensorEntry* e = Find(a.table(), name);
    double sq = 0;
    for (size_t i = 0; i < e->count(); ++i) sq += double(wa[e->offset + i]) * wa[e->offset + i];
    return std::sqrt(sq / e->count());
  };
  const double C = c.d_model, D = c.d_kv, F = c.d_ff, I = c.inner_dim();
  EXPECT_NEAR(rms("shared.weight"), 1.0, 0.02);
  EXPECT_NEAR(rms("lm_head.weight"), 1 / std::sqrt(C), 0.01 / std::sqrt(C) * 2);
  EXPECT_NEAR(rms("encoder.block.0.layer.0.SelfAttention.q.weight"), 1 / std::sqrt(C * D), 0.005);
  EXPECT_NEAR(rms("decoder.block.1.layer.1.EncDecAttention.k.weight"), 1 / std::sqrt(C), 0.01);
  EXPECT_NEAR(rms("decoder.block.1.layer.1.EncDecAttention.o.weight"), 1 / std::sqrt(I), 0.01);
  EXPECT_NEAR(rms("encoder.block.1.layer.1.DenseReluDense.wo.weight"), 1 / std::sqrt(F), 0.01);
  EXPECT_EQ(rms("decoder.final_layer_norm.weight"), 1.0);
}

TEST(T5Generate, KVCacheDecodingMatchesTheFullDecoderForward) {
  auto backend = kernels::make_cpu_backend();
  T5Config c = TinyConfig();
  T5 model(c, *backend);
  model.initialize(3);
  std::vector<int32_t> input = {5, 17, 3, 22, 9, 31, 2};
  TokenSampler sampler(0);
  SamplingOptions greedy;
  greedy.temperature = 0;
  std::vector<int32_t> generated = model.generate(input, 9, greedy, -1, sampler);
  ASSERT_EQ(generated.size(), 9u);
  // Greedy: token i is the argmax of the full forward pass at decoder position i, with
  // decoder inputs [start, generated[:-1]].
  TokenBatch batch;
  batch.batch = 1, batch.input_tokens = int(input.size()), batch.target_tokens = 9;
  batch.inputs = input;
  batch.decoder_inputs = {c.decoder_start_id};
  batch.decoder_inputs.insert(batch.decoder_inputs.end(), generated.begin(), generated.end() - 1);
  batch.targets.assign(9, 0);
  std::vector<float> logits = model.logits(batch);
  for (size_t i = 0; i < generated.size(); ++i) {
    const float* row = logits.data() + i * c.vocab_size;
    EXPECT_EQ(generated[i], int(std::max_element(row, row + c.vocab_size) - row)) << "token " << i;
  }
  // Stopping at the stop token.
  TokenSampler again(0);
  auto stopped = model.generate(input, 9, greedy, generated[2], again);
  EXPECT_EQ(stopped, std::vector<int32_t>(generated.begin(), generated.begin() + 3));
}

class T5Variant : public testing::TestWithParam<int> {};
INSTANTIATE_TEST_SUITE_P(Ladder, T5Variant, testing::Range(0, 16), VariantName);

TEST_P(T5Variant, TwoHalfBatchesAccumulateToTheFullBatchGradient) {
  auto backend = kernels::make_cpu_backend();
  T5 model(VariantConfig(GetParam()), *backend);
  model.initialize(4);
  TokenBatch full = RandomBatch(4, 9, 5, 40, 9);
  backend->fill(model.grads(), 0);
  double loss_full = model.forward_backward(full, 1.0f / 19, {});
  auto g_full = Download(*backend, model.grads());
  backend->fill(model.grads(), 0);
  double loss_halves = model.forward_backward(Rows(full, 0, 2), 1.0f / 19, {}) +
                       model.forward_backward(Rows(full, 2, 2), 1.0f / 19, {});
  auto g_halves = Download(*backend, model.grads());
  EXPECT_NEAR(loss_full, loss_halves, 1e-5 * loss_full);
  double diff = 0, norm = 0;
  for (size_t i = 0; i < g_full.size(); ++i) {
    diff += (g_full[i] - g_halves[i]) * (g_full[i] - g_halves[i]);
    norm += g_full[i] * g_full[i];
  }
  EXPECT_LT(std::sqrt(diff / norm), 1e-5);
}

TEST_P(T5Variant, HookReportsEveryGradientOnceAndOnlyWhenFinal) {
  auto backend = kernels::make_cpu_backend();
  T5 model(VariantConfig(GetParam()), *backend);
  model.initialize(5);
  TokenBatch batch = RandomBatch(2, 8, 6, 40, 1);
  backend->fill(model.grads(), 0);
  model.forward_backward(batch, 1.0f / 11, {});
  auto final_grads = Download(*backend, model.grads());
  // Second pass: at each report, the reported range must already hold its final value.
  std::vector<int> covered(model.params().count, 0);
  backend->fill(model.grads(), 0);
  model.forward_backward(batch, 1.0f / 11, [&](size_t begin, size_t end) {
    auto now = Download(*backend, model.grads());
    for (size_t i = begin; i < end; ++i) {
      covered[i]++;
      ASSERT_EQ(now[i], final_grads[i]) << "offset " << i << " reported before it was final";
    }
  });
  for (size_t i = 0; i < covered.size(); ++i) ASSERT_EQ(covered[i], 1) << "offset " << i;
}

// Recomputation reruns each layer's forward from its input before its backward: on the
// deterministic CPU backend the loss and gradients are bit-identical, the hook still reports
// each range once with its final value, and layers after the first in each stack hold only
// their outputs (and, layerwise, the normalised inputs the decoder reads), so the peak drops.
TEST_P(T5Variant, RecomputeGivesTheSameNumbersWithLessMemory) {
  TokenBatch batch = RandomBatch(2, 8, 6, 40, 3);
  double loss[2];
  std::vector<float> grads[2];
  size_t peak[2];
  for (int recompute = 0; recompute < 2; ++recompute) {
    auto backend = kernels::make_cpu_backend();
    T5 model(VariantConfig(GetParam()), *backend);
    model.initialize(6);
    model.set_recompute(recompute == 1);
    backend->fill(model.grads(), 0);
    std::vector<std::pair<size_t, size_t>> reported;
    loss[recompute] = model.forward_backward(batch, 1.0f / 11, [&](size_t b, size_t e) {
      reported.emplace_back(b, e);
    });
    grads[recompute] = Download(*backend, model.grads());
    peak[recompute] = backend->memory_usage().peak_bytes;
    size_t covered = 0;
    for (auto [b, e] : reported) covered += e - b;
    EXPECT_EQ(covered, model.params().count);
    if (recompute == 1) {  // the same reports, in the same order, as without recomputation
      backend->fill(model.grads(), 0);
      model.set_recompute(false);
      std::vector<std::pair<size_t, size_t>> plain;
      model.forward_backward(batch, 1.0f / 11, [&](size_t b, size_t e) { plain.emplace_back(b, e); });
      EXPECT_EQ(reported, plain);
    }
  }
  EXPECT_EQ(loss[0], loss[1]);
  ASSERT_EQ(grads[0].size(), grads[1].size());
  for (size_t i = 0; i < grads[0].size(); ++i) ASSERT_EQ(grads[0][i], grads[1][i]) << "offset " << i;
  EXPECT_LT(peak[1], peak[0]);
}

TEST_P(T5Variant, GradientsMatchFiniteDifferences) {
  // 3 weights of every tensor, for every combination of the structure switches; the bound is
  // model_test_support.h's, the same as the decoder's.
  auto backend = kernels::make_cpu_backend();
  T5 model(VariantConfig(GetParam()), *backend);
  model.initialize(6);
  TokenBatch batch = RandomBatch(2, 7, 5, 40, 2);
  const float scale = 1.0f / float(batch.counted_targets());
  test_support::ExpectGradientsMatchFiniteDifferences(model, *backend, batch, scale);
}

TEST_P(T5Variant, EveryParameterGetsAGradientAndGreedyDecodingFollowsTheForwardPass) {
  // No switch combination leaves a parameter without a path to the loss.
  auto backend = kernels::make_cpu_backend();
  const T5Config c = VariantConfig(GetParam());
  T5 model(c, *backend);
  model.initialize(8);
  TokenBatch batch = RandomBatch(2, 7, 5, 40, 3);
  backend->fill(model.grads(), 0);
  model.forward_backward(batch, 1.0f / 9, {});
  auto grads = Download(*backend, model.grads());
  for (const auto& e : model.table()) {
    double norm = 0;
    for (size_t i = e.offset; i < e.offset + e.count(); ++i) norm += double(grads[i]) * grads[i];
    EXPECT_GT(norm, 0.0) << e.name << " has no gradient";
  }
  // Greedy generation picks the argmax of the full forward pass at each position.
  std::vector<int32_t> input = {5, 17, 3, 22, 9};
  TokenSampler sampler(0);
  SamplingOptions greedy;
  greedy.temperature = 0;
  std::vector<int32_t> generated = model.generate(input, 6, greedy, -1, sampler);
  ASSERT_EQ(generated.size(), 6u);
  TokenBatch full;
  full.batch = 1, full.input_tokens = int(input.size()), full.target_tokens = 6;
  full.inputs = input;
  full.decoder_inputs = {c.decoder_start_id};
  full.decoder_inputs.insert(full.decoder_inputs.end(), generated.begin(), generated.end() - 1);
  full.targets.assign(6, 0);
  std::vector<float> logits = model.logits(full);
  for (size_t i = 0; i < generated.size(); ++i) {
    const float* row = logits.data() + i * c.vocab_size;
    EXPECT_EQ(generated[i], int(std::max_element(row, row + c.vocab_size) - row)) << "token " << i;
  }
}

TEST(T5Ladder, LayoutDropsWhatEachSwitchRemoves) {
  T5Config c = TinyConfig();
  c.n_encoder_layer = c.n_decoder_layer = 3;
  c.vocab_size = 100;
  const int64_t C = c.d_model, I = c.inner_dim(), F = c.d_ff, V = c.vocab_size, L = 3;
  const int64_t table = int64_t(c.num_buckets) * c.n_head;
  const int64_t attention = 4 * I * C, ffn = 3 * F * C;
  auto count = [&](const T5Config& config) {
    return T5::count_parameters(T5::layout(config).table).total;
  };
  auto has = [&](const T5Config& config, const std::string& name) {
    return Find(T5::layout(config).table, name) != nullptr;
  };
  const int64_t encoder = L * (attention + ffn + 2 * C) + table + C;
  const int64_t decoder = L * (2 * attention + ffn + 3 * C) + table + C;
  EXPECT_EQ(count(c), 2 * V * C + encoder + decoder);

  T5Config cross = c;
  cross.share_cross_attention = true;
  EXPECT_EQ(count(cross), count(c) - L * (attention + C));
  EXPECT_FALSE(has(cross, "decoder.block.0.layer.1.EncDecAttention.q.weight"));
  EXPECT_TRUE(has(cross, "decoder.block.0.layer.1.DenseReluDense.wo.weight"));

  T5Config stacks = cross;
  stacks.share_encoder_decoder = true;  // a decoder-only model's parameters
  const int64_t decoder_only = 2 * V * C + L * (attention + ffn + 2 * C) + table + C;
  EXPECT_EQ(count(stacks), decoder_only);
  EXPECT_FALSE(has(stacks, "encoder.block.0.layer.0.layer_norm.weight"));
  stacks.layerwise_cross_attention = stacks.causal_input = true;
  EXPECT_EQ(count(stacks), decoder_only);

  T5Config layerwise = c;  // separate stacks: the encoder's last block keeps only its norm
  layerwise.layerwise_cross_attention = true;
  EXPECT_EQ(count(layerwise), count(c) - (attention + ffn + C) - C);
  EXPECT_TRUE(has(layerwise, "encoder.block.2.layer.0.layer_norm.weight"));
  EXPECT_FALSE(has(layerwise, "encoder.block.2.layer.0.SelfAttention.q.weight"));
  EXPECT_FALSE(has(layerwise, "encoder.final_layer_norm.weight"));

  T5Config unequal = c;
  unequal.n_decoder_layer = 2;
  unequal.share_encoder_decoder = true;
  EXPECT_THROW(validate(unequal), UserError);
  unequal.share_encoder_decoder = false;
  unequal.layerwise_cross_attention = true;
  EXPECT_THROW(validate(unequal), UserError);
}

TEST(T5Ladder, FlopsFollowTheWorkEachVariantDoes) {
  T5Config c = VariantConfig(0);
  c.vocab_size = 40;
  auto backend = kernels::make_cpu_backend();
  const double Te = 12, Td = 6, C = c.d_model, I = c.inner_dim();
  T5 base(c, *backend);
  T5Config merged_config = c;
  merged_config.share_cross_attention = true;
  T5 merged(merged_config, *backend);
  // Merged: no cross q and o (2·Td·C·I MACs), attention over Te + Td keys instead of Td and
  // Te separately (the same 2·Td·(Te+Td)·I MACs).
  const double saved = 6.0 * c.n_decoder_layer * (2 * Td * C * I);
  EXPECT_NEAR(base.training_flops_per_example(int(Te), int(Td)) -
                  merged.training_flops_per_example(int(Te), int(Td)),
              saved, 1e-6 * saved);
  // Sharing parameters changes no work; the causal input neither (the square is counted).
  T5Config shared_config = c;
  shared_config.share_encoder_decoder = shared_config.causal_input = true;
  T5 shared(shared_config, *backend);
  EXPECT_EQ(shared.training_flops_per_example(int(Te), int(Td)),
            base.training_flops_per_example(int(Te), int(Td)));
}

}  // namespace
}  // namespace molt::model
