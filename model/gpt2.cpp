#include "model/gpt2.h"

#include <cmath>
#include <numeric>
#include <string>
#include <utility>

#include "kernels/error.h"
#include "model/buffer_set.h"
#include "model/flops.h"
#include "model/gaussian_init.h"

namespace molt::model {

using kernels::AttentionMask;
using kernels::AttentionShape;
using kernels::Din;
using kernels::DType;
using kernels::Tensor;

// Saved activations for one micro-batch shape (B, T), and the scratch backward reuses.
struct GPT2::Activations {
  struct Layer {
    Tensor ln1, ln1_mean, ln1_rstd, qkv, atty, lse, residual2;
    Tensor ln2, ln2_mean, ln2_rstd, fch, fch_gelu, residual3;
  };
  int batch = 0, tokens = 0;
  bool recompute = false;
  AttentionMask mask = AttentionMask::kCausal;  // of the last forward
  Tensor ids, targets, prefix_lengths;  // i32
  Tensor encoded;                       // x₀ [N, C]
  std::vector<Layer> layers;
  Tensor lnf, lnf_mean, lnf_rstd, logits, losses;
  Tensor proj_scratch;                  // [N, C], output of either projection before the add
  // Backward scratch: written by the first op that produces it (Din::kWrite), or zeroed
  // first where ops add into it.
  Tensor dresidual, dln, datty, dqkv, dfch, dfch_gelu;
  BufferSet buffers;                    // everything above

  Activations(kernels::Backend& backend, BufferSet::Measure)
      : buffers(backend, BufferSet::kMeasure) {}
  Activations(kernels::Backend& backend, Tensor block, size_t bytes)
      : buffers(backend, block, bytes) {}
};

GPT2::GPT2(const GPT2Config& config, kernels::Backend& backend)
    : config_(config), backend_(backend) {
  validate(config_);
  build_table();
  flat_ = std::make_unique<FlatParameters>(backend_, table_count(table_));
  p_ = views(flat_->compute);
  g_ = views(flat_->grads);
}

GPT2::~GPT2() = default;

void GPT2::build_table() {
  const int64_t C = config_.d_model, F = config_.ff_dim(), V = config_.vocab_size;
  size_t offset = 0;
  auto add = [&](const std::string& name, std::vector<int64_t> shape) {
    TensorEntry entry{name, std::move(shape), offset};
    offset += entry.count();
    table_.push_back(std::move(entry));
  };
  add("transformer.wte.weight", {V, C});
  add("transformer.wpe.weight", {config_.n_ctx, C});
  layer_first_entry_ = table_.size();
  for (int l = 0; l < config_.n_layer; ++l) {
    const std::string h = "transformer.h." + std::to_string(l) + ".";
    add(h + "ln_1.weight", {C});
    add(h + "ln_1.bias", {C});
    add(h + "attn.c_attn.weight", {3 * C, C});
    add(h + "attn.c_attn.bias", {3 * C});
    add(h + "attn.c_proj.weight", {C, C});
    add(h + "attn.c_proj.bias", {C});
    add(h + "ln_2.weight", {C});
    add(h + "ln_2.bias", {C});
    add(h + "mlp.c_fc.weight", {F, C});
    add(h + "mlp.c_fc.bias", {F});
    add(h + "mlp.c_proj.weight", {C, F});
    add(h + "mlp.c_proj.bias", {C});
    if (l == 0) entries_per_layer_ = table_.size() - layer_first_entry_;
  }
  add("transformer.ln_f.weight", {C});
  add("transformer.ln_f.bias", {C});
}

GPT2::Weights GPT2::views(Tensor buffer) const {
  size_t next = 0;
  auto take = [&]() {
    const TensorEntry& e = table_[next++];
    return buffer.slice(e.offset, e.count());
  };
  Weights w;
  w.wte = take();
  w.wpe = take();
  for (int l = 0; l < config_.n_layer; ++l) {
    Layer L;
    L.ln1_w = take(), L.ln1_b = take(), L.qkv_w = take(), L.qkv_b = take();
    L.attn_proj_w = take(), L.attn_proj_b = take(), L.ln2_w = take(), L.ln2_b = take();
    L.fc_w = take(), L.fc_b = take(), L.fc_proj_w = take(), L.fc_proj_b = take();
    w.layers.push_back(L);
  }
  w.lnf_w = take();
  w.lnf_b = take();
  return w;
}

void GPT2::initialize(uint64_t seed) {
  // GPT-2: weights ~ N(0, 0.02); the two projections that write into the residual stream
  // ~ N(0, 0.02/√(2·n_layer)) so the stream's variance does not grow with depth; biases 0;
  // norm gains 1.
  const float residual_std = 0.02f / std::sqrt(2.0f * config_.n_layer);
  std::vector<float> host(table_count(table_), 0.0f);
  GaussianStream normal(seed);
  auto ends_with = [](const std::string& s, const std::string& suffix) {
    return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(),
                                                  suffix) == 0;
  };
  for (const TensorEntry& e : table_) {
    float* values = host.data() + e.offset;
    if (e.shape.size() >= 2) {
      bool residual = ends_with(e.name, "attn.c_proj.weight") || ends_with(e.name, "mlp.c_proj.weight");
      normal.fill(values, e.count(), residual ? residual_std : 0.02f);
    } else if (ends_with(e.name, "ln_1.weight") || ends_with(e.name, "ln_2.weight") ||
               ends_with(e.name, "ln_f.weight")) {
      std::fill(values, values + e.count(), 1.0f);
    }
  }
  backend_.upload(flat_->params, host.data());
  if (flat_->compute.data != flat_->params.data) backend_.copy(flat_->compute, flat_->params);
}

