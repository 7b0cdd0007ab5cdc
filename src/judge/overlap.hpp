// Comparing two sets of feature values: the overlapping area of their Gaussian kernel density
// estimates (Yang & Lerch 2018; 1 = the same distribution, 0 = disjoint), and the quantiles the
// judge reports (median, 10% and 90%).
#pragma once
#include <span>

namespace etude::judge {

// Scott's rule, as scipy.stats.gaussian_kde: sample standard deviation (n - 1) times n^(-1/5).
// 0 for fewer than two values or when they are all equal.
double scott_bandwidth(std::span<const double> values);

// The Gaussian kernel density estimate at x: mean of N(x; v_i, h^2). h > 0.
double kde(std::span<const double> values, double h, double x);

// Area under min(kde_a, kde_b), integrated numerically (Simpson's rule on a grid of at least
// 2048 intervals and at least 16 per smallest bandwidth, over both sets' range widened by 6
// bandwidths). Each set's bandwidth is Scott's; a set whose values are all equal borrows the
// other's; when both are constant the answer is 1 if they are the same value, else 0.
// Either set empty: 0 (nothing to compare).
double overlap_area(std::span<const double> a, std::span<const double> b);

// Linear-interpolated quantile (numpy's default), q in [0, 1]; NaN for an empty set.
double quantile(std::span<const double> values, double q);

}  // namespace etude::judge
