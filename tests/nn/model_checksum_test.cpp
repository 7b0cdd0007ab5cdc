// Model files that detect their own corruption: every save writes CRC-32 checksums of the tensors,
// the metadata values and the tensor table; a load refuses any changed byte naming the tensor or
// metadata entry, and loads a file without checksums with a one-line warning. Errors from damaged
// headers are one line under 300 bytes whatever the header holds.
#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include <nlohmann/json.hpp>

#include "base/error.hpp"
#include "model_bytes_util.hpp"
#include "nn/model_io.hpp"
#include "nn/safetensors_checksum.hpp"
#include "nn_test_util.hpp"

namespace etude::nn {
namespace {
using namespace testing;

Model tiny_model() {
  Model m(small_spec(InputKind::embedding, Mode::seq2seq, {lstm(4), lstm(4), dense(kVocabUnits)}, 6));
  m.init_random(5);
  return m;
}

const std::map<std::string, std::string> kMeta{{kMetaTokenizer, R"({"name":"events"})"}, {"note", "digits 12345"}};

// `from` replaced by `to` (same length) inside the header, the rest of the file untouched.
std::vector<uint8_t> edit_header(std::vector<uint8_t> b, const std::string& from, const std::string& to) {
  EXPECT_EQ(from.size(), to.size());
  const std::string h(b.begin() + 8, b.begin() + 8 + std::ptrdiff_t(header_length(b)));
  const size_t at = h.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) std::memcpy(b.data() + 8 + at, to.data(), to.size());
  return b;
}

void expect_one_line(const std::string& e) {
  EXPECT_FALSE(e.empty());
  EXPECT_LT(e.size(), 300u) << e;
  EXPECT_EQ(e.find('\n'), std::string::npos) << e;
  for (unsigned char c : e) EXPECT_GE(c, 0x20) << e;
}

TEST(ModelChecksums, SavedFilesCarryThemAndLoadWithoutWarnings) {
  const Model m = tiny_model();
  for (DType d : {DType::f32, DType::bf16}) {
    const std::vector<uint8_t> bytes = encode_model(m, d, kMeta);
    const nlohmann::json sums = nlohmann::json::parse(header_of(bytes)["__metadata__"][kMetaChecksums].get<std::string>());
    EXPECT_EQ(sums["algorithm"], "crc32");
    EXPECT_EQ(sums["tensors"].size(), m.layout().tensors.size());
    EXPECT_TRUE(sums["metadata"].contains("note") && sums["metadata"].contains(kMetaModel)) << sums.dump();
    const LoadedModel back = decode_model(bytes, "m.safetensors");
    EXPECT_TRUE(back.warnings.empty());
    EXPECT_FALSE(back.metadata.contains(kMetaChecksums));  // verified and removed
    EXPECT_EQ(back.metadata.at("note"), "digits 12345");
    // Saving what was loaded writes the same file: the checksums do not depend on anything else.
    EXPECT_EQ(encode_model(back.model, d, back.metadata), bytes);
  }
  // A caller's own etude.checksums entry is replaced by the real one.
  auto meta = kMeta;
  meta[kMetaChecksums] = "stale";
  EXPECT_EQ(load_error(encode_model(m, DType::f32, meta)), "");
}

TEST(ModelChecksums, EveryChangedTensorByteIsRefusedNamingTheTensor) {
  const Model m = tiny_model();
  const std::vector<uint8_t> good = encode_model(m, DType::bf16, kMeta);
  const size_t data = 8 + header_length(good);
  const nlohmann::json h = header_of(good);
  for (const TensorSlot& t : m.layout().tensors) {
    const auto off = h[t.name]["data_offsets"];
    for (size_t at : {off[0].get<size_t>(), off[1].get<size_t>() - 1}) {
      std::vector<uint8_t> bad = good;
      bad[data + at] ^= 0x01;  // one bit: a value that still looks like a weight
      const std::string e = load_error(bad);
      EXPECT_NE(e.find("m.safetensors: tensor " + t.name + ": its "), std::string::npos) << e;
      EXPECT_NE(e.find("do not match their checksum"), std::string::npos) << e;
      expect_one_line(e);
    }
  }
}

TEST(ModelChecksums, ChangedMetadataDigitsAndTableAreRefused) {
  const std::vector<uint8_t> good = encode_model(tiny_model(), DType::f32, kMeta);
  std::string e = load_error(edit_header(good, "12345", "12346"));
  EXPECT_NE(e.find("m.safetensors: metadata note does not match its checksum"), std::string::npos) << e;
  e = load_error(edit_header(good, R"(\"units\":4)", R"(\"units\":5)"));
  EXPECT_NE(e.find("metadata etude.model does not match its checksum"), std::string::npos) << e;
  e = load_error(edit_header(good, R"(\"name\":\"events\")", R"(\"name\":\"eventz\")"));
  EXPECT_NE(e.find("metadata etude.tokenizer does not match"), std::string::npos) << e;
  // Two tensors of one shape swapped by name: every byte is where the table says, but not what it was.
  e = load_error(edit_header(good, "\"lstm.0.bias_hh_l0\"", "\"lstm.0.bias_xx_l0\""));
  EXPECT_NE(e.find("tensor table"), std::string::npos) << e;  // renamed: the table's checksum catches it first
  std::vector<uint8_t> swapped = edit_header(good, "\"lstm.0.bias_hh_l0\"", "\"lstm.0.bias_xx_l0\"");
  swapped = edit_header(swapped, "\"lstm.0.bias_ih_l0\"", "\"lstm.0.bias_hh_l0\"");
  swapped = edit_header(swapped, "\"lstm.0.bias_xx_l0\"", "\"lstm.0.bias_ih_l0\"");
  e = load_error(swapped);
  EXPECT_NE(e.find("tensor table"), std::string::npos) << e;
  // A metadata entry renamed: the checksummed one is gone and the new one has none.
  e = load_error(edit_header(good, "\"note\"", "\"nose\""));
  EXPECT_NE(e.find("metadata nose has no checksum"), std::string::npos) << e;
  e = load_error(edit_header(good, "\"algorithm\\\":\\\"crc32\\\"", "\"algorithm\\\":\\\"crc33\\\""));
  EXPECT_NE(e.find("names algorithm crc33"), std::string::npos) << e;
  e = load_error(edit_header(good, "{\\\"algorithm", "[\\\"algorithm"));
  EXPECT_NE(e.find("etude.checksums: not valid JSON (at byte"), std::string::npos) << e;
  for (const std::string& msg : {e, load_error(swapped)}) expect_one_line(msg);
}

TEST(ModelChecksums, AFileWithoutThemLoadsWithOneWarning) {
  const std::vector<uint8_t> good = encode_model(tiny_model(), DType::f32, kMeta);
  nlohmann::json h = header_of(good);
  h["__metadata__"].erase(kMetaChecksums);
  const LoadedModel old = decode_model(with_header(good, h.dump()), "old.safetensors");
  ASSERT_EQ(old.warnings.size(), 1u);
  EXPECT_EQ(old.warnings[0].rfind("old.safetensors: no checksums", 0), 0u) << old.warnings[0];
  expect_one_line(old.warnings[0]);
  EXPECT_EQ(old.metadata.at("note"), "digits 12345");
}

// What used to quote a whole header (60 KB to 320 KB, raw bytes included) now quotes 24 bytes.
TEST(ModelChecksums, DamagedHeadersGiveOneShortLine) {
  const std::vector<uint8_t> good = encode_model(tiny_model(), DType::f32, kMeta);
  const std::string junk = std::string(100000, 'a') + "\xff\n\x01";
  // Header JSON broken inside a long string with raw control and non-UTF-8 bytes.
  std::string e = load_error(with_header(good, "{\"__metadata__\":{\"note\":\"" + junk + "\"}}"));
  EXPECT_NE(e.find("header JSON does not parse (at byte "), std::string::npos) << e;
  expect_one_line(e);
  // A long, broken etude.model in a file without checksums (so the model JSON parser sees it).
  nlohmann::json h = header_of(good);
  h["__metadata__"].erase(kMetaChecksums);
  h["__metadata__"][kMetaModel] = "{\"layers\": \"" + std::string(100000, 'q') + "\\x\"}";
  e = load_error(with_header(good, h.dump()));
  EXPECT_NE(e.find("etude.model metadata is not valid JSON (at byte "), std::string::npos) << e;
  expect_one_line(e);
  // A long tensor name quoted in a refusal.
  h = header_of(good);
  h[std::string(5000, 'n')] = {{"dtype", "I8"}, {"shape", {1}}, {"data_offsets", {0, 1}}};
  e = load_error(with_header(good, h.dump()));
  EXPECT_NE(e.find("dtype I8 is not supported"), std::string::npos) << e;
  expect_one_line(e);
}

}  // namespace
}  // namespace etude::nn
