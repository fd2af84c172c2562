// Writes what the PyTorch oracle (t5_oracle.py) checks: a tiny T5 v1.1's initial weights,
// a batch, molt's loss and every gradient on it, then the losses and final weights after
// 10 AdamW steps (with clipping and weight decay, as the trainer runs them).
//
//   t5_oracle_dump_tool OUT.h5 [STRUCTURE]
// STRUCTURE (0-15) sets the structure-ladder switches as bits: 1 share_cross_attention,
// 2 share_encoder_decoder, 4 layerwise cross-attention, 8 causal input (written to
// /structure for the oracle). The shape is deliberately irregular: n_head·d_kv != d_model,
// unequal stack depths where the switches allow, and sequences long enough to reach the
// logarithmic position buckets of both stacks.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "jobs/optimizer.h"
#include "kernels/backend.h"
#include "model/t5.h"
#include "tests/model/oracle_h5.h"

int main(int argc, char** argv) {
  using namespace molt::oracle;
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s OUT.h5 [STRUCTURE 0-15]\n", argv[0]);
    return 2;
  }
  molt::model::T5Config config = molt::model::t5_preset("tiny");
  config.vocab_size = 96, config.d_model = 32, config.d_kv = 12, config.n_head = 3;
  config.d_ff = 40, config.n_encoder_layer = 2, config.n_decoder_layer = 3;
  const int structure = argc > 2 ? std::atoi(argv[2]) : 0;
  config.share_cross_attention = structure & 1;
  config.share_encoder_decoder = structure & 2;
  config.layerwise_cross_attention = structure & 4;
  config.causal_input = structure & 8;
  if (structure & 6) config.n_encoder_layer = 3;  // these need equal depths
  const int B = 2, Te = 40, Td = 20, kSteps = 10;
  const float lr = 1e-3f, clip = 1.0f;
  molt::AdamWSettings adamw;  // defaults: β 0.9/0.95, eps 1e-8, decay 0.1

  auto backend = molt::kernels::make_cpu_backend();
  molt::model::T5 model(config, *backend);
  model.initialize(42);
  hid_t file = H5Fcreate(argv[1], H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  write_table(file, "init", model.table(), download(*backend, model.params()));

  uint64_t state = 7;
  auto next_token = [&]() {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    return static_cast<int32_t>((state >> 33) % config.vocab_size);
  };
  molt::AdamW optimizer(*backend, model.table(), 0, model.params().count);
  std::vector<float> losses;
  for (int step = 0; step <= kSteps; ++step) {
    molt::model::TokenBatch batch;
    batch.batch = B, batch.input_tokens = Te, batch.target_tokens = Td;
    for (int i = 0; i < B * Te; ++i) batch.inputs.push_back(next_token());
    for (int b = 0; b < B; ++b) {
      for (int t = 0; t < Td; ++t) batch.targets.push_back(next_token());
      batch.decoder_inputs.push_back(config.decoder_start_id);  // [pad, targets[:-1]]
      for (int t = 0; t + 1 < Td; ++t) batch.decoder_inputs.push_back(batch.targets[b * Td + t]);
    }
    for (int t = Td - 3; t < Td; ++t) batch.targets[t] = molt::model::kIgnoreIndex;  // padding
    const std::string tag = "batch_" + std::to_string(step);
    write_ints(file, tag + "/inputs", batch.inputs, {hsize_t(B), hsize_t(Te)});
    write_ints(file, tag + "/decoder_inputs", batch.decoder_inputs, {hsize_t(B), hsize_t(Td)});
    write_ints(file, tag + "/targets", batch.targets, {hsize_t(B), hsize_t(Td)});

    backend->fill(model.grads(), 0.0f);
    const int64_t counted = batch.counted_targets();
    double loss_sum = model.forward_backward(batch, 1.0f / counted, {});
    losses.push_back(static_cast<float>(loss_sum / counted));
    if (step == 0) write_table(file, "grads", model.table(), download(*backend, model.grads()));
    if (step == kSteps) break;  // the last batch only measures the loss
    double norm = std::sqrt(backend->sum_of_squares(model.grads()));
    optimizer.step(model.params(), model.grads(), model.compute_params(), adamw, lr,
                   molt::clip_factor(norm, clip), step + 1);
  }
  write(file, "losses", losses, {hsize_t(losses.size())});
  write_table(file, "final", model.table(), download(*backend, model.params()));
  std::vector<float> settings = {lr,
                                 clip,
                                 adamw.beta1,
                                 adamw.beta2,
                                 adamw.eps,
                                 adamw.weight_decay,
                                 float(config.n_head),
                                 config.rmsnorm_eps,
                                 float(config.num_buckets),
                                 float(config.max_distance)};
  write(file, "settings", settings, {hsize_t(settings.size())});
  std::vector<float> switches = {float(structure & 1), float((structure >> 1) & 1),
                                 float((structure >> 2) & 1), float((structure >> 3) & 1)};
  write(file, "structure", switches, {hsize_t(switches.size())});
  H5Fclose(file);
  return 0;
}
