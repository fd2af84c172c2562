#include "model/t5.h"

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

// One stack's saved activations for a micro-batch shape, and the scratch its backward uses.
struct T5::Stack {
  struct Layer {
    Tensor self_normed, self_rstd, qkv, self_att, self_lse, after_self;
    Tensor joint_kv;  // merged attention: [B, Te + T, 2·inner], the input's K/V then the target's
    Tensor cross_normed, cross_rstd, cross_q, cross_kv, cross_att, cross_lse, after_cross;
    Tensor ff_normed, ff_rstd, gate, linear, gated, out;
  };
  bool decoder = false;
  bool merged = false;     // decoder with share_cross_attention: one attention over [input; target]
  bool truncated = false;  // encoder with layerwise cross-attention: stops at its last attention norm
  int tokens = 0;          // T
  int kv_tokens = 0;       // keys per query: T, or Te + T when merged
  Tensor ids;              // i32 [B·T]
  Tensor embedded;         // x₀ [B·T, C]
  Tensor buckets;          // i32 [T·Tk], fixed per shape
  Tensor bias, dbias;      // f32 [H, T, Tk], shared by the stack's layers
  std::vector<Layer> layers;
  Tensor final_normed, final_rstd;
  Tensor proj;  // a sublayer's output before the residual add
  // Backward scratch: written by the first op that produces it (Din::kWrite), or zeroed
  // first where ops add into it.
  Tensor dresidual, dnormed, datt, dqkv, dgate, dlinear, dgated, dcross_q;
  // Merged attention: the two halves of the keys and values, and their gradients.
  Tensor input_kv, target_kv, djoint_kv, dinput_kv, dtarget_kv;

  // The input of layer l: the embedding, or the previous layer's output.
  Tensor layer_input(int l) const { return l == 0 ? embedded : layers[l - 1].out; }
  Tensor output() const { return layers.back().out; }
  // Whether layer l runs only its attention norm (the last layer of a truncated encoder).
  bool norm_only(int l) const { return truncated && l + 1 == static_cast<int>(layers.size()); }
};

struct T5::Activations {
  int batch = 0;
  bool recompute = false;  // layers share buffers; backward reruns each layer's forward
  Stack encoder, decoder;
  Tensor targets, logits, losses;
  Tensor dencoded;   // ∂loss/∂(encoder output) [B·Te, C], summed over decoder layers
  std::vector<Tensor> dsources;  // layerwise: ∂loss/∂(what decoder layer l reads) [B·Te, C]
  Tensor dcross_kv;  // [B·Te, 2·inner]
  BufferSet buffers;  // everything above

  Activations(kernels::Backend& backend, BufferSet::Measure)
      : buffers(backend, BufferSet::kMeasure) {}
  Activations(kernels::Backend& backend, Tensor block, size_t bytes)
      : buffers(backend, block, bytes) {}
};

namespace {

// joint [B, Te + Td, W] ← the rows of input [B, Te, W] then those of target [B, Td, W], per
// sequence; split() is its inverse.
void join_rows(kernels::Backend& backend, Tensor joint, Tensor input, Tensor target, int B,
               int Te, int Td, size_t W) {
  for (int b = 0; b < B; ++b) {
    const size_t row = size_t(b) * (Te + Td);
    backend.copy(joint.slice(row * W, Te * W), input.slice(size_t(b) * Te * W, Te * W));
    backend.copy(joint.slice((row + Te) * W, Td * W), target.slice(size_t(b) * Td * W, Td * W));
  }
}

void split_rows(kernels::Backend& backend, Tensor input, Tensor target, Tensor joint, int B,
                int Te, int Td, size_t W) {
  for (int b = 0; b < B; ++b) {
    const size_t row = size_t(b) * (Te + Td);
    backend.copy(input.slice(size_t(b) * Te * W, Te * W), joint.slice(row * W, Te * W));
    backend.copy(target.slice(size_t(b) * Td * W, Td * W), joint.slice((row + Te) * W, Td * W));
  }
}

}  // namespace

T5::T5(const T5Config& config, kernels::Backend& backend) : config_(config), backend_(backend) {
  validate(config_);
  Layout l = layout(config_);
  table_ = std::move(l.table);
  encoder_block_first_ = std::move(l.encoder_block_first);
  decoder_block_first_ = std::move(l.decoder_block_first);
  encoder_final_entry_ = l.encoder_final;
  decoder_final_entry_ = l.decoder_final;
  lm_head_entry_ = l.lm_head;
  flat_ = std::make_unique<FlatParameters>(backend_, table_count(table_));
  p_ = views(flat_->compute);
  g_ = views(flat_->grads);
}

T5::~T5() = default;

