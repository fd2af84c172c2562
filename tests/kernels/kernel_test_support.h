// Shared scaffolding for the kernel tests: a backend fixture that owns its buffers, seeded
// random inputs, tolerance comparisons and central finite differences.
//
// Gradient checks use the scalar loss L = Σ w ⊙ out with fixed random weights w, so
// dL/dout = w and a backward call with dout = w must return dL/d(input). The finite
// difference (L(x + ε·e_i) − L(x − ε·e_i)) / 2ε is taken through the backend's own fp32
// forward; its error is O(ε²) truncation plus O(u·|L|/ε) rounding (u ≈ 6e-8), so with
// ε = 1e-2 both are ~1e-3 and the FD comparisons use atol 5e-3 / rtol 2e-2.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "kernels/backend.h"

namespace molt::kernels::testing {

inline std::vector<float> random_normal(size_t n, uint32_t seed, float stddev = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, stddev);
  std::vector<float> out(n);
  for (float& x : out) x = normal(rng);
  return out;
}

inline std::vector<int32_t> random_ints(size_t n, int32_t below, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int32_t> pick(0, below - 1);
  std::vector<int32_t> out(n);
  for (int32_t& x : out) x = pick(rng);
  return out;
}

inline std::vector<double> to_double(const std::vector<float>& x) {
  return std::vector<double>(x.begin(), x.end());
}

inline std::vector<double> plus(const std::vector<float>& a, const std::vector<double>& b) {
  std::vector<double> out(a.size());
  for (size_t i = 0; i < a.size(); ++i) out[i] = a[i] + b[i];
  return out;
}

inline std::vector<double> times(const std::vector<double>& a, double factor) {
  std::vector<double> out(a);
  for (double& x : out) x *= factor;
  return out;
}

// Every |actual − expected| ≤ atol + rtol·|expected|; reports the worst offender.
inline ::testing::AssertionResult all_near(const std::vector<float>& actual,
                                           const std::vector<double>& expected, double atol,
                                           double rtol) {
  if (actual.size() != expected.size()) {
    return ::testing::AssertionFailure()
           << "sizes differ: " << actual.size() << " vs " << expected.size();
  }
  size_t failures = 0, worst = 0;
  double worst_excess = 0.0;
  for (size_t i = 0; i < actual.size(); ++i) {
    const double error = std::abs(actual[i] - expected[i]);
    const double allowed = atol + rtol * std::abs(expected[i]);
    if (!(error <= allowed)) {
      ++failures;
      if (!(error - allowed <= worst_excess)) {
        worst_excess = error - allowed;
        worst = i;
      }
    }
  }
  if (failures == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << failures << " of " << actual.size() << " elements off; worst at " << worst
         << ": actual " << actual[worst] << ", expected " << expected[worst] << " (atol "
         << atol << ", rtol " << rtol << ")";
}

inline double weighted_sum(const std::vector<float>& out, const std::vector<float>& w) {
  double sum = 0.0;
  for (size_t i = 0; i < out.size(); ++i) sum += static_cast<double>(out[i]) * w[i];
  return sum;
}

// Central differences of loss(x) at the given indices of x (x is restored afterwards).
inline std::vector<double> finite_differences(
    const std::function<double(const std::vector<float>&)>& loss, std::vector<float> x,
    const std::vector<size_t>& indices, float eps = 1e-2f) {
  std::vector<double> grad;
  for (size_t i : indices) {
    const float saved = x[i];
    x[i] = saved + eps;
    const double up = loss(x);
    x[i] = saved - eps;
    const double down = loss(x);
    x[i] = saved;
    grad.push_back((up - down) / (2.0 * static_cast<double>(eps)));
  }
  return grad;
}

// Up to `n` distinct spread-out indices into a buffer of `size` elements.
inline std::vector<size_t> sample_indices(size_t size, size_t n, uint32_t seed) {
  std::vector<size_t> all(size);
  for (size_t i = 0; i < size; ++i) all[i] = i;
  if (size <= n) return all;
  std::shuffle(all.begin(), all.end(), std::mt19937(seed));
  all.resize(n);
  return all;
}

inline std::vector<float> pick(const std::vector<float>& x, const std::vector<size_t>& at) {
  std::vector<float> out;
  for (size_t i : at) out.push_back(x[i]);
  return out;
}

constexpr double kFiniteDifferenceAtol = 5e-3;
constexpr double kFiniteDifferenceRtol = 2e-2;

// A CPU backend (or another given one) plus the buffers a test allocates, freed when the
// test ends.
class KernelTest : public ::testing::Test {
 protected:
  KernelTest() : KernelTest(make_cpu_backend()) {}
  explicit KernelTest(std::unique_ptr<Backend> backend) : backend_(std::move(backend)) {}
  ~KernelTest() override {
    for (Tensor t : owned_) backend_->free(t);
  }

  Backend& backend() { return *backend_; }

  Tensor zeros(size_t n, DType dtype = DType::kF32) {
    Tensor t = backend_->allocate(dtype, n);
    owned_.push_back(t);
    return t;
  }
  Tensor device(const std::vector<float>& host) {
    Tensor t = zeros(host.size());
    backend_->upload(t, host.data());
    return t;
  }
  Tensor device(const std::vector<int32_t>& host) {
    Tensor t = zeros(host.size(), DType::kI32);
    backend_->upload(t, host.data());
    return t;
  }
  std::vector<float> host(Tensor t) {
    std::vector<float> out(t.count);
    backend_->download(out.data(), t);
    return out;
  }
  std::vector<int32_t> host_i32(Tensor t) {
    std::vector<int32_t> out(t.count);
    backend_->download(out.data(), t);
    return out;
  }
  void set(Tensor t, const std::vector<float>& values) { backend_->upload(t, values.data()); }

 private:
  std::unique_ptr<Backend> backend_;
  std::vector<Tensor> owned_;
};

}  // namespace molt::kernels::testing
