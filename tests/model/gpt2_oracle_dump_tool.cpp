// Writes what the PyTorch oracle (gpt2_oracle.py) checks: a tiny GPT-2's initial weights,
// a batch, molt's loss and every gradient on it, then the losses and final weights after
// 10 AdamW steps (with clipping and weight decay, as the trainer runs them).
//
//   gpt2_oracle_dump_tool OUT.h5 [prefix]
// With "prefix", each sequence gets a prefix-LM split: bidirectional attention over the
// prefix and no loss on it.
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "jobs/optimizer.h"
#include "kernels/backend.h"
#include "model/gpt2.h"
#include "tests/model/oracle_h5.h"


int main(int argc, char** argv) {
  using namespace molt::oracle;
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s OUT.h5 [prefix]\n", argv[0]);
    return 2;
  }
  const bool prefix_lm = argc > 2 && std::strcmp(argv[2], "prefix") == 0;
  molt::model::GPT2Config config;
  config.vocab_size = 96, config.n_ctx = 24, config.d_model = 32, config.n_layer = 2;
  config.n_head = 4;
  const int B = 3, T = 16, kSteps = 10;
  const float lr = 1e-3f, clip = 1.0f;
  molt::AdamWSettings adamw;  // defaults: β 0.9/0.95, eps 1e-8, decay 0.1

  auto backend = molt::kernels::make_cpu_backend();
  molt::model::GPT2 model(config, *backend);
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
    batch.batch = B, batch.input_tokens = batch.target_tokens = T;
    std::vector<int32_t> window(B * (T + 1));
    for (auto& t : window) t = next_token();
    for (int b = 0; b < B; ++b) {
      for (int t = 0; t < T; ++t) {
        batch.inputs.push_back(window[b * (T + 1) + t]);
        batch.targets.push_back(window[b * (T + 1) + t + 1]);
      }
      if (prefix_lm) {
        int prefix = 3 + 4 * b;  // different split per sequence
        batch.prefix_lengths.push_back(prefix);
        for (int t = 0; t < prefix - 1; ++t) batch.targets[b * T + t] = molt::model::kIgnoreIndex;
      }
    }
    const std::string tag = "batch_" + std::to_string(step);
    write_ints(file, tag + "/inputs", batch.inputs, {hsize_t(B), hsize_t(T)});
    write_ints(file, tag + "/targets", batch.targets, {hsize_t(B), hsize_t(T)});
    if (prefix_lm) write_ints(file, tag + "/prefix_lengths", batch.prefix_lengths, {hsize_t(B)});

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
  std::vector<float> settings = {lr, clip, adamw.beta1, adamw.beta2, adamw.eps, adamw.weight_decay,
                                 float(config.n_head), float(config.layernorm_eps)};
  write(file, "settings", settings, {hsize_t(settings.size())});
  H5Fclose(file);
  return 0;
}