T5::Layout T5::layout(const T5Config& config) {
  Layout layout;
  TensorTable& table = layout.table;
  const int64_t C = config.d_model, I = config.inner_dim(), F = config.d_ff;
  const int64_t V = config.vocab_size;
  size_t offset = 0;
  auto add = [&](const std::string& name, std::vector<int64_t> shape) {
    TensorEntry entry{name, std::move(shape), offset};
    offset += entry.count();
    table.push_back(std::move(entry));
  };
  auto attention = [&](const std::string& prefix) {
    for (const char* m : {"q", "k", "v"}) add(prefix + m + ".weight", {I, C});
    add(prefix + "o.weight", {C, I});
  };
  auto feed_forward = [&](const std::string& prefix) {
    add(prefix + "DenseReluDense.wi_0.weight", {F, C});
    add(prefix + "DenseReluDense.wi_1.weight", {F, C});
    add(prefix + "DenseReluDense.wo.weight", {C, F});
    add(prefix + "layer_norm.weight", {C});
  };
  const bool cross = !config.share_cross_attention;
  add("shared.weight", {V, C});
  for (const bool decoder : {false, true}) {
    if (!decoder && config.share_encoder_decoder) continue;  // the decoder's entries serve both
    const std::string stack = decoder ? "decoder." : "encoder.";
    const int layers = decoder ? config.n_decoder_layer : config.n_encoder_layer;
    const bool truncated = !decoder && config.layerwise_cross_attention;
    std::vector<size_t>& firsts = decoder ? layout.decoder_block_first : layout.encoder_block_first;
    for (int l = 0; l < layers; ++l) {
      firsts.push_back(table.size());
      const std::string block = stack + "block." + std::to_string(l) + ".";
      const bool norm_only = truncated && l == layers - 1;
      if (!norm_only) attention(block + "layer.0.SelfAttention.");
      if (l == 0 && !norm_only) {
        add(block + "layer.0.SelfAttention.relative_attention_bias.weight",
            {config.num_buckets, config.n_head});
      }
      add(block + "layer.0.layer_norm.weight", {C});
      if (norm_only) continue;
      if (decoder && cross) {
        attention(block + "layer.1.EncDecAttention.");
        add(block + "layer.1.layer_norm.weight", {C});
      }
      feed_forward(block + (decoder && cross ? "layer.2." : "layer.1."));
    }
    firsts.push_back(table.size());  // end of the last block
    if (truncated) {
      layout.encoder_final = kNoEntry;  // nothing reads the encoder's last output
    } else {
      (decoder ? layout.decoder_final : layout.encoder_final) = table.size();
      add(stack + "final_layer_norm.weight", {C});
    }
  }
  if (config.share_encoder_decoder) {
    layout.encoder_block_first = layout.decoder_block_first;
    layout.encoder_final = config.layerwise_cross_attention ? kNoEntry : layout.decoder_final;
  }
  layout.lm_head = table.size();
  add("lm_head.weight", {V, C});
  return layout;
}

T5::Weights T5::views(Tensor buffer) const {
  size_t next = 0;
  auto take = [&](size_t entries = 1) {  // `entries` adjacent tensors as one view
    const size_t begin = table_[next].offset;
    const TensorEntry& last = table_[next + entries - 1];
    next += entries;
    return buffer.slice(begin, last.offset + last.count() - begin);
  };
  auto attention = [&](bool cross) {
    Attention a;
    if (cross) {
      a.qkv = take();
      a.kv = take(2);
    } else {
      a.qkv = take(3);
    }
    a.o = take();
    return a;
  };
  auto feed_forward = [&]() {
    FeedForward f;
    f.wi_0 = take(), f.wi_1 = take(), f.wo = take();
    return f;
  };
  Weights w;
  w.shared = take();
  for (const bool decoder : {false, true}) {
    if (!decoder && config_.share_encoder_decoder) continue;
    const int layers = decoder ? config_.n_decoder_layer : config_.n_encoder_layer;
    const bool truncated = !decoder && config_.layerwise_cross_attention;
    for (int l = 0; l < layers; ++l) {
      Block b;
      const bool norm_only = truncated && l == layers - 1;
      if (!norm_only) {
        b.self = attention(false);
        if (l == 0) b.position_table = take();
      }
      b.self_norm = take();
      if (!norm_only) {
        if (decoder && !config_.share_cross_attention) {
          b.cross = attention(true);
          b.cross_norm = take();
        }
        b.ff = feed_forward();
        b.ff_norm = take();
      }
      (decoder ? w.decoder : w.encoder).push_back(b);
    }
    if (!truncated) (decoder ? w.decoder_final : w.encoder_final) = take();
  }
  if (config_.share_encoder_decoder) {
    w.encoder = w.decoder;
    if (!config_.layerwise_cross_attention) w.encoder_final = w.decoder_final;
  }
  w.lm_head = take();
  return w;
}

