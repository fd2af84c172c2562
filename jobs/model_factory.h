// From a job to a backend and a model: presets, explicit keys, and the dataset's vocab.
#pragma once

#include <memory>

#include "jobs/config.h"
#include "kernels/backend.h"
#include "model/gpt2_config.h"
#include "model/language_model.h"
#include "model/t5_config.h"

namespace molt {

// Where the user chose a backend, for its error messages: a job's keys or a command's flags
// (a name starting with "--" is shown as `--device cuda`, any other as `run.device = "cuda"`).
struct BackendKeys {
  const char* device = "run.device";
  const char* precision = "run.precision";
};

// The backend for `device` ("cpu" | "cuda") computing in `precision` ("fp32" | "bf16"). A
// CUDA backend takes device local_rank mod (visible devices): one GPU per rank when there
// are enough, else ranks share them round-robin (dist/ then sums gradients over MPI, since
// NCCL needs one GPU per rank). Throws UserError, naming `keys`, for "cuda" in a build
// without nvcc or on a machine without a GPU, and for bf16 on the CPU.
std::unique_ptr<kernels::Backend> make_backend(const std::string& device,
                                               const std::string& precision, int local_rank,
                                               const BackendKeys& keys);

// The backend named by run.device and run.precision.
std::unique_ptr<kernels::Backend> make_backend(const JobConfig& config, int local_rank = 0);

// The decoder shape: the preset (if any), then every non-zero model.* key on top.
// vocab_size 0 takes the dataset's; n_ctx 0 takes the preset's, else data.seq_len.
model::GPT2Config decoder_config(const JobConfig& config, int64_t dataset_vocab);

// The encoder-decoder shape, the same way: preset, then non-zero model.* keys (n_layer is
// the encoder depth, n_decoder_layer the decoder's, 0 = n_layer; d_kv 0 = d_model/n_head).
model::T5Config encdec_config(const JobConfig& config, int64_t dataset_vocab);

// Writes the resolved shape (preset and defaults applied, vocab from the dataset) back into
// config.model, so run.toml and checkpoints rebuild the same model without the dataset.
void resolve_model_shape(JobConfig& config, int64_t dataset_vocab);

// What `molt fit` groups runs by: the family, and for an encdec structure variant its
// switches, e.g. "encdec/shared-xattn+shared-stack" (model/t5_config.h structure_label).
std::string model_series(const JobConfig& config);

std::unique_ptr<model::LanguageModel> make_model(const JobConfig& config, int64_t dataset_vocab,
                                                 kernels::Backend& backend);

}  // namespace molt
