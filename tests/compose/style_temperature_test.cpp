// Calibrated pitch temperatures as model metadata: parsed per style row (names without regard to
// case), a blend's weighted mean over the rows that have one, and damaged text refused naming the
// file, never quoting more than a short piece of it.
#include <gtest/gtest.h>

#include "base/error.hpp"
#include "compose/style_temperature.hpp"

namespace etude {
namespace {

const std::vector<std::string> kStyles = {"Chopin", "Mozart", "Pop"};

TEST(StyleTemperature, ParsesOnePerRow) {
  const std::vector<float> t = parse_pitch_temperatures(R"({"chopin": 0.9, "Pop": 0.75})", kStyles, "m.safetensors");
  ASSERT_EQ(t.size(), 3u);
  EXPECT_FLOAT_EQ(t[0], 0.9f);
  EXPECT_EQ(t[1], 0.0f);  // Mozart: none calibrated
  EXPECT_FLOAT_EQ(t[2], 0.75f);
}

TEST(StyleTemperature, BlendsTheRowsThatHaveOne) {
  const std::vector<float> t = {0.9f, 0.0f, 0.7f};
  EXPECT_FLOAT_EQ(*style_pitch_temperature(t, {1, 0, 0}), 0.9f);
  EXPECT_FLOAT_EQ(*style_pitch_temperature(t, {0.5f, 0, 0.5f}), 0.8f);
  EXPECT_FLOAT_EQ(*style_pitch_temperature(t, {0.5f, 0.5f, 0}), 0.9f);  // Mozart has none: Chopin's alone
  EXPECT_FALSE(style_pitch_temperature(t, {0, 1, 0}).has_value());
  EXPECT_FALSE(style_pitch_temperature({}, {1, 0, 0}).has_value());
}

TEST(StyleTemperature, RefusesDamage) {
  const std::vector<std::string> damaged = {R"({"Chopin": 9})", R"({"Chopin": "hot"})", R"({"Grieg": 0.9})", R"([0.9])",
                                           std::string(R"({"Chopin": 0.9)") + std::string(5000, 'x')};
  for (const std::string& bad : damaged) {
    try {
      parse_pitch_temperatures(bad, kStyles, "m.safetensors");
      ADD_FAILURE() << "accepted " << bad.substr(0, 40);
    } catch (const FormatError& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find("m.safetensors"), std::string::npos) << what;
      EXPECT_LT(what.size(), 300u) << what;
      EXPECT_EQ(what.find('\n'), std::string::npos) << what;
    }
  }
}

}  // namespace
}  // namespace etude
