// Pitch temperature (generate/pitch_shape.hpp): the allowed pitch tokens' distribution is sharpened
// or flattened as p^(1/T), their total probability and every other token's stay as they were, and
// 1 leaves the row alone.
#include <gtest/gtest.h>

#include <cmath>
#include <numeric>

#include "generate/pitch_shape.hpp"

namespace etude {
namespace {

std::vector<double> softmax(std::span<const float> z, std::span<const uint8_t> allowed) {
  std::vector<double> p(z.size(), 0.0);
  double sum = 0;
  for (size_t i = 0; i < z.size(); ++i)
    if (allowed[i]) sum += p[i] = std::exp(double(z[i]));
  for (double& x : p) x /= sum;
  return p;
}

TEST(PitchShape, SharpensPitchesAndKeepsTheirMass) {
  const auto P = uint8_t(TokenKind::pitch), D = uint8_t(TokenKind::duration), S = uint8_t(TokenKind::special);
  const std::vector<uint8_t> kinds = {S, P, P, P, P, D, D};
  const std::vector<float> logits = {0.3f, 2.0f, 1.0f, 0.0f, 5.0f, 1.5f, -1.0f};
  const std::vector<uint8_t> allowed = {0, 1, 1, 1, 0, 1, 1};  // pitch 4 is not allowed here
  const std::vector<double> before = softmax(logits, allowed);
  for (float t : {0.5f, 0.8f, 1.7f}) {
    PitchShape shape(kinds, t);
    ASSERT_TRUE(shape.active());
    const std::span<const float> row = shape.apply(logits, allowed);
    const std::vector<double> after = softmax(row, allowed);
    EXPECT_NEAR(after[1] + after[2] + after[3], before[1] + before[2] + before[3], 1e-6) << t;
    EXPECT_NEAR(after[5], before[5], 1e-6) << t;
    EXPECT_NEAR(after[6], before[6], 1e-6) << t;
    // among the pitches: p^(1/T), renormalized
    const double z = std::pow(before[1], 1 / t) + std::pow(before[2], 1 / t) + std::pow(before[3], 1 / t);
    const double mass = before[1] + before[2] + before[3];
    for (int v : {1, 2, 3}) EXPECT_NEAR(after[size_t(v)], mass * std::pow(before[size_t(v)], 1 / t) / z, 1e-6) << t;
  }
  EXPECT_FALSE(PitchShape(kinds, 1.0f).active());
}

TEST(PitchShape, RowsWithoutAllowedPitchesAreUntouched) {
  const std::vector<uint8_t> kinds = {uint8_t(TokenKind::pitch), uint8_t(TokenKind::time)};
  const std::vector<float> logits = {4.0f, 1.0f};
  PitchShape shape(kinds, 0.5f);
  const std::span<const float> row = shape.apply(logits, std::vector<uint8_t>{0, 1});
  EXPECT_EQ(row[0], 4.0f);
  EXPECT_EQ(row[1], 1.0f);
}

TEST(PitchShape, RefusesATemperatureOutOfRange) {
  EXPECT_THROW(PitchShape({}, 0.0f), InvalidArgument);
  EXPECT_THROW(PitchShape({}, 5.0f), InvalidArgument);
  EXPECT_THROW(PitchShape({}, NAN), InvalidArgument);
}

}  // namespace
}  // namespace etude
