#include "model/gpt2_config.h"

#include <map>

#include "kernels/error.h"

namespace molt::model {
namespace {

struct Shape {
  int n_ctx, d_model, n_layer, n_head;
};

// The four published GPT-2 sizes, plus small shapes that train in seconds on a CPU.
const std::map<std::string, Shape>& presets() {
  static const std::map<std::string, Shape> table = {
      {"tiny", {64, 64, 2, 4}},          {"mini", {256, 128, 4, 4}},
      {"small", {256, 256, 4, 4}},       {"gpt2", {1024, 768, 12, 12}},
      {"gpt2-medium", {1024, 1024, 24, 16}}, {"gpt2-large", {1024, 1280, 36, 20}},
      {"gpt2-xl", {1024, 1600, 48, 25}},
  };
  return table;
}

}  // namespace

GPT2Config gpt2_preset(const std::string& name) {
  auto it = presets().find(name);
  if (it == presets().end()) {
    std::string known;
    for (const auto& n : gpt2_preset_names()) known += (known.empty() ? "" : ", ") + n;
    throw UserError("unknown decoder preset '" + name + "' (known: " + known + ")");
  }
  GPT2Config config;
  config.n_ctx = it->second.n_ctx;
  config.d_model = it->second.d_model;
  config.n_layer = it->second.n_layer;
  config.n_head = it->second.n_head;
  return config;
}

std::vector<std::string> gpt2_preset_names() {
  std::vector<std::string> names;
  for (const auto& [name, shape] : presets()) names.push_back(name);
  return names;
}

void validate(const GPT2Config& c) {
  auto fail = [](const std::string& what) { throw UserError("model: " + what); };
  if (c.vocab_size <= 0) fail("vocab_size must be positive");
  if (c.n_ctx <= 0 || c.d_model <= 0 || c.n_layer <= 0 || c.n_head <= 0)
    fail("n_ctx, d_model, n_layer and n_head must be positive");
  if (c.d_model % c.n_head != 0)
    fail("d_model (" + std::to_string(c.d_model) + ") must be a multiple of n_head (" +
         std::to_string(c.n_head) + ")");
  if (c.d_ff < 0) fail("d_ff must be positive, or 0 for 4·d_model");
}

}  // namespace molt::model