void GPT2::plan(int B, int T) {
  if (acts_ && acts_->batch == B && acts_->tokens == T && acts_->recompute == recompute_) return;
  if (T > config_.n_ctx) {
    throw UserError("sequence length " + std::to_string(T) + " exceeds the model's n_ctx (" +
                    std::to_string(config_.n_ctx) + ")");
  }
  // The old shape's buffers go before the new ones are allocated, and its block carries
  // over, replaced first if a dry run says this shape needs more (buffer_set.h).
  const Tensor block = acts_ ? acts_->buffers.take_block() : Tensor{};
  acts_.reset();
  Activations dry_run(backend_, BufferSet::kMeasure);
  allocate_activations(dry_run, B, T);
  acts_ = std::make_unique<Activations>(backend_, block, dry_run.buffers.bytes());
  allocate_activations(*acts_, B, T);
}

void GPT2::allocate_activations(Activations& a, int B, int T) {
  a.batch = B;
  a.tokens = T;
  a.recompute = recompute_;
  const size_t N = static_cast<size_t>(B) * T, C = config_.d_model, F = config_.ff_dim();
  const size_t V = config_.vocab_size, H = config_.n_head;
  const DType act = backend_.compute_dtype();
  auto alloc = [&](DType dtype, size_t n) { return a.buffers.allocate(dtype, n); };
  a.ids = alloc(DType::kI32, N);
  a.targets = alloc(DType::kI32, N);
  a.prefix_lengths = alloc(DType::kI32, B);
  a.encoded = alloc(act, N * C);
  // Under recomputation every block gets the same buffers (allocated once) but its own
  // output, residual3, which is the next block's input.
  for (int l = 0; l < config_.n_layer; ++l) {
    if (recompute_ && l > 0) {
      Activations::Layer L = a.layers.front();
      L.residual3 = alloc(act, N * C);
      a.layers.push_back(L);
      continue;
    }
    Activations::Layer L;
    L.ln1 = alloc(act, N * C);
    L.ln1_mean = alloc(DType::kF32, N);
    L.ln1_rstd = alloc(DType::kF32, N);
    L.qkv = alloc(act, N * 3 * C);
    L.atty = alloc(act, N * C);
    L.lse = alloc(DType::kF32, B * H * T);
    L.residual2 = alloc(act, N * C);
    L.ln2 = alloc(act, N * C);
    L.ln2_mean = alloc(DType::kF32, N);
    L.ln2_rstd = alloc(DType::kF32, N);
    L.fch = alloc(act, N * F);
    L.fch_gelu = alloc(act, N * F);
    L.residual3 = alloc(act, N * C);
    a.layers.push_back(L);
  }
  a.lnf = alloc(act, N * C);
  a.lnf_mean = alloc(DType::kF32, N);
  a.lnf_rstd = alloc(DType::kF32, N);
  a.logits = alloc(act, N * V);
  a.losses = alloc(DType::kF32, N);
  a.proj_scratch = alloc(act, N * C);
  a.dresidual = alloc(act, N * C);
  a.dln = alloc(act, N * C);
  a.datty = alloc(act, N * C);
  a.dqkv = alloc(act, N * 3 * C);
  a.dfch = alloc(act, N * F);
  a.dfch_gelu = alloc(act, N * F);
}

namespace {

void check_batch(const TokenBatch& batch, int vocab_size) {
  const size_t n = static_cast<size_t>(batch.batch) * batch.input_tokens;
  if (batch.target_tokens != batch.input_tokens || batch.inputs.size() != n ||
      batch.targets.size() != n) {
    throw std::logic_error("GPT2: a decoder batch needs inputs and targets of [B, T]");
  }
  for (int32_t id : batch.inputs) {
    if (id < 0 || id >= vocab_size) {
      throw UserError("token id " + std::to_string(id) + " is outside the model's vocabulary (" +
                      std::to_string(vocab_size) + ")");
    }
  }
}

}  // namespace

