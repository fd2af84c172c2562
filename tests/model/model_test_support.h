// What the model tests of both families share: reading a buffer back, and the check of a
// model's gradients against finite differences of its loss.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "kernels/backend.h"
#include "model/language_model.h"

namespace molt::model::test_support {

inline std::vector<float> Download(kernels::Backend& backend, kernels::Tensor t) {
  std::vector<float> host(t.count);
  backend.download(host.data(), t);
  return host;
}

// Central differences of the mean loss (the summed token losses times `scale`) in fp32 with
// step 1e-2, at 3 weights of every tensor of the model's table, against the gradient one
// backward pass adds: |fd − g| <= 2e-3 + 5e-2·|g|. fp32 rounding of the loss limits the
// agreement to about 1e-2 relative on gradients of size ~1e-2, hence the bound. The model's
// parameters are left as they were.
inline void ExpectGradientsMatchFiniteDifferences(LanguageModel& model, kernels::Backend& backend,
                                                  const TokenBatch& batch, float scale) {
  backend.fill(model.grads(), 0);
  model.forward_backward(batch, scale, {});
  const std::vector<float> grads = Download(backend, model.grads());
  const std::vector<float> params = Download(backend, model.params());
  auto loss_at = [&](size_t i, float value) {
    std::vector<float> p = params;
    p[i] = value;
    backend.upload(model.params(), p.data());
    return model.forward_backward(batch, 0.0f, {}) * scale;
  };
  int checked = 0;
  for (const auto& e : model.table()) {
    for (size_t k = 0; k < 3; ++k) {
      const size_t i = e.offset + (k * 7919) % e.count();
      const float h = 1e-2f;
      const double fd = (loss_at(i, params[i] + h) - loss_at(i, params[i] - h)) / (2 * h);
      EXPECT_NEAR(fd, grads[i], 2e-3 + 5e-2 * std::abs(grads[i]))
          << e.name << "[" << i - e.offset << "]";
      ++checked;
    }
  }
  backend.upload(model.params(), params.data());
  EXPECT_EQ(checked, static_cast<int>(3 * model.table().size()));
}

}  // namespace molt::model::test_support
