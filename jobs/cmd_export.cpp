// `molt export RUN|CHECKPOINT OUT/`: a checkpoint in the Hugging Face layout of its family.
//
// Writes OUT/model.safetensors (fp32), OUT/config.json and the run's tokenizer.model, so
// `GPT2LMHeadModel.from_pretrained(OUT)` (decoder) or
// `T5ForConditionalGeneration.from_pretrained(OUT)` (encdec) loads the model and gives molt's
// loss. Both families take one path: the checkpoint's model is rebuilt from its job, and
// each tensor of its table is written under the names model/hf_layout.h gives it.
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "io/dataset_info.h"
#include "io/file_ops.h"
#include "io/safetensors_writer.h"
#include "jobs/checkpoint_source.h"
#include "jobs/commands.h"
#include "jobs/model_factory.h"
#include "kernels/error.h"
#include "model/hf_layout.h"

namespace molt {
namespace fs = std::filesystem;

namespace {

// The shortest decimal that reads back as the same float, so config.json says 1e-06, not
// 9.999999974752427e-07.
double shortest_decimal(float x) {
  char text[32];
  for (int digits = 6; digits < 9; ++digits) {
    std::snprintf(text, sizeof text, "%.*g", digits, double(x));
    if (std::strtof(text, nullptr) == x) return std::strtod(text, nullptr);
  }
  return double(x);
}

// molt prep's fixed special ids (io/dataset_info.h): pad 0, eos 1.
const io::DatasetInfo kSpecialIds;

nlohmann::json gpt2_config_json(const model::GPT2Config& c) {
  return {{"architectures", {"GPT2LMHeadModel"}},
          {"model_type", "gpt2"},
          {"vocab_size", c.vocab_size},
          {"n_positions", c.n_ctx},
          {"n_ctx", c.n_ctx},
          {"n_embd", c.d_model},
          {"n_layer", c.n_layer},
          {"n_head", c.n_head},
          {"n_inner", c.ff_dim()},
          {"activation_function", "gelu_new"},
          {"layer_norm_epsilon", shortest_decimal(c.layernorm_eps)},
          {"resid_pdrop", 0.0},
          {"embd_pdrop", 0.0},
          {"attn_pdrop", 0.0},
          {"initializer_range", 0.02},
          {"bos_token_id", kSpecialIds.eos_id},  // documents start after an EOS
          {"eos_token_id", kSpecialIds.eos_id},
          {"pad_token_id", kSpecialIds.pad_id},
          {"tie_word_embeddings", true},
          {"torch_dtype", "float32"}};
}

// tie_word_embeddings false: T5 v1.1's lm_head is its own matrix and its input is not
// rescaled by d_model^-½.
nlohmann::json t5_config_json(const model::T5Config& c) {
  return {{"architectures", {"T5ForConditionalGeneration"}},
          {"model_type", "t5"},
          {"vocab_size", c.vocab_size},
          {"d_model", c.d_model},
          {"d_kv", c.d_kv},
          {"d_ff", c.d_ff},
          {"num_layers", c.n_encoder_layer},
          {"num_decoder_layers", c.n_decoder_layer},
          {"num_heads", c.n_head},
          {"relative_attention_num_buckets", c.num_buckets},
          {"relative_attention_max_distance", c.max_distance},
          {"dropout_rate", 0.0},
          {"layer_norm_epsilon", shortest_decimal(c.rmsnorm_eps)},
          {"initializer_factor", 1.0},
          {"feed_forward_proj", "gated-gelu"},
          {"is_encoder_decoder", true},
          {"tie_word_embeddings", false},
          {"use_cache", true},
          {"pad_token_id", kSpecialIds.pad_id},
          {"eos_token_id", kSpecialIds.eos_id},
          {"decoder_start_token_id", c.decoder_start_id},
          {"torch_dtype", "float32"}};
}

// What differs between the families' exports.
struct HfFamily {
  std::string architecture;
  nlohmann::json config;
  model::HfTensorLayout (*layout)(const std::string& molt_name);
};

HfFamily hf_family(const JobConfig& job) {
  const int64_t vocab = job.model.vocab_size;
  if (job.model.family == "encdec") {
    const model::T5Config c = encdec_config(job, vocab);
    if (!c.standard()) {
      throw UserError("molt export: this encdec model is a structure variant (" +
                      model::structure_name(c) +
                      "), which T5ForConditionalGeneration cannot express; only T5 v1.1 (every "
                      "structure switch off) exports");
    }
    return {"T5ForConditionalGeneration", t5_config_json(c), model::t5_hf_layout};
  }
  return {"GPT2LMHeadModel", gpt2_config_json(decoder_config(job, vocab)), model::gpt2_hf_layout};
}

// One table entry, under its Hugging Face name(s).
void append_tensor(const TensorEntry& e, const float* src, const model::HfTensorLayout& layout,
                   std::vector<io::SafetensorsEntry>& tensors) {
  io::SafetensorsEntry t;
  t.name = layout.name;
  if (layout.transpose) {
    const int64_t rows = e.shape[0], cols = e.shape[1];  // [out, in] → [in, out]
    t.shape = {cols, rows};
    t.values.resize(e.count());
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols; ++c) t.values[c * rows + r] = src[r * cols + c];
  } else {
    t.shape = e.shape;
    t.values.assign(src, src + e.count());
  }
  for (const std::string& alias : layout.aliases) {
    tensors.push_back({alias, t.shape, t.values});
  }
  tensors.push_back(std::move(t));
}

void export_checkpoint(const std::string& path, const std::string& out_dir) {
  const CheckpointSource source = open_checkpoint_source(path);
  auto backend = make_backend(source.job);
  auto model = load_checkpoint_model(source, *backend);
  std::vector<float> params(model->params().count);
  backend->download(params.data(), model->params());
  const HfFamily family = hf_family(source.job);

  std::vector<io::SafetensorsEntry> tensors;
  for (const TensorEntry& e : model->table()) {
    append_tensor(e, params.data() + e.offset, family.layout(e.name), tensors);
  }
  fs::create_directories(out_dir);
  io::write_safetensors(out_dir + "/model.safetensors", tensors, {{"format", "pt"}});
  io::write_text_atomic(out_dir + "/config.json", family.config.dump(2) + "\n");
  const std::string tokenizer = source.run_dir + "/tokenizer.model";
  if (fs::exists(tokenizer)) {
    fs::copy_file(tokenizer, out_dir + "/tokenizer.model", fs::copy_options::overwrite_existing);
  }
  std::printf("exported %s -> %s (%s, %zu tensors)\n", source.folder.c_str(), out_dir.c_str(),
              family.architecture.c_str(), tensors.size());
}

}  // namespace

void add_export_command(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "export", "Write a checkpoint as Hugging Face safetensors + config.json + tokenizer");
  auto source = std::make_shared<std::string>();
  auto out = std::make_shared<std::string>();
  cmd->add_option("checkpoint", *source, "Checkpoint folder, or a run folder (latest)")->required();
  cmd->add_option("out", *out, "Output folder")->required();
  cmd->callback([source, out] { export_checkpoint(*source, *out); });
}

}  // namespace molt
