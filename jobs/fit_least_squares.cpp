// Closed-form least squares; see fit_least_squares.h.
#include "jobs/fit_least_squares.h"

#include <cmath>
#include <set>
#include <stdexcept>

namespace molt::fit {
namespace {

double mean(const std::vector<double>& v) {
  double sum = 0;
  for (double x : v) sum += x;
  return sum / v.size();
}

size_t distinct(const std::vector<double>& x) {
  return std::set<double>(x.begin(), x.end()).size();
}

double r_squared(const std::vector<double>& y, const std::vector<double>& predicted) {
  const double y_mean = mean(y);
  double residual = 0, total = 0;
  for (size_t i = 0; i < y.size(); ++i) {
    residual += (y[i] - predicted[i]) * (y[i] - predicted[i]);
    total += (y[i] - y_mean) * (y[i] - y_mean);
  }
  return total > 0 ? 1 - residual / total : 1.0;
}

}  // namespace

LineFit fit_line(const std::vector<double>& x, const std::vector<double>& y) {
  if (x.size() != y.size() || distinct(x) < 2) {
    throw std::invalid_argument("fit_line needs two distinct x values");
  }
  const double x_mean = mean(x), y_mean = mean(y);
  double sxy = 0, sxx = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    sxy += (x[i] - x_mean) * (y[i] - y_mean);
    sxx += (x[i] - x_mean) * (x[i] - x_mean);
  }
  LineFit fit;
  fit.slope = sxy / sxx;
  fit.intercept = y_mean - fit.slope * x_mean;
  std::vector<double> predicted;
  for (double xi : x) predicted.push_back(fit.intercept + fit.slope * xi);
  fit.r_squared = r_squared(y, predicted);
  return fit;
}

ParabolaFit fit_parabola(const std::vector<double>& x, const std::vector<double>& y) {
  if (x.size() != y.size() || distinct(x) < 3) {
    throw std::invalid_argument("fit_parabola needs three distinct x values");
  }
  // Solve in u = x − x̄:  y = p0 + p1·u + p2·u², normal equations M·p = r.
  const double x_mean = mean(x);
  double s[5] = {0, 0, 0, 0, 0}, r[3] = {0, 0, 0};
  for (size_t i = 0; i < x.size(); ++i) {
    const double u = x[i] - x_mean;
    double power = 1;
    for (int k = 0; k < 5; ++k) {
      s[k] += power;
      if (k < 3) r[k] += power * y[i];
      power *= u;
    }
  }
  double m[3][4] = {{s[0], s[1], s[2], r[0]}, {s[1], s[2], s[3], r[1]}, {s[2], s[3], s[4], r[2]}};
  for (int col = 0; col < 3; ++col) {  // Gaussian elimination with partial pivoting
    int pivot = col;
    for (int row = col + 1; row < 3; ++row) {
      if (std::fabs(m[row][col]) > std::fabs(m[pivot][col])) pivot = row;
    }
    for (int k = 0; k < 4; ++k) std::swap(m[col][k], m[pivot][k]);
    for (int row = 0; row < 3; ++row) {
      if (row == col) continue;
      const double factor = m[row][col] / m[col][col];
      for (int k = col; k < 4; ++k) m[row][k] -= factor * m[col][k];
    }
  }
  const double p0 = m[0][3] / m[0][0], p1 = m[1][3] / m[1][1], p2 = m[2][3] / m[2][2];
  // Back to x: p0 + p1(x − x̄) + p2(x − x̄)².
  ParabolaFit fit;
  fit.c2 = p2;
  fit.c1 = p1 - 2 * p2 * x_mean;
  fit.c0 = p0 - p1 * x_mean + p2 * x_mean * x_mean;
  std::vector<double> predicted;
  for (double xi : x)
    predicted.push_back(p0 + p1 * (xi - x_mean) + p2 * (xi - x_mean) * (xi - x_mean));
  fit.r_squared = r_squared(y, predicted);
  return fit;
}

}  // namespace molt::fit
