// Issue 17's experiment as a test: a model file written as `etude export` writes one (bf16 weights,
// style rows; tokenizer, card, styles and n-gram index in the metadata), mutated 400 times with a
// fixed seed (header bytes, header digits, truncations, the header length field, tensor bytes).
// Each copy is opened as `etude compose` opens it and, when it opens, composes 8 tokens: no crash,
// every refusal an etude::Error of one line under 300 bytes as app/ prints it, and every copy with
// changed tensor bytes refused. Also: damaged metadata JSON in a file without checksums.
#include <gtest/gtest.h>

#include <unistd.h>

#include <array>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>

#include <nlohmann/json.hpp>

#include "base/error.hpp"
#include "base/file_io.hpp"
#include "compose/composer.hpp"
#include "compose/style_model.hpp"
#include "nn/model_io.hpp"

namespace etude {
namespace {
namespace fs = std::filesystem;

std::vector<uint8_t> model_file() {
  const auto tok = make_tokenizer("events");
  nn::ModelSpec spec = nn::preset_spec("small", tok->vocab_size());
  spec.styles = 3;
  nn::Model m(spec);
  m.init_random(3);
  NgramIndex index;
  std::mt19937 rng(5);
  for (int piece = 0; piece < 3; ++piece) {
    std::vector<uint8_t> line(400);
    for (auto& p : line) p = uint8_t(48 + rng() % 30);
    index.add_piece("piece-" + std::to_string(piece) + ".mid", line);
  }
  index.finish();
  const std::map<std::string, std::string> meta{
      {nn::kMetaTokenizer, tok->to_json().dump()},
      {nn::kMetaTraining, R"({"epoch":12,"val_loss":2.4375,"seconds":931.5})"},
      {nn::kMetaStyles, R"(["Bach","Chopin","Mozart"])"},
      {kMetaCard, R"({"source":"piano-midi.de","license":"CC BY-SA 3.0 DE","epoch":12,"parameters":1234567})"},
      {kMetaNgrams, index.to_metadata()}};
  return nn::encode_model(m, nn::DType::bf16, meta);
}

enum Kind { header_byte, header_digit, truncation, header_length, tensor_bytes, kinds };
constexpr std::array<const char*, kinds> kKindNames{"header byte", "header digit", "truncation", "header length",
                                                    "tensor bytes"};

std::vector<uint8_t> mutate(std::vector<uint8_t> b, Kind kind, std::mt19937_64& rng) {
  uint64_t n = 0;
  std::memcpy(&n, b.data(), 8);
  auto pick = [&](uint64_t lo, uint64_t hi) { return lo + rng() % (hi - lo); };  // [lo, hi)
  auto other = [&](uint8_t old) { return uint8_t(old ^ (1 + rng() % 255)); };
  switch (kind) {
    case header_byte: {
      const size_t at = pick(8, 8 + n);
      b[at] = other(b[at]);
      break;
    }
    case header_digit: {
      std::vector<size_t> digits;
      for (size_t i = 8; i < 8 + n; ++i)
        if (b[i] >= '0' && b[i] <= '9') digits.push_back(i);
      const size_t at = digits[pick(0, digits.size())];
      b[at] = uint8_t('0' + (b[at] - '0' + pick(1, 10)) % 10);
      break;
    }
    case truncation:
      b.resize(pick(0, b.size()));
      break;
    case header_length:
      if (rng() % 2) {
        const size_t at = pick(0, 8);
        b[at] = other(b[at]);
      } else {
        const int64_t delta = int64_t(pick(1, 65)) * (rng() % 2 ? 1 : -1);
        const uint64_t len = n + uint64_t(delta);
        std::memcpy(b.data(), &len, 8);
      }
      break;
    default:
      for (uint64_t k = pick(1, 5); k > 0; --k) {
        const size_t at = pick(8 + n, b.size());
        b[at] = other(b[at]);
      }
  }
  return b;
}

void expect_one_line(const Error& e, const std::string& what) {
  const std::string line = std::string("etude: ") + e.kind() + ": " + e.what();  // as app/main.cpp prints it
  EXPECT_LT(line.size(), 300u) << what << ": " << line;
  EXPECT_EQ(line.find('\n'), std::string::npos) << what << ": " << line;
  for (unsigned char c : line) ASSERT_TRUE(c >= 0x20 && c != 0x7f) << what << ": control byte in " << line;
  EXPECT_NO_THROW((void)nlohmann::json(line).dump()) << what << ": not valid UTF-8";
}

class ModelMutations : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("etude-mut-" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST_F(ModelMutations, FourHundredMutatedFilesAreRefusedInOneLineOrCompose) {
  const std::vector<uint8_t> good = model_file();
  const fs::path path = dir_ / "m.safetensors";
  write_file_atomic(path, good);
  const StyleModel original = load_style_model(path);
  ASSERT_TRUE(original.warnings.empty());
  ASSERT_EQ(original.styles.size(), 3u);
  ComposeOptions o;
  o.length = 8;
  ASSERT_EQ(compose(original, o).at(0).tokens.size(), 9u);  // BOS and 8 tokens: what an opened copy does
  std::mt19937_64 rng(17);
  std::array<int, kinds> refused{}, opened{};
  for (int i = 0; i < 400; ++i) {
    const Kind kind = Kind(i % kinds);
    const std::string what = "mutation " + std::to_string(i) + " (" + kKindNames[kind] + ")";
    write_file_atomic(path, mutate(good, kind, rng));
    try {
      const StyleModel style = load_style_model(path);
      ++opened[kind];
      EXPECT_NE(kind, tensor_bytes) << what << ": changed tensor bytes were not detected";
      o.seed = uint64_t(i);
      const std::vector<ComposedPiece> pieces = compose(style, o);
      ASSERT_EQ(pieces.size(), 1u) << what;
    } catch (const Error& e) {
      if (refused[kind]++ == 0) std::printf("%s: %s\n", what.c_str(), e.what());  // one sample of each kind
      expect_one_line(e, what);
      if (kind == tensor_bytes) {
        EXPECT_NE(std::string(e.what()).find("checksum"), std::string::npos) << what << ": " << e.what();
      }
    } catch (const std::exception& e) {
      ADD_FAILURE() << what << ": not an etude::Error: " << e.what();
    }
  }
  for (int k = 0; k < kinds; ++k) {
    std::printf("%-14s refused %3d  opened and composed %3d\n", kKindNames[k], refused[k], opened[k]);
    EXPECT_EQ(refused[k] + opened[k], 80);
  }
  EXPECT_EQ(refused[tensor_bytes], 80);
  EXPECT_EQ(refused[truncation], 80);  // the data section no longer fits the table
}

// Metadata JSON damaged in a file without checksums (another tool's): the parser's own message is
// rewrapped into one short line, never the 100 KB it quotes.
TEST_F(ModelMutations, DamagedMetadataJsonWithoutChecksumsGivesOneShortLine) {
  const std::vector<uint8_t> good = model_file();
  uint64_t n = 0;
  std::memcpy(&n, good.data(), 8);
  const std::string long_broken = "{\"name\": \"" + std::string(100000, 'e') + "\xfe\x01\"}";
  for (const char* key : {nn::kMetaTokenizer, nn::kMetaTraining, kMetaCard, nn::kMetaStyles}) {
    nlohmann::json h = nlohmann::json::parse(good.begin() + 8, good.begin() + 8 + std::ptrdiff_t(n));
    h["__metadata__"].erase("etude.checksums");
    h["__metadata__"][key] = long_broken;
    std::string text = h.dump(-1, ' ', false, nlohmann::json::error_handler_t::ignore);
    text.append((8 - text.size() % 8) % 8, ' ');
    std::vector<uint8_t> b(8);
    const uint64_t len = text.size();
    std::memcpy(b.data(), &len, 8);
    b.insert(b.end(), text.begin(), text.end());
    b.insert(b.end(), good.begin() + 8 + std::ptrdiff_t(n), good.end());
    write_file_atomic(dir_ / "m.safetensors", b);
    try {
      load_style_model(dir_ / "m.safetensors");
      ADD_FAILURE() << key << ": loaded";
    } catch (const Error& e) {
      expect_one_line(e, key);
      EXPECT_NE(std::string(e.what()).find("at byte"), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace etude