void T5::initialize(uint64_t seed) {
  const float C = float(config_.d_model), D = float(config_.d_kv), F = float(config_.d_ff);
  const float I = float(config_.inner_dim());
  std::vector<float> host(table_count(table_), 0.0f);
  GaussianStream normal(seed);
  auto ends_with = [](const std::string& s, const std::string& suffix) {
    return s.size() >= suffix.size() &&
           s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  for (const TensorEntry& e : table_) {
    float* values = host.data() + e.offset;
    float stddev = 0;
    if (ends_with(e.name, "layer_norm.weight")) {
      std::fill(values, values + e.count(), 1.0f);
      continue;
    } else if (e.name == "shared.weight") {
      stddev = 1.0f;
    } else if (ends_with(e.name, ".q.weight")) {
      stddev = 1.0f / std::sqrt(C * D);
    } else if (ends_with(e.name, ".o.weight")) {
      stddev = 1.0f / std::sqrt(I);
    } else if (ends_with(e.name, ".wo.weight")) {
      stddev = 1.0f / std::sqrt(F);
    } else {  // k, v, wi_0, wi_1, relative_attention_bias, lm_head
      stddev = 1.0f / std::sqrt(C);
    }
    normal.fill(values, e.count(), stddev);
  }
  backend_.upload(flat_->params, host.data());
  if (flat_->compute.data != flat_->params.data) backend_.copy(flat_->compute, flat_->params);
}

void T5::plan(int B, int Te, int Td) {
  if (acts_ && acts_->batch == B && acts_->encoder.tokens == Te && acts_->decoder.tokens == Td &&
      acts_->recompute == recompute_)
    return;
  // The old shape's buffers go before the new ones are allocated, and its block carries
  // over, replaced first if a dry run says this shape needs more (buffer_set.h).
  const Tensor block = acts_ ? acts_->buffers.take_block() : Tensor{};
  acts_.reset();
  Activations dry_run(backend_, BufferSet::kMeasure);
  allocate_activations(dry_run, B, Te, Td);
  acts_ = std::make_unique<Activations>(backend_, block, dry_run.buffers.bytes());
  allocate_activations(*acts_, B, Te, Td);
}

void T5::allocate_activations(Activations& a, int B, int Te, int Td) {
  a.batch = B;
  a.recompute = recompute_;
  const size_t C = config_.d_model, I = config_.inner_dim(), F = config_.d_ff;
  const size_t H = config_.n_head, V = config_.vocab_size;
  const DType act = backend_.compute_dtype();
  auto alloc = [&](DType dtype, size_t n) { return a.buffers.allocate(dtype, n); };
  auto plan_stack = [&](Stack& s, bool decoder, int T) {
    const size_t N = size_t(B) * T, Ne = size_t(B) * Te;
    s.decoder = decoder;
    s.merged = decoder && config_.share_cross_attention;
    s.truncated = !decoder && config_.layerwise_cross_attention;
    s.tokens = T;
    s.kv_tokens = s.merged ? Te + T : T;
    const size_t Tk = s.kv_tokens;
    s.ids = alloc(DType::kI32, N);
    s.embedded = alloc(act, N * C);
    s.buckets = alloc(DType::kI32, size_t(T) * Tk);
    // Merged, target position t sits after the Te input positions: its keys are at Te + t's
    // past, input keys included, and all of them are causal buckets.
    const bool bidirectional = !decoder && !config_.causal_input;
    std::vector<int32_t> buckets = relative_position_buckets(
        T, int(Tk), s.merged ? Te : 0, bidirectional, config_.num_buckets, config_.max_distance);
    if (s.buckets.data != nullptr) backend_.upload(s.buckets, buckets.data());  // not dry
    s.bias = alloc(DType::kF32, H * T * Tk);
    s.dbias = alloc(DType::kF32, H * T * Tk);
    const int layers = decoder ? config_.n_decoder_layer : config_.n_encoder_layer;
    const bool cross = decoder && !s.merged;
    for (int l = 0; l < layers; ++l) {
      // Under recomputation the layers share layer 0's buffers, except their outputs (the
      // next layer's inputs) and, in an encoder the decoder reads layer by layer, the
      // normalised inputs it reads.
      if (recompute_ && l > 0) {
        Stack::Layer L = s.layers.front();
        if (s.truncated) L.self_normed = alloc(act, N * C);
        L.out = alloc(act, N * C);
        s.layers.push_back(L);
        continue;
      }
      Stack::Layer L;
      L.self_normed = alloc(act, N * C);
      L.self_rstd = alloc(DType::kF32, N);
      L.qkv = alloc(act, N * (s.merged ? I : 3 * I));  // merged: q only
      L.self_att = alloc(act, N * I);
      L.self_lse = alloc(DType::kF32, H * N);
      L.after_self = alloc(act, N * C);
      if (s.merged) L.joint_kv = alloc(act, (Ne + N) * 2 * I);
      if (cross) {
        L.cross_normed = alloc(act, N * C);
        L.cross_rstd = alloc(DType::kF32, N);
        L.cross_q = alloc(act, N * I);
        L.cross_kv = alloc(act, Ne * 2 * I);
        L.cross_att = alloc(act, N * I);
        L.cross_lse = alloc(DType::kF32, H * N);
        L.after_cross = alloc(act, N * C);
      }
      L.ff_normed = alloc(act, N * C);
      L.ff_rstd = alloc(DType::kF32, N);
      L.gate = alloc(act, N * F);
      L.linear = alloc(act, N * F);
      L.gated = alloc(act, N * F);
      L.out = alloc(act, N * C);
      s.layers.push_back(L);
    }
    s.final_normed = alloc(act, N * C);
    s.final_rstd = alloc(DType::kF32, N);
    s.proj = alloc(act, N * C);
    s.dresidual = alloc(act, N * C);
    s.dnormed = alloc(act, N * C);
    s.datt = alloc(act, N * I);
    s.dqkv = alloc(act, N * 3 * I);
    s.dgate = alloc(act, N * F);
    s.dlinear = alloc(act, N * F);
    s.dgated = alloc(act, N * F);
    if (cross) s.dcross_q = alloc(act, N * I);
    if (s.merged) {
      s.input_kv = alloc(act, Ne * 2 * I);
      s.target_kv = alloc(act, N * 2 * I);
      s.djoint_kv = alloc(act, (Ne + N) * 2 * I);
      s.dinput_kv = alloc(act, Ne * 2 * I);
      s.dtarget_kv = alloc(act, N * 2 * I);
    }
  };
  plan_stack(a.encoder, false, Te);
  plan_stack(a.decoder, true, Td);
  const size_t Nd = size_t(B) * Td, Ne = size_t(B) * Te;
  a.targets = alloc(DType::kI32, Nd);
  a.logits = alloc(act, Nd * V);
  a.losses = alloc(DType::kF32, Nd);
  a.dencoded = alloc(act, Ne * C);
  if (config_.layerwise_cross_attention) {
    for (int l = 0; l < config_.n_decoder_layer; ++l) a.dsources.push_back(alloc(act, Ne * C));
  }
  a.dcross_kv = alloc(act, Ne * 2 * I);
}

namespace {

void check_ids(const std::vector<int32_t>& ids, int vocab_size, bool allow_ignore,
               const char* what) {
  for (int32_t id : ids) {
    if ((id < 0 || id >= vocab_size) && !(allow_ignore && id == kIgnoreIndex)) {
      throw UserError(std::string(what) + " token id " + std::to_string(id) +
                      " is outside the model's vocabulary (" + std::to_string(vocab_size) + ")");
    }
  }
}

void check_shape(const TokenBatch& batch) {
  const size_t ne = size_t(batch.batch) * batch.input_tokens;
  const size_t nd = size_t(batch.batch) * batch.target_tokens;
  if (batch.batch <= 0 || batch.input_tokens <= 0 || batch.target_tokens <= 0 ||
      batch.inputs.size() != ne || batch.decoder_inputs.size() != nd ||
      batch.targets.size() != nd || !batch.prefix_lengths.empty()) {
    throw std::logic_error(
        "T5: an encoder-decoder batch needs inputs [B, Te], decoder_inputs and targets "
        "[B, Td], and no prefix_lengths");
  }
}

}  // namespace

void T5::check_batch_ids(const TokenBatch& batch) const {
  check_shape(batch);
  check_ids(batch.inputs, config_.vocab_size, false, "encoder input");
  check_ids(batch.decoder_inputs, config_.vocab_size, false, "decoder input");
  check_ids(batch.targets, config_.vocab_size, true, "target");
}

AttentionShape T5::attention_shape(int batch, int q_tokens, int kv_tokens, int q_stride,
                                   int kv_stride, AttentionMask mask) const {
  AttentionShape shape;
  shape.batch = batch;
  shape.q_tokens = q_tokens;
  shape.kv_tokens = kv_tokens;
  shape.heads = config_.n_head;
  shape.head_dim = config_.d_kv;
  shape.q_row_stride = q_stride;
  shape.kv_row_stride = kv_stride;
  shape.scale = 1.0f;  // T5 folds 1/√d into the initialisation of q
  shape.mask = mask;
  return shape;
}

Tensor T5::source(int l) const {
  return config_.layerwise_cross_attention ? acts_->encoder.layers[l].self_normed
                                           : acts_->encoder.final_normed;
}

Tensor T5::dsource(int l) const {
  return config_.layerwise_cross_attention ? acts_->dsources[l] : acts_->dencoded;
}

AttentionShape T5::self_attention_shape(const Stack& s) const {
  const int B = acts_->batch, I = config_.inner_dim();
  if (s.merged) return attention_shape(B, s.tokens, s.kv_tokens, I, 2 * I, AttentionMask::kCausal);
  const bool causal = s.decoder || config_.causal_input;
  return attention_shape(B, s.tokens, s.tokens, 3 * I, 3 * I,
                         causal ? AttentionMask::kCausal : AttentionMask::kBidirectional);
}

void T5::forward_stack(Stack& s) {
  const int B = acts_->batch, T = s.tokens, C = config_.d_model, H = config_.n_head;
  const int N = B * T;
  const std::vector<Block>& blocks = s.decoder ? p_.decoder : p_.encoder;
  backend_.embedding_forward(s.embedded, s.ids, p_.shared, Tensor{}, B, T, C);
  if (!s.norm_only(0)) {
    backend_.position_bias_forward(s.bias, blocks[0].position_table, s.buckets, H, T,
                                   s.kv_tokens);
  }
  for (int l = 0; l < static_cast<int>(s.layers.size()); ++l) forward_layer(s, l);
  if (s.truncated) return;  // the decoder read each layer's input instead of the output
  backend_.rmsnorm_forward(s.final_normed, s.final_rstd, s.output(),
                           s.decoder ? p_.decoder_final : p_.encoder_final, N, C,
                           config_.rmsnorm_eps);
}

void T5::forward_layer(Stack& s, int l) {
  const int B = acts_->batch, T = s.tokens, C = config_.d_model, I = config_.inner_dim();
  const int F = config_.d_ff, N = B * T;
  const float eps = config_.rmsnorm_eps;
  const Block& w = (s.decoder ? p_.decoder : p_.encoder)[l];
  const AttentionShape self_shape = self_attention_shape(s);
  const int Te = acts_->encoder.tokens;
  const AttentionShape cross_shape =
      attention_shape(B, T, Te, I, 2 * I, AttentionMask::kBidirectional);
  Stack::Layer& L = s.layers[l];
  Tensor x = s.layer_input(l);
  // Self-attention (bidirectional or causal in the encoder, causal in the decoder), with
  // the bias.
  backend_.rmsnorm_forward(L.self_normed, L.self_rstd, x, w.self_norm, N, C, eps);
  if (s.norm_only(l)) return;  // the decoder reads this layer's input
  if (s.merged) {
    // q from the target; keys and values of the input (from what this layer reads) and of
    // the target, both through this layer's k, v.
    const Tensor wq = w.self.qkv.slice(0, size_t(I) * C);
    const Tensor wkv = w.self.qkv.slice(size_t(I) * C, size_t(2) * I * C);
    backend_.matmul_forward(L.qkv, L.self_normed, wq, Tensor{}, N, C, I);
    backend_.matmul_forward(s.target_kv, L.self_normed, wkv, Tensor{}, N, C, 2 * I);
    backend_.matmul_forward(s.input_kv, source(l), wkv, Tensor{}, B * Te, C, 2 * I);
    join_rows(backend_, L.joint_kv, s.input_kv, s.target_kv, B, Te, T, 2 * size_t(I));
    backend_.attention_forward(L.self_att, L.self_lse, L.qkv, L.joint_kv,
                               L.joint_kv.slice(I, L.joint_kv.count - I), s.bias, Tensor{},
                               self_shape);
  } else {
    backend_.matmul_forward(L.qkv, L.self_normed, w.self.qkv, Tensor{}, N, C, 3 * I);
    backend_.attention_forward(L.self_att, L.self_lse, L.qkv, L.qkv.slice(I, L.qkv.count - I),
                               L.qkv.slice(2 * I, L.qkv.count - 2 * I), s.bias, Tensor{},
                               self_shape);
  }
  backend_.matmul_forward(s.proj, L.self_att, w.self.o, Tensor{}, N, I, C);
  backend_.add(L.after_self, x, s.proj);
  x = L.after_self;
  if (s.decoder && !s.merged) {  // cross-attention to the encoder, no bias
    backend_.rmsnorm_forward(L.cross_normed, L.cross_rstd, x, w.cross_norm, N, C, eps);
    backend_.matmul_forward(L.cross_q, L.cross_normed, w.cross.qkv, Tensor{}, N, C, I);
    backend_.matmul_forward(L.cross_kv, source(l), w.cross.kv, Tensor{}, B * Te, C, 2 * I);
    backend_.attention_forward(L.cross_att, L.cross_lse, L.cross_q, L.cross_kv,
                               L.cross_kv.slice(I, L.cross_kv.count - I), Tensor{}, Tensor{},
                               cross_shape);
    backend_.matmul_forward(s.proj, L.cross_att, w.cross.o, Tensor{}, N, I, C);
    backend_.add(L.after_cross, x, s.proj);
    x = L.after_cross;
  }
  // Gated-GELU feed-forward.
  backend_.rmsnorm_forward(L.ff_normed, L.ff_rstd, x, w.ff_norm, N, C, eps);
  backend_.matmul_forward(L.gate, L.ff_normed, w.ff.wi_0, Tensor{}, N, C, F);
  backend_.matmul_forward(L.linear, L.ff_normed, w.ff.wi_1, Tensor{}, N, C, F);
  backend_.gated_gelu_forward(L.gated, L.gate, L.linear);
  backend_.matmul_forward(s.proj, L.gated, w.ff.wo, Tensor{}, N, F, C);
  backend_.add(L.out, x, s.proj);
}

void T5::forward(const TokenBatch& batch) {
  check_batch_ids(batch);
  plan(batch.batch, batch.input_tokens, batch.target_tokens);
  Activations& a = *acts_;
  backend_.upload(a.encoder.ids, batch.inputs.data());
  backend_.upload(a.decoder.ids, batch.decoder_inputs.data());
  backend_.upload(a.targets, batch.targets.data());
  forward_stack(a.encoder);
  forward_stack(a.decoder);
  const int Nd = a.batch * a.decoder.tokens;
  backend_.matmul_forward(a.logits, a.decoder.final_normed, p_.lm_head, Tensor{}, Nd,
                          config_.d_model, config_.vocab_size);
}

Tensor T5::encode_only(const std::vector<int32_t>& input) {
  TokenBatch batch;  // a one-token decoder side, so the shape checks apply unchanged
  batch.batch = 1, batch.input_tokens = static_cast<int>(input.size()), batch.target_tokens = 1;
  batch.inputs = input;
  batch.decoder_inputs = {config_.decoder_start_id};
  batch.targets = {kIgnoreIndex};
  check_batch_ids(batch);
  plan(1, batch.input_tokens, 1);
  backend_.upload(acts_->encoder.ids, input.data());
  forward_stack(acts_->encoder);
  return acts_->encoder.final_normed;
}

double T5::forward_backward(const TokenBatch& batch, float grad_scale,
                            const GradsReadyHook& on_grads_ready) {
  forward(batch);
  Activations& a = *acts_;
  const int Nd = a.batch * a.decoder.tokens;
  backend_.cross_entropy(a.logits, a.losses, a.targets, Nd, config_.vocab_size, kIgnoreIndex,
                         grad_scale);
  std::vector<float> losses(Nd);
  backend_.download(losses.data(), a.losses);
  double total = std::accumulate(losses.begin(), losses.end(), 0.0);
  if (grad_scale != 0.0f) backward(on_grads_ready);
  return total;
}

std::vector<float> T5::logits(const TokenBatch& batch) {
  forward(batch);
  return download_as_f32(backend_, acts_->logits);
}

// Backward of one stack, from s.dresidual = ∂loss/∂(stack output before its final norm)
// down to the embedding, reporting each block's gradients as they become final (unless
// `report` is false: the encoder will still add to them). The decoder also accumulates
// ∂loss/∂(what each layer read of the encoder) into dsource(l); the encoder adds those in.
void T5::backward_stack(Stack& s, const GradsReadyHook& hook, bool report) {
  Activations& a = *acts_;
  const int B = a.batch, T = s.tokens, C = config_.d_model, I = config_.inner_dim();
  const int F = config_.d_ff, N = B * T, H = config_.n_head, Te = a.encoder.tokens;
  const std::vector<Block>& blocks = s.decoder ? p_.decoder : p_.encoder;
  const std::vector<Block>& dblocks = s.decoder ? g_.decoder : g_.encoder;
  const std::vector<size_t>& firsts = s.decoder ? decoder_block_first_ : encoder_block_first_;
  const AttentionShape self_shape = self_attention_shape(s);
  const AttentionShape cross_shape =
      attention_shape(B, T, Te, I, 2 * I, AttentionMask::kBidirectional);
  const bool layerwise_encoder = !s.decoder && config_.layerwise_cross_attention;

  backend_.fill(s.dbias, 0.0f);
  for (int l = static_cast<int>(s.layers.size()) - 1; l >= 0; --l) {
    const Block& w = blocks[l];
    const Block& dw = dblocks[l];
    Stack::Layer& L = s.layers[l];
    const Tensor x_in = s.layer_input(l);
    // The shared buffers still hold the stack's last layer from the forward pass.
    if (a.recompute && l + 1 < static_cast<int>(s.layers.size())) forward_layer(s, l);
    if (s.norm_only(l)) {  // only the decoder's attention to this layer's input flows back
      backend_.rmsnorm_backward(s.dresidual, dw.self_norm, a.dsources[l], x_in, w.self_norm,
                                L.self_rstd, N, C);
      if (report) report_grads_ready(hook, table_, firsts[l], firsts[l + 1]);
      continue;
    }
    const bool cross = s.decoder && !s.merged;
    const Tensor ff_in = cross ? L.after_cross : L.after_self;
    // Feed-forward: out = ff_in + wo(gelu(wi_0·h) ⊙ wi_1·h), h = rms(ff_in)
    backend_.matmul_backward(s.dgated, dw.ff.wo, Tensor{}, s.dresidual, L.gated, w.ff.wo, N, F, C,
                             Din::kWrite);
    backend_.fill(s.dgate, 0.0f);
    backend_.fill(s.dlinear, 0.0f);
    backend_.gated_gelu_backward(s.dgate, s.dlinear, s.dgated, L.gate, L.linear);
    backend_.matmul_backward(s.dnormed, dw.ff.wi_0, Tensor{}, s.dgate, L.ff_normed, w.ff.wi_0, N, C,
                             F, Din::kWrite);
    backend_.matmul_backward(s.dnormed, dw.ff.wi_1, Tensor{}, s.dlinear, L.ff_normed, w.ff.wi_1, N,
                             C, F, Din::kAdd);
    backend_.rmsnorm_backward(s.dresidual, dw.ff_norm, s.dnormed, ff_in, w.ff_norm, L.ff_rstd, N,
                              C);
    if (cross) {
      // Cross-attention: after_cross = after_self + o(attn(q(rms(after_self)), k,v(source)))
      backend_.matmul_backward(s.datt, dw.cross.o, Tensor{}, s.dresidual, L.cross_att, w.cross.o, N,
                               I, C, Din::kWrite);
      backend_.fill(s.dcross_q, 0.0f);
      backend_.fill(a.dcross_kv, 0.0f);
      backend_.attention_backward(
          s.dcross_q, a.dcross_kv, a.dcross_kv.slice(I, a.dcross_kv.count - I), Tensor{}, s.datt,
          L.cross_att, L.cross_lse, L.cross_q, L.cross_kv,
          L.cross_kv.slice(I, L.cross_kv.count - I), Tensor{}, Tensor{}, cross_shape);
      backend_.matmul_backward(dsource(l), dw.cross.kv, Tensor{}, a.dcross_kv, source(l),
                               w.cross.kv, B * Te, C, 2 * I, Din::kAdd);
      backend_.matmul_backward(s.dnormed, dw.cross.qkv, Tensor{}, s.dcross_q, L.cross_normed,
                               w.cross.qkv, N, C, I, Din::kWrite);
      backend_.rmsnorm_backward(s.dresidual, dw.cross_norm, s.dnormed, L.after_self, w.cross_norm,
                                L.cross_rstd, N, C);
    }
    // Self-attention: after_self = x_in + o(attn(q,k,v(rms(x_in)); bias))
    backend_.matmul_backward(s.datt, dw.self.o, Tensor{}, s.dresidual, L.self_att, w.self.o, N, I,
                             C, Din::kWrite);
    backend_.fill(s.dqkv, 0.0f);
    if (s.merged) {
      const size_t q_weights = size_t(I) * C;
      const Tensor wq = w.self.qkv.slice(0, q_weights), dwq = dw.self.qkv.slice(0, q_weights);
      const Tensor wkv = w.self.qkv.slice(q_weights, 2 * q_weights);
      const Tensor dwkv = dw.self.qkv.slice(q_weights, 2 * q_weights);
      const Tensor dq = s.dqkv.slice(0, size_t(N) * I);
      backend_.fill(s.djoint_kv, 0.0f);
      backend_.attention_backward(dq, s.djoint_kv, s.djoint_kv.slice(I, s.djoint_kv.count - I),
                                  s.dbias, s.datt, L.self_att, L.self_lse, L.qkv, L.joint_kv,
                                  L.joint_kv.slice(I, L.joint_kv.count - I), s.bias, Tensor{},
                                  self_shape);
      split_rows(backend_, s.dinput_kv, s.dtarget_kv, s.djoint_kv, B, Te, T, 2 * size_t(I));
      backend_.matmul_backward(dsource(l), dwkv, Tensor{}, s.dinput_kv, source(l), wkv, B * Te, C,
                               2 * I, Din::kAdd);
      backend_.matmul_backward(s.dnormed, dwq, Tensor{}, dq, L.self_normed, wq, N, C, I,
                               Din::kWrite);
      backend_.matmul_backward(s.dnormed, dwkv, Tensor{}, s.dtarget_kv, L.self_normed, wkv, N, C,
                               2 * I, Din::kAdd);
    } else {
      backend_.attention_backward(
          s.dqkv, s.dqkv.slice(I, s.dqkv.count - I), s.dqkv.slice(2 * I, s.dqkv.count - 2 * I),
          s.dbias, s.datt, L.self_att, L.self_lse, L.qkv, L.qkv.slice(I, L.qkv.count - I),
          L.qkv.slice(2 * I, L.qkv.count - 2 * I), s.bias, Tensor{}, self_shape);
      backend_.matmul_backward(s.dnormed, dw.self.qkv, Tensor{}, s.dqkv, L.self_normed, w.self.qkv,
                               N, C, 3 * I, Din::kWrite);
    }
    // Layerwise: the decoder's layer l read this normalised input too.
    if (layerwise_encoder) backend_.accumulate(s.dnormed, a.dsources[l]);
    backend_.rmsnorm_backward(s.dresidual, dw.self_norm, s.dnormed, x_in, w.self_norm, L.self_rstd,
                              N, C);
    // The bias gradient is complete once block 0, the last one here, has added to it.
    if (l == 0) {
      backend_.position_bias_backward(dw.position_table, s.dbias, s.buckets, H, T, s.kv_tokens);
    }
    if (report) report_grads_ready(hook, table_, firsts[l], firsts[l + 1]);
  }
  backend_.embedding_backward(g_.shared, Tensor{}, s.dresidual, s.ids, B, T, C);
}

void T5::backward(const GradsReadyHook& hook) {
  Activations& a = *acts_;
  const int B = a.batch, C = config_.d_model, V = config_.vocab_size;
  const int Nd = B * a.decoder.tokens, Ne = B * a.encoder.tokens;
  const bool shared_stacks = config_.share_encoder_decoder;
  // logits were overwritten with dlogits by cross_entropy.
  Stack& d = a.decoder;
  backend_.matmul_backward(d.dnormed, g_.lm_head, Tensor{}, a.logits, d.final_normed, p_.lm_head,
                           Nd, C, V, Din::kWrite);
  backend_.fill(d.dresidual, 0.0f);
  backend_.rmsnorm_backward(d.dresidual, g_.decoder_final, d.dnormed, d.output(), p_.decoder_final,
                            d.final_rstd, Nd, C);
  // One final norm serves both stacks when they share and the encoder's output is read.
  const bool final_norm_shared = encoder_final_entry_ == decoder_final_entry_;
  report_grads_ready(hook, table_, final_norm_shared ? lm_head_entry_ : decoder_final_entry_,
                     lm_head_entry_ + 1);
  backend_.fill(a.dencoded, 0.0f);
  for (Tensor t : a.dsources) backend_.fill(t, 0.0f);
  backward_stack(d, hook, !shared_stacks);

  Stack& e = a.encoder;
  backend_.fill(e.dresidual, 0.0f);
  if (!e.truncated) {
    backend_.rmsnorm_backward(e.dresidual, g_.encoder_final, a.dencoded, e.output(),
                              p_.encoder_final, e.final_rstd, Ne, C);
    report_grads_ready(hook, table_, encoder_final_entry_, encoder_final_entry_ + 1);
  }
  backward_stack(e, hook, true);
  report_grads_ready(hook, table_, 0, 1);  // shared.weight: both stacks' embeddings have added to it
}

ParameterCounts T5::parameter_counts() const { return count_parameters(table_); }

ParameterCounts T5::count_parameters(const TensorTable& table) {
  ParameterCounts counts;
  counts.total = static_cast<int64_t>(table_count(table));
  int64_t excluded = 0;
  for (const TensorEntry& e : table) {
    if (e.name == "shared.weight" || e.name == "lm_head.weight" ||
        e.name.find("relative_attention_bias") != std::string::npos) {
      excluded += static_cast<int64_t>(e.count());
    }
  }
  counts.non_embedding = counts.total - excluded;
  return counts;
}

double T5::training_flops_per_example(int input_tokens, int target_tokens) const {
  const double Te = input_tokens, Td = target_tokens, C = config_.d_model;
  const double I = config_.inner_dim(), F = config_.d_ff;
  ForwardWork work;
  auto feed_forward = [&](double T) {
    work.linear(T, C, F);  // wi_0
    work.linear(T, C, F);  // wi_1
    work.linear(T, F, C);  // wo
  };
  // Layerwise, the encoder's last layer runs only its norm (no matmuls).
  const int encoder_layers = config_.n_encoder_layer - (config_.layerwise_cross_attention ? 1 : 0);
  for (int l = 0; l < encoder_layers; ++l) {
    work.linear(Te, C, 3 * I);  // q, k, v
    work.attention(Te, Te, I);
    work.linear(Te, I, C);  // o
    feed_forward(Te);
  }
  for (int l = 0; l < config_.n_decoder_layer; ++l) {
    work.linear(Td, C, 3 * I);  // self q, k, v
    if (config_.share_cross_attention) {
      work.linear(Te, C, 2 * I);       // k, v of the input
      work.attention(Td, Te + Td, I);  // one attention over [input; target]
      work.linear(Td, I, C);           // o
    } else {
      work.attention(Td, Td, I);
      work.linear(Td, I, C);      // self o
      work.linear(Td, C, I);      // cross q
      work.linear(Te, C, 2 * I);  // cross k, v over the encoder tokens
      work.attention(Td, Te, I);
      work.linear(Td, I, C);  // cross o
    }
    feed_forward(Td);
  }
  work.linear(Td, C, config_.vocab_size);  // lm_head
  return training_flops(work);
}

}  // namespace molt::model
