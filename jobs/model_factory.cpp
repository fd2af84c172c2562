#include "jobs/model_factory.h"

#include "kernels/device_info.h"
#include "kernels/error.h"
#include "model/gpt2.h"
#include "model/t5.h"

namespace molt {

namespace {

// `run.device = "cuda"` for a job key, `--device cuda` for a flag.
std::string choice(const char* key, const std::string& value) {
  const std::string name = key;
  return name.rfind("--", 0) == 0 ? name + " " + value : name + " = \"" + value + "\"";
}

}  // namespace

std::unique_ptr<kernels::Backend> make_backend(const std::string& device,
                                               const std::string& precision, int local_rank,
                                               const BackendKeys& keys) {
  if (device == "cpu") {
    if (precision != "fp32") {
      throw UserError(choice(keys.precision, precision) + " needs " + choice(keys.device, "cuda") +
                      "; the CPU backend computes in fp32");
    }
    return kernels::make_cpu_backend();
  }
  if (device == "cuda") {
#ifdef MOLT_HAVE_CUDA
    const int devices = kernels::cuda_device_count();
    if (devices == 0) {
      throw UserError(choice(keys.device, "cuda") +
                      ", but no CUDA device is visible to this process (" +
                      kernels::build_description() + "); run on a GPU machine or set " +
                      choice(keys.device, "cpu"));
    }
    const kernels::DType compute =
        precision == "bf16" ? kernels::DType::kBF16 : kernels::DType::kF32;
    return kernels::make_cuda_backend(local_rank % devices, compute);
#else
    (void)local_rank;
    throw UserError(choice(keys.device, "cuda") +
                    ": this build of molt has no CUDA backend (nvcc was not found when it was "
                    "configured; `molt --version` lists the backends); rebuild on a machine "
                    "with the CUDA toolkit or set " +
                    choice(keys.device, "cpu"));
#endif
  }
  throw UserError(choice(keys.device, device) + " is not available in this build of molt (" +
                  kernels::build_description() + ")");
}

std::unique_ptr<kernels::Backend> make_backend(const JobConfig& config, int local_rank) {
  return make_backend(config.run.device, config.run.precision, local_rank, BackendKeys{});
}

namespace {

int resolved_vocab(const JobConfig& config, int64_t dataset_vocab) {
  const int vocab =
      static_cast<int>(config.model.vocab_size ? config.model.vocab_size : dataset_vocab);
  if (vocab < dataset_vocab) {
    throw UserError("model.vocab_size (" + std::to_string(vocab) +
                    ") is smaller than the dataset's vocabulary (" + std::to_string(dataset_vocab) +
                    ")");
  }
  return vocab;
}

}  // namespace

model::GPT2Config decoder_config(const JobConfig& config, int64_t dataset_vocab) {
  const ModelSection& m = config.model;
  for (auto [key, changed] :
       {std::pair{"share_cross_attention", m.share_cross_attention},
        {"share_encoder_decoder", m.share_encoder_decoder},
        {"cross_attention_source",
         !m.cross_attention_source.empty() && m.cross_attention_source != "final"},
        {"input_attention", !m.input_attention.empty() && m.input_attention != "bidirectional"}}) {
    if (changed) {
      throw UserError(std::string("model.") + key +
                      " applies to model.family = \"encdec\" only (the decoder family's "
                      "prefix-LM is data.objective = \"prefix_lm\")");
    }
  }
  model::GPT2Config c;
  if (!m.preset.empty()) {
    c = model::gpt2_preset(m.preset);
  } else {
    for (auto [key, value] :
         {std::pair{"d_model", m.d_model}, {"n_layer", m.n_layer}, {"n_head", m.n_head}}) {
      if (value == 0) {
        throw UserError(std::string("model.") + key + " is required when model.preset is not set");
      }
    }
    c.n_ctx = 0;
  }
  if (m.d_model) c.d_model = static_cast<int>(m.d_model);
  if (m.n_layer) c.n_layer = static_cast<int>(m.n_layer);
  if (m.n_head) c.n_head = static_cast<int>(m.n_head);
  if (m.d_ff) c.d_ff = static_cast<int>(m.d_ff);
  if (m.n_ctx) c.n_ctx = static_cast<int>(m.n_ctx);
  if (c.n_ctx == 0) c.n_ctx = static_cast<int>(config.data.seq_len);
  c.vocab_size = resolved_vocab(config, dataset_vocab);
  if (config.data.seq_len > c.n_ctx) {
    throw UserError("data.seq_len (" + std::to_string(config.data.seq_len) +
                    ") is longer than model.n_ctx (" + std::to_string(c.n_ctx) + ")");
  }
  model::validate(c);
  return c;
}

model::T5Config encdec_config(const JobConfig& config, int64_t dataset_vocab) {
  const ModelSection& m = config.model;
  model::T5Config c;
  if (!m.preset.empty()) {
    c = model::t5_preset(m.preset);
  } else {
    for (auto [key, value] : {std::pair{"d_model", m.d_model},
                              {"n_layer", m.n_layer},
                              {"n_head", m.n_head},
                              {"d_ff", m.d_ff}}) {
      if (value == 0) {
        throw UserError(std::string("model.") + key + " is required when model.preset is not set");
      }
    }
    c.d_kv = 0;
    c.n_decoder_layer = 0;
  }
  if (m.d_model) c.d_model = static_cast<int>(m.d_model);
  if (m.n_layer) c.n_encoder_layer = c.n_decoder_layer = static_cast<int>(m.n_layer);
  if (m.n_decoder_layer) c.n_decoder_layer = static_cast<int>(m.n_decoder_layer);
  if (m.n_head) c.n_head = static_cast<int>(m.n_head);
  if (m.d_ff) c.d_ff = static_cast<int>(m.d_ff);
  if (m.d_kv) c.d_kv = static_cast<int>(m.d_kv);
  if (c.d_kv == 0) {
    if (c.n_head <= 0 || c.d_model % c.n_head != 0) {
      throw UserError("model.d_kv is required when d_model is not a multiple of n_head");
    }
    c.d_kv = c.d_model / c.n_head;
  }
  if (m.n_ctx) {
    throw UserError(
        "model.n_ctx does not apply to model.family = \"encdec\" (relative "
        "positions have no context limit); leave it 0");
  }
  c.share_cross_attention = m.share_cross_attention;
  c.share_encoder_decoder = m.share_encoder_decoder;
  c.layerwise_cross_attention = m.cross_attention_source == "layerwise";
  c.causal_input = m.input_attention == "causal";
  c.vocab_size = resolved_vocab(config, dataset_vocab);
  model::validate(c);
  return c;
}

void resolve_model_shape(JobConfig& config, int64_t dataset_vocab) {
  if (config.model.family == "encdec") {
    model::T5Config c = encdec_config(config, dataset_vocab);
    config.model.vocab_size = c.vocab_size;
    config.model.d_model = c.d_model;
    config.model.n_layer = c.n_encoder_layer;
    config.model.n_decoder_layer = c.n_decoder_layer;
    config.model.n_head = c.n_head;
    config.model.d_kv = c.d_kv;
    config.model.d_ff = c.d_ff;
    return;
  }
  if (config.model.family != "decoder") return;
  model::GPT2Config c = decoder_config(config, dataset_vocab);
  config.model.vocab_size = c.vocab_size;
  config.model.n_ctx = c.n_ctx;
  config.model.d_model = c.d_model;
  config.model.n_layer = c.n_layer;
  config.model.n_head = c.n_head;
  config.model.d_ff = c.ff_dim();
}

std::string model_series(const JobConfig& config) {
  if (config.model.family != "encdec") return config.model.family;
  model::T5Config c;
  c.share_cross_attention = config.model.share_cross_attention;
  c.share_encoder_decoder = config.model.share_encoder_decoder;
  c.layerwise_cross_attention = config.model.cross_attention_source == "layerwise";
  c.causal_input = config.model.input_attention == "causal";
  const std::string label = model::structure_label(c);
  return label.empty() ? "encdec" : "encdec/" + label;
}

std::unique_ptr<model::LanguageModel> make_model(const JobConfig& config, int64_t dataset_vocab,
                                                 kernels::Backend& backend) {
  if (config.model.family == "decoder") {
    return std::make_unique<model::GPT2>(decoder_config(config, dataset_vocab), backend);
  }
  if (config.model.family == "encdec") {
    return std::make_unique<model::T5>(encdec_config(config, dataset_vocab), backend);
  }
  throw UserError("model.family = \"" + config.model.family +
                  "\" is not available in this build of molt (families: decoder, encdec)");
}

}  // namespace molt
