// Tests for the originality report (copying from the training pieces on real data, repeats,
// pitch range, Krumhansl-Schmuckler keys) and for opening style models (good and broken files).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <unistd.h>

#include "base/error.hpp"
#include "base/file_io.hpp"
#include "compose/composer.hpp"
#include "music/sequence_ops.hpp"
#include "compose/originality.hpp"
#include "compose_fixture.hpp"
#include "nn/model_io.hpp"

namespace etude {
namespace {
namespace fs = std::filesystem;

// Notes one after another, each `len` seconds (ticks at 480 per second: 120 BPM, 240 per beat).
NoteSequence line_of(const std::vector<int>& pitches, double len = 0.5) {
  NoteSequence s;
  s.ticks_per_beat = 240;
  double t = 0;
  for (int p : pitches) {
    s.notes.push_back({.pitch = p, .velocity = 80, .start = t, .end = t + len, .start_tick = int64_t(t * 480),
                       .end_tick = int64_t((t + len) * 480)});
    t += len;
  }
  s.total_time = t, s.total_ticks = int64_t(t * 480);
  return s;
}

TEST(Key, ScalesAndTriadsFindTheirKeys) {
  EXPECT_EQ(estimate_key(line_of({60, 62, 64, 65, 67, 69, 71, 72, 67, 64, 60})).name(), "C major");
  EXPECT_EQ(estimate_key(line_of({57, 60, 64, 57, 60, 64, 59, 62, 64, 68, 57, 69})).name(), "A minor");
  EXPECT_EQ(estimate_key(line_of({66, 68, 70, 71, 73, 75, 77, 78, 73, 70, 66})).name(), "F# major");
  const KeyEstimate k = estimate_key(line_of({62, 65, 69, 62, 65, 69, 64, 67, 70, 61, 69, 62}));
  EXPECT_EQ(k.name(), "D minor");
  EXPECT_GT(k.correlation, 0.6);
  EXPECT_EQ(estimate_key(NoteSequence{}).correlation, 0.0);
}

TEST(Report, RepeatsRangeAndNoIndex) {
  const auto tok = make_tokenizer("events");
  const NoteSequence s = line_of({48, 60, 79});
  const std::vector<int32_t> composed = {5, 5, 300, 300, 300, 300, 7, 7, 7};
  const OriginalityReport r = make_report(s, composed, *tok, nullptr, 0);
  EXPECT_EQ(r.notes, 3u);
  EXPECT_NEAR(r.seconds, 1.5, 1e-9);
  EXPECT_EQ(r.tokens, composed.size());
  EXPECT_EQ(r.longest_repeat, 4u);
  EXPECT_EQ(r.repeated_token, tok->vocab().name(300));
  EXPECT_EQ(r.lowest_pitch, 48);
  EXPECT_EQ(r.highest_pitch, 79);
  EXPECT_EQ(pitch_name(60), "C4");
  EXPECT_FALSE(r.has_index);
  const auto j = report_to_json(r);
  EXPECT_TRUE(j["copying"].is_null());
  EXPECT_EQ(j["pitch_range"]["highest_name"], "G5");
  EXPECT_NE(report_line(r).find("3 notes, 1.5 s"), std::string::npos);
}

TEST(Report, ATrainingPieceIsAllCopiedAndShuffledNotesAreNot) {
  if (test::bach_dir().empty()) GTEST_SKIP() << "ETUDE_CORPUS not set or has no Bach folder";
  const auto pieces = test::bach_pieces();
  const StyleModel style = test::make_style("events", pieces);
  const NoteSequence excerpt = truncate_seconds(pieces[1], 20.0);
  const OriginalityReport copied = make_report(excerpt, {}, *style.tokenizer, &*style.ngrams, 0);
  EXPECT_EQ(copied.longest_copy, pitch_line(excerpt).size());
  EXPECT_EQ(copied.longest_copy_piece, fs::path(pieces[1].source).filename().string());
  EXPECT_DOUBLE_EQ(copied.copied_ngram_share, 1.0);
  // The same notes with pitches shuffled by a fixed permutation: hardly any 8-note run survives.
  NoteSequence shuffled = excerpt;
  for (size_t i = 0; i < shuffled.notes.size(); ++i) shuffled.notes[i].pitch = 40 + int((i * 37 + 11) % 41);
  const OriginalityReport fresh = make_report(shuffled, {}, *style.tokenizer, &*style.ngrams, 0);
  EXPECT_LT(fresh.longest_copy, 8u);
  EXPECT_LT(fresh.copied_ngram_share, 0.05);
}

class StyleFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    if (test::bach_dir().empty()) GTEST_SKIP() << "ETUDE_CORPUS not set or has no Bach folder";
    dir_ = fs::temp_directory_path() / ("etude-style-test-" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  // Writes a model file as `etude train` does: tokenizer, card and n-gram index in the metadata.
  fs::path save(const StyleModel& s, const std::string& name, int vocab_shift = 0) {
    std::map<std::string, std::string> meta{{nn::kMetaTokenizer, s.tokenizer->to_json().dump()},
                                            {nn::kMetaTraining, R"({"styles":["Bach"],"val_loss":2.5,"seconds":12.0,"epoch":3})"},
                                            {kMetaNgrams, s.ngrams->to_metadata()}};
    const fs::path p = dir_ / (name + ".safetensors");
    if (vocab_shift == 0) {
      nn::save_model(p, *s.model, nn::DType::f32, meta);
    } else {
      nn::Model other(nn::preset_spec("small", s.tokenizer->vocab_size() + vocab_shift));
      nn::save_model(p, other, nn::DType::f32, meta);
    }
    return p;
  }
  fs::path dir_;
};

TEST_F(StyleFiles, RoundTripFindAndList) {
  const StyleModel made = test::make_style("beats", test::bach_pieces());
  const fs::path p = save(made, "bach");
  const StyleModel loaded = load_style_model(p);
  EXPECT_EQ(loaded.tokenizer->name(), "beats");
  EXPECT_EQ(loaded.card["val_loss"], 2.5);
  ASSERT_TRUE(loaded.ngrams.has_value());
  EXPECT_EQ(loaded.ngrams->size(), made.ngrams->size());
  EXPECT_TRUE(std::equal(loaded.model->params().begin(), loaded.model->params().end(), made.model->params().begin()));
  EXPECT_EQ(find_style(dir_, "bach"), p);
  write_file_atomic(dir_ / "broken.safetensors", std::string("not a model"));
  const auto styles = list_styles(dir_);
  ASSERT_EQ(styles.size(), 2u);
  EXPECT_EQ(styles[0].name, "bach");
  EXPECT_EQ(styles[0].tokenizer, "beats");
  EXPECT_TRUE(styles[0].error.empty());
  EXPECT_EQ(styles[1].name, "broken");
  EXPECT_FALSE(styles[1].error.empty());
}

TEST_F(StyleFiles, BrokenFilesGiveClearErrors) {
  const StyleModel made = test::make_style("events", test::bach_pieces());
  EXPECT_THROW(load_style_model(dir_ / "missing.safetensors"), IoError);
  write_file_atomic(dir_ / "junk.safetensors", std::string("\x10\x00\x00\x00\x00\x00\x00\x00{not json}12345", 25));
  EXPECT_THROW(load_style_model(dir_ / "junk.safetensors"), FormatError);
  const fs::path p = save(made, "good");
  auto bytes = read_file_bytes(p);
  bytes.resize(bytes.size() / 2);  // truncated
  write_file_atomic(dir_ / "cut.safetensors", bytes);
  EXPECT_THROW(load_style_model(dir_ / "cut.safetensors"), FormatError);
  save(made, "mismatch", 5);
  try {
    load_style_model(dir_ / "mismatch.safetensors");
    FAIL() << "a vocabulary mismatch was accepted";
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("vocabulary"), std::string::npos) << e.what();
  }
  nn::save_model(dir_ / "bare.safetensors", *made.model, nn::DType::f32);  // no tokenizer
  EXPECT_THROW(load_style_model(dir_ / "bare.safetensors"), FormatError);
  try {
    find_style(dir_, "chopin");
    FAIL() << "an unknown style was found";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("good"), std::string::npos) << e.what();  // lists what is installed
  }
}

}  // namespace
}  // namespace etude
