// Kernel density overlap and quantiles (see overlap.hpp).
#include "judge/overlap.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>
#include <vector>

namespace etude::judge {

double scott_bandwidth(std::span<const double> values) {
  const size_t n = values.size();
  if (n < 2) return 0;
  double mean = 0;
  for (double v : values) mean += v;
  mean /= double(n);
  double ss = 0;
  for (double v : values) ss += (v - mean) * (v - mean);
  const double sd = std::sqrt(ss / double(n - 1));
  return sd * std::pow(double(n), -0.2);
}

double kde(std::span<const double> values, double h, double x) {
  double sum = 0;
  for (double v : values) {
    const double z = (x - v) / h;
    sum += std::exp(-0.5 * z * z);
  }
  return sum / (double(values.size()) * h * std::sqrt(2 * std::numbers::pi));
}

double overlap_area(std::span<const double> a, std::span<const double> b) {
  if (a.empty() || b.empty()) return 0;
  double ha = scott_bandwidth(a), hb = scott_bandwidth(b);
  if (ha <= 0 && hb <= 0) {
    const double scale = std::max({1.0, std::abs(a[0]), std::abs(b[0])});
    return std::abs(a[0] - b[0]) <= 1e-9 * scale ? 1.0 : 0.0;
  }
  if (ha <= 0) ha = hb;
  if (hb <= 0) hb = ha;
  const auto [amin, amax] = std::minmax_element(a.begin(), a.end());
  const auto [bmin, bmax] = std::minmax_element(b.begin(), b.end());
  const double lo = std::min(*amin - 6 * ha, *bmin - 6 * hb), hi = std::max(*amax + 6 * ha, *bmax + 6 * hb);
  const double h = std::min(ha, hb);
  size_t intervals = std::max<size_t>(2048, size_t(std::ceil((hi - lo) / h * 16)));
  intervals = std::min<size_t>(intervals, 1 << 20);
  intervals += intervals % 2;  // Simpson's rule wants an even count
  const double step = (hi - lo) / double(intervals);
  double sum = 0;
  for (size_t i = 0; i <= intervals; ++i) {
    const double x = lo + step * double(i);
    const double f = std::min(kde(a, ha, x), kde(b, hb, x));
    sum += f * (i == 0 || i == intervals ? 1.0 : i % 2 ? 4.0 : 2.0);
  }
  return std::clamp(sum * step / 3, 0.0, 1.0);
}

double quantile(std::span<const double> values, double q) {
  if (values.empty()) return std::numeric_limits<double>::quiet_NaN();
  std::vector<double> v(values.begin(), values.end());
  std::sort(v.begin(), v.end());
  const double pos = std::clamp(q, 0.0, 1.0) * double(v.size() - 1);
  const size_t i = size_t(pos);
  if (i + 1 >= v.size()) return v.back();
  return v[i] + (pos - double(i)) * (v[i + 1] - v[i]);
}

}  // namespace etude::judge
