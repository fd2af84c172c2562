// `molt export RUN|CHECKPOINT OUT/`: a checkpoint in the Hugging Face layout.
//
// Writes OUT/model.safetensors (fp32), OUT/config.json for GPT2LMHeadModel, and the run's
// tokenizer.model, so `from_pretrained(OUT)` loads the model and gives molt's loss.
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "io/checkpoint.h"
#include "io/file_ops.h"
#include "io/safetensors_writer.h"
#include "jobs/commands.h"
#include "jobs/model_factory.h"
#include "jobs/run_state.h"
#include "kernels/error.h"
#include "model/gpt2.h"
#include "model/hf_layout.h"

namespace molt {
namespace fs = std::filesystem;

namespace {

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw UserError("cannot read " + path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::string resolve_checkpoint(const std::string& path) {
  if (fs::exists(path + "/state.toml")) return path;
  auto latest = io::latest_checkpoint(path);
  if (!latest) throw UserError(path + " is neither a checkpoint folder nor a run with checkpoints");
  return *latest;
}

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
          {"layer_norm_epsilon", c.layernorm_eps},
          {"resid_pdrop", 0.0},
          {"embd_pdrop", 0.0},
          {"attn_pdrop", 0.0},
          {"initializer_range", 0.02},
          {"bos_token_id", 1},
          {"eos_token_id", 1},
          {"pad_token_id", 0},
          {"tie_word_embeddings", true},
          {"torch_dtype", "float32"}};
}

void export_checkpoint(const std::string& source, const std::string& out_dir) {
  const std::string folder = resolve_checkpoint(source);
  JobConfig job;
  parse_run_state(read_text(folder + "/state.toml"), folder + "/state.toml", &job);
  if (job.model.family != "decoder") {
    throw UserError("molt export supports model.family = \"decoder\" in this build");
  }
  job.run.device = "cpu";
  job.run.precision = "fp32";
  model::GPT2Config config = decoder_config(job, job.model.vocab_size);
  auto backend = make_backend(job);
  model::GPT2 model(config, *backend);
  io::LoadedCheckpoint checkpoint = io::read_checkpoint(folder, model.table());

  std::vector<io::SafetensorsEntry> tensors;
  for (const TensorEntry& e : model.table()) {
    model::HfTensorLayout layout = model::gpt2_hf_layout(e.name);
    io::SafetensorsEntry t;
    t.name = layout.name;
    const float* src = checkpoint.params.data() + e.offset;
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
    tensors.push_back(std::move(t));
  }
  fs::create_directories(out_dir);
  io::write_safetensors(out_dir + "/model.safetensors", tensors, {{"format", "pt"}});
  io::write_text_atomic(out_dir + "/config.json", gpt2_config_json(config).dump(2) + "\n");
  const std::string tokenizer = fs::path(folder).parent_path().parent_path().string() + "/tokenizer.model";
  if (fs::exists(tokenizer)) {
    fs::copy_file(tokenizer, out_dir + "/tokenizer.model", fs::copy_options::overwrite_existing);
  }
  std::printf("exported %s -> %s (GPT2LMHeadModel, %zu tensors)\n", folder.c_str(),
              out_dir.c_str(), tensors.size());
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