void GPT2::forward(const TokenBatch& batch) {
  check_batch(batch, config_.vocab_size);
  plan(batch.batch, batch.input_tokens);
  Activations& a = *acts_;
  const int B = a.batch, T = a.tokens, C = config_.d_model;
  const int N = B * T, V = config_.vocab_size;
  const float eps = config_.layernorm_eps;

  backend_.upload(a.ids, batch.inputs.data());
  backend_.upload(a.targets, batch.targets.data());
  a.mask = AttentionMask::kCausal;
  if (!batch.prefix_lengths.empty()) {
    backend_.upload(a.prefix_lengths, batch.prefix_lengths.data());
    a.mask = AttentionMask::kPrefix;
  }
  backend_.embedding_forward(a.encoded, a.ids, p_.wte, p_.wpe, B, T, C);
  Tensor residual = a.encoded;
  for (int l = 0; l < config_.n_layer; ++l) {
    forward_layer(l, residual);
    residual = a.layers[l].residual3;
  }
  backend_.layernorm_forward(a.lnf, a.lnf_mean, a.lnf_rstd, residual, p_.lnf_w, p_.lnf_b, N, C, eps);
  backend_.matmul_forward(a.logits, a.lnf, p_.wte, Tensor{}, N, C, V);
}

void GPT2::forward_layer(int l, Tensor residual) {
  Activations& a = *acts_;
  const int C = config_.d_model, F = config_.ff_dim(), N = a.batch * a.tokens;
  const float eps = config_.layernorm_eps;
  const AttentionShape shape = self_attention_shape();
  const Layer& w = p_.layers[l];
  Activations::Layer& L = a.layers[l];
  backend_.layernorm_forward(L.ln1, L.ln1_mean, L.ln1_rstd, residual, w.ln1_w, w.ln1_b, N, C, eps);
  backend_.matmul_forward(L.qkv, L.ln1, w.qkv_w, w.qkv_b, N, C, 3 * C);
  Tensor q = L.qkv.slice(0, L.qkv.count), k = L.qkv.slice(C, L.qkv.count - C),
         v = L.qkv.slice(2 * C, L.qkv.count - 2 * C);
  backend_.attention_forward(L.atty, L.lse, q, k, v, Tensor{}, a.prefix_lengths, shape);
  backend_.matmul_forward(a.proj_scratch, L.atty, w.attn_proj_w, w.attn_proj_b, N, C, C);
  backend_.add(L.residual2, residual, a.proj_scratch);
  backend_.layernorm_forward(L.ln2, L.ln2_mean, L.ln2_rstd, L.residual2, w.ln2_w, w.ln2_b, N, C, eps);
  backend_.matmul_gelu_forward(L.fch_gelu, L.fch, L.ln2, w.fc_w, w.fc_b, N, C, F);
  backend_.matmul_forward(a.proj_scratch, L.fch_gelu, w.fc_proj_w, w.fc_proj_b, N, F, C);
  backend_.add(L.residual3, L.residual2, a.proj_scratch);
}

double GPT2::forward_backward(const TokenBatch& batch, float grad_scale,
                              const GradsReadyHook& on_grads_ready) {
  forward(batch);
  Activations& a = *acts_;
  const int N = a.batch * a.tokens;
  backend_.cross_entropy(a.logits, a.losses, a.targets, N, config_.vocab_size, kIgnoreIndex,
                         grad_scale);
  std::vector<float> losses(N);
  backend_.download(losses.data(), a.losses);
  double total = std::accumulate(losses.begin(), losses.end(), 0.0);
  if (grad_scale != 0.0f) backward(on_grads_ready);
  return total;
}

// Self-attention over the fused qkv buffer [B, T, 3C]: q, k, v are column offsets 0, C, 2C.
AttentionShape GPT2::self_attention_shape() const {
  AttentionShape shape;
  shape.batch = acts_->batch;
  shape.q_tokens = shape.kv_tokens = acts_->tokens;
  shape.heads = config_.n_head;
  shape.head_dim = config_.head_dim();
  shape.q_row_stride = shape.kv_row_stride = 3 * config_.d_model;
  shape.scale = 1.0f / std::sqrt(static_cast<float>(shape.head_dim));
  shape.mask = acts_->mask;
  return shape;
}

std::vector<float> GPT2::logits(const TokenBatch& batch) {
  forward(batch);
  return download_as_f32(backend_, acts_->logits);
}

