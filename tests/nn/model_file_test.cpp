// Model files and specs: presets and JSON round trips, fp16/bf16 conversions, save/load in each
// storage dtype, and refusal of corrupt, truncated or mismatched files with a message naming
// what is wrong.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>

#include "base/error.hpp"
#include "model_bytes_util.hpp"
#include "nn/model_io.hpp"
#include "nn/safetensors_checksum.hpp"
#include "nn_test_util.hpp"

namespace etude::nn {
namespace {
using namespace testing;
namespace fs = std::filesystem;

TEST(ModelSpec, PresetsRoundTripThroughJson) {
  for (const std::string& name : preset_names()) {
    const ModelSpec s = preset_spec(name, 388);
    const ModelSpec back = parse_model_spec(model_spec_to_json(s));
    EXPECT_EQ(model_spec_to_json(back), model_spec_to_json(s)) << name;
  }
  const ModelSpec voc = preset_spec("seed-voc", 358);
  EXPECT_EQ(voc.input, InputKind::scalar);
  EXPECT_EQ(voc.mode, Mode::seq2one);
  EXPECT_EQ(voc.layers.size(), 10u);
  EXPECT_FALSE(voc.layers[3].return_sequences);
  EXPECT_EQ(preset_spec("default", 388).layers[0].units, 512);
  EXPECT_EQ(preset_spec("small", 388).layers[0].units, 256);
  EXPECT_EQ(preset_spec("seed-skuli", 100).optimizer.kind, OptimizerKind::rmsprop);
  EXPECT_THROW(preset_spec("huge", 388), InvalidArgument);
}

TEST(ModelSpec, RefusesTyposAndImpossibleStacks) {
  auto j = model_spec_to_json(preset_spec("small", 50));
  auto typo = j;
  typo["layers"][0]["unit"] = 3;
  try {
    parse_model_spec(typo);
    FAIL() << "accepted an unknown key";
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("layers[0].unit"), std::string::npos) << e.what();
  }
  auto no_head = j;
  no_head["layers"].erase(no_head["layers"].size() - 1);
  EXPECT_THROW(parse_model_spec(no_head), InvalidArgument);
  auto seq = j;
  seq["layers"][1]["return_sequences"] = false;  // seq2seq needs sequences to the end
  EXPECT_THROW(parse_model_spec(seq), InvalidArgument);
  auto rate = j;
  rate["layers"][2]["rate"] = 1.0;
  EXPECT_THROW(parse_model_spec(rate), InvalidArgument);
}

TEST(Safetensors, HalfAndBfloatConversionsRoundToNearestEven) {
  EXPECT_EQ(float_to_half(1.0f), 0x3c00);
  EXPECT_EQ(float_to_half(-2.0f), 0xc000);
  EXPECT_EQ(float_to_half(65504.0f), 0x7bff);
  EXPECT_EQ(float_to_half(1e6f), 0x7c00);                 // overflow to infinity
  EXPECT_EQ(float_to_half(std::ldexp(1.0f, -24)), 0x0001);  // smallest subnormal
  EXPECT_EQ(float_to_half(1.0f + std::ldexp(1.0f, -11)), 0x3c00);  // tie to even (down)
  EXPECT_EQ(float_to_half(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3c02);  // tie to even (up)
  EXPECT_TRUE(std::isnan(half_to_float(float_to_half(NAN))));
  for (uint32_t h = 0; h < 0x7c00; ++h) ASSERT_EQ(float_to_half(half_to_float(uint16_t(h))), h);
  EXPECT_EQ(float_to_bf16(1.0f), 0x3f80);
  EXPECT_EQ(float_to_bf16(std::bit_cast<float>(0x3f808000u)), 0x3f80);  // tie to even
  EXPECT_EQ(float_to_bf16(std::bit_cast<float>(0x3f818000u)), 0x3f82);
  EXPECT_EQ(bf16_to_float(0x4049), std::bit_cast<float>(0x40490000u));
}

class ModelFile : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("etude_model_file_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST_F(ModelFile, SavesAndLoadsInEachDtypeWithMetadata) {
  ModelSpec spec = small_spec(InputKind::embedding, Mode::seq2one,
                              {lstm(6), batchnorm(), lstm(4, false), dense(kVocabUnits)}, 9);
  Model m(spec);
  m.init_random(8);
  for (size_t i = 0; i < m.buffers().size(); ++i) m.buffers()[i] = 0.25f + 0.01f * float(i);
  for (DType d : {DType::f32, DType::f16, DType::bf16}) {
    const fs::path path = dir_ / (std::string(dtype_name(d)) + ".safetensors");
    save_model(path, m, d, {{kMetaTokenizer, R"({"kind":"notes"})"}, {"note", "hello"}});
    const LoadedModel back = load_model(path);
    EXPECT_EQ(back.metadata.at(kMetaTokenizer), R"({"kind":"notes"})");
    EXPECT_EQ(back.metadata.at("note"), "hello");
    EXPECT_EQ(model_spec_to_json(back.model.spec()), model_spec_to_json(spec));
    const double tol = d == DType::f32 ? 0.0 : d == DType::f16 ? 1e-3 : 8e-3;  // half-ulp of each format
    for (size_t i = 0; i < m.params().size(); ++i)
      ASSERT_LE(std::abs(back.model.params()[i] - m.params()[i]), tol * std::abs(m.params()[i]) + 1e-7) << i;
    for (size_t i = 0; i < m.buffers().size(); ++i)
      ASSERT_LE(std::abs(back.model.buffers()[i] - m.buffers()[i]), tol * m.buffers()[i]) << i;
    const size_t f32_bytes = 4 * (m.params().size() + m.buffers().size());
    EXPECT_LT(fs::file_size(path), f32_bytes / (d == DType::f32 ? 1 : 2) + 4096);
  }
}

// A model JSON claiming enormous layers, in a file with no tensors: refused by its sizes or by the
// missing tensors before anything is allocated (sizes near 2^31 once wrapped the parameter count).
TEST_F(ModelFile, RefusesHugeModelJsonBeforeAllocating) {
  for (const char* units : {"2147483647", "65536"}) {
    const std::string model_json = std::string(R"({"input":{"type":"embedding","dim":8},"vocab":6,"layers":[)") +
                                   R"({"type":"lstm","units":)" + units + R"(},{"type":"lstm","units":)" + units +
                                   R"(},{"type":"dense","units":"vocab"}],"mode":"seq2seq"})";
    const std::vector<uint8_t> bytes = encode_safetensors({}, {{kMetaModel, model_json}}, DType::f32);
    const std::string e = load_error(bytes);
    EXPECT_TRUE(e.find("units must be in") != std::string::npos || e.find("is missing") != std::string::npos) << e;
  }
}

TEST_F(ModelFile, RefusesCorruptTruncatedAndMismatchedFiles) {
  Model m(small_spec(InputKind::embedding, Mode::seq2seq, {lstm(4), dense(kVocabUnits)}, 6));
  m.init_random(1);
  const std::vector<uint8_t> good = encode_model(m, DType::f32, {});
  EXPECT_EQ(load_error(good), "");
  // The header edits below test the structural checks, as on a file written by another tool:
  // without its checksums (a checksummed file refuses any edit first; model_checksum_test.cpp).
  nlohmann::json parsed = header_of(good);
  parsed["__metadata__"].erase(kMetaChecksums);
  const std::string header = parsed.dump();
  auto edited = [&](const std::string& h) { return with_header(good, h); };
  auto expect_error = [&](const std::vector<uint8_t>& bytes, const std::string& fragment) {
    const std::string e = load_error(bytes);
    EXPECT_NE(e.find(fragment), std::string::npos) << "error \"" << e << "\" lacks \"" << fragment << "\"";
  };
  expect_error({good.begin(), good.begin() + 5}, "shorter than the 8-byte header");
  std::vector<uint8_t> huge = good;
  huge[7] = 0x40;  // header length ~2^62: refused before anything is allocated
  expect_error(huge, "runs past the end of the file");
  expect_error({good.begin(), good.end() - 3}, "fall outside");  // truncated data
  std::vector<uint8_t> extra = good;
  extra.push_back(0);
  expect_error(extra, "not described by the header");
  std::vector<uint8_t> garbage = good;
  garbage[8] = '[';
  expect_error(garbage, "does not parse");

  auto replace = [&](std::string h, const std::string& from, const std::string& to) {
    const size_t at = h.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    return h.replace(at, from.size(), to);
  };
  expect_error(edited(replace(header, "\"F32\"", "\"I64\"")), "dtype I64 is not supported");
  expect_error(edited(replace(header, "\"dense.1.bias\"", "\"dense.1.biass\"")), "dense.1.bias is missing");
  expect_error(edited(replace(header, "\"shape\":[6]", "\"shape\":[3,2]")), "has shape [3, 2]");
  expect_error(edited(replace(header, "\"shape\":[6]", "\"shape\":[5]")), "span");
  expect_error(edited(replace(header, "\\\"units\\\":4", "\\\"units\\\":5")), "needs [20, 3]");
  expect_error(edited(replace(header, "etude.model", "etude.modle")), "no \"etude.model\"");
}

}  // namespace
}  // namespace etude::nn
