// Ordinary least squares for the two small shapes the scaling fits need:
//   a line      y = intercept + slope·x                  (power laws in log-log space)
//   a parabola  y = c0 + c1·x + c2·x²                     (IsoFLOP profiles in log N)
// Both are closed-form normal equations with two or three unknowns; they are written here
// rather than pulled from a library because the whole solve is a few sums, and x is
// centred on its mean first so that ln N ≈ 20 does not spoil the conditioning.
#pragma once

#include <vector>

namespace molt::fit {

struct LineFit {
  double intercept = 0;
  double slope = 0;
  double r_squared = 0;
};

// Needs at least two distinct x; throws std::invalid_argument otherwise.
LineFit fit_line(const std::vector<double>& x, const std::vector<double>& y);

struct ParabolaFit {
  double c0 = 0, c1 = 0, c2 = 0;  // y = c0 + c1·x + c2·x²
  double r_squared = 0;
  double at(double x) const { return c0 + c1 * x + c2 * x * x; }
  bool has_minimum() const { return c2 > 0; }
  double argmin() const { return -c1 / (2 * c2); }
};

// Needs at least three distinct x; throws std::invalid_argument otherwise.
ParabolaFit fit_parabola(const std::vector<double>& x, const std::vector<double>& y);

}  // namespace molt::fit