void GPT2::backward(const GradsReadyHook& on_grads_ready) {
  Activations& a = *acts_;
  const int B = a.batch, T = a.tokens, C = config_.d_model, F = config_.ff_dim();
  const int N = B * T, V = config_.vocab_size;
  const AttentionShape shape = self_attention_shape();

  // logits were overwritten with dlogits by cross_entropy.
  backend_.matmul_backward(a.dln, g_.wte, Tensor{}, a.logits, a.lnf, p_.wte, N, C, V, Din::kWrite);
  Tensor last_residual = config_.n_layer > 0 ? a.layers.back().residual3 : a.encoded;
  backend_.fill(a.dresidual, 0.0f);
  backend_.layernorm_backward(a.dresidual, g_.lnf_w, g_.lnf_b, a.dln, last_residual, p_.lnf_w,
                              a.lnf_mean, a.lnf_rstd, N, C);
  report_grads_ready(on_grads_ready, table_, table_.size() - 2, table_.size());

  for (int l = config_.n_layer - 1; l >= 0; --l) {
    const Layer& w = p_.layers[l];
    const Layer& dw = g_.layers[l];
    Activations::Layer& L = a.layers[l];
    Tensor residual = l == 0 ? a.encoded : a.layers[l - 1].residual3;
    // The shared buffers still hold the last block's activations from the forward pass.
    if (a.recompute && l + 1 < config_.n_layer) forward_layer(l, residual);
    // MLP branch: residual3 = residual2 + c_proj(gelu(c_fc(ln_2(residual2))))
    backend_.matmul_gelu_backward(a.dfch, dw.fc_proj_w, dw.fc_proj_b, a.dresidual, L.fch_gelu,
                                  w.fc_proj_w, L.fch, a.dfch_gelu, N, F, C);
    backend_.matmul_backward(a.dln, dw.fc_w, dw.fc_b, a.dfch, L.ln2, w.fc_w, N, C, F, Din::kWrite);
    backend_.layernorm_backward(a.dresidual, dw.ln2_w, dw.ln2_b, a.dln, L.residual2, w.ln2_w,
                                L.ln2_mean, L.ln2_rstd, N, C);
    // Attention branch: residual2 = residual + c_proj(attn(c_attn(ln_1(residual))))
    backend_.matmul_backward(a.datty, dw.attn_proj_w, dw.attn_proj_b, a.dresidual, L.atty,
                             w.attn_proj_w, N, C, C, Din::kWrite);
    backend_.fill(a.dqkv, 0.0f);
    Tensor q = L.qkv.slice(0, L.qkv.count), k = L.qkv.slice(C, L.qkv.count - C),
           v = L.qkv.slice(2 * C, L.qkv.count - 2 * C);
    Tensor dq = a.dqkv.slice(0, a.dqkv.count), dk = a.dqkv.slice(C, a.dqkv.count - C),
           dv = a.dqkv.slice(2 * C, a.dqkv.count - 2 * C);
    backend_.attention_backward(dq, dk, dv, Tensor{}, a.datty, L.atty, L.lse, q, k, v, Tensor{},
                                a.prefix_lengths, shape);
    backend_.matmul_backward(a.dln, dw.qkv_w, dw.qkv_b, a.dqkv, L.ln1, w.qkv_w, N, C, 3 * C,
                             Din::kWrite);
    backend_.layernorm_backward(a.dresidual, dw.ln1_w, dw.ln1_b, a.dln, residual, w.ln1_w,
                                L.ln1_mean, L.ln1_rstd, N, C);
    size_t first = layer_first_entry_ + static_cast<size_t>(l) * entries_per_layer_;
    report_grads_ready(on_grads_ready, table_, first, first + entries_per_layer_);
  }
  backend_.embedding_backward(g_.wte, g_.wpe, a.dresidual, a.ids, B, T, C);
  report_grads_ready(on_grads_ready, table_, 0, layer_first_entry_);
}

ParameterCounts GPT2::parameter_counts() const {
  ParameterCounts counts;
  counts.total = static_cast<int64_t>(table_count(table_));
  counts.non_embedding = counts.total - static_cast<int64_t>(table_[0].count() + table_[1].count());
  return counts;
}

double GPT2::training_flops_per_example(int input_tokens, int /*target_tokens*/) const {
  const double T = input_tokens, C = config_.d_model, F = config_.ff_dim();
  ForwardWork work;
  for (int l = 0; l < config_.n_layer; ++l) {
    work.linear(T, C, 3 * C);   // c_attn
    work.attention(T, T, C);    // scores and weighted values, all heads
    work.linear(T, C, C);       // attn.c_proj
    work.linear(T, C, F);       // mlp.c_fc
    work.linear(T, F, C);       // mlp.c_proj
  }
  work.linear(T, C, config_.vocab_size);  // tied output projection
  return training_flops(work);
}

}  // namespace molt::model
