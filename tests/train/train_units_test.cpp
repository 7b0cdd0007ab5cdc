// Unit tests of the train layer's parts on small synthetic data: windows and batches, scoring
// against the network's own loss, the resumable state file (bit-exact round trip, damaged files),
// history.csv, and the n-gram index as model metadata text.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "base/error.hpp"
#include "base/file_io.hpp"
#include "base/json_text.hpp"
#include "corpus/ngram_index.hpp"
#include "nn/model_io.hpp"
#include "nn/trainer.hpp"
#include "train/batches.hpp"
#include "train/history.hpp"
#include "train/run_state.hpp"
#include "train/train_config.hpp"

namespace etude::train {
namespace {

nn::ModelSpec tiny_spec(nn::Mode mode = nn::Mode::seq2seq) {
  nn::ModelSpec s;
  s.vocab = 11;
  s.embed_dim = 6;
  s.layers = {{.kind = nn::LayerKind::lstm, .units = 8, .return_sequences = mode == nn::Mode::seq2seq},
              {.kind = nn::LayerKind::dense, .units = nn::kVocabUnits}};
  s.mode = mode;
  s.window = 5;
  s.batch = 3;
  return s;
}

std::vector<int32_t> counting_stream(size_t n) {
  std::vector<int32_t> s(n);
  for (size_t i = 0; i < n; ++i) s[i] = int32_t(i % 11);
  return s;
}

TEST(Windows, StartsStayInsideTheStream) {
  EXPECT_EQ(window_starts(20, 5, 5, 0), (std::vector<size_t>{0, 5, 10}));  // 15 + 6 > 20
  EXPECT_EQ(window_starts(20, 5, 5, 3), (std::vector<size_t>{3, 8, 13}));  // 13 + 6 = 19
  EXPECT_TRUE(window_starts(5, 5, 5, 0).empty());
  EXPECT_EQ(window_starts(6, 5, 5, 0), (std::vector<size_t>{0}));
}

TEST(Windows, BatchesHoldShiftedTargetsAndRepeatMissingRows) {
  const auto stream = counting_stream(40);
  const std::vector<size_t> starts{10, 2};
  std::vector<int32_t> tok(3 * 5), tgt(3 * 5);
  fill_batch(stream, starts, 3, 5, nn::Mode::seq2seq, tok.data(), tgt.data());
  EXPECT_EQ(std::vector<int32_t>(tok.begin(), tok.begin() + 5), (std::vector<int32_t>{10, 0, 1, 2, 3}));
  EXPECT_EQ(std::vector<int32_t>(tgt.begin(), tgt.begin() + 5), (std::vector<int32_t>{0, 1, 2, 3, 4}));
  EXPECT_EQ(std::vector<int32_t>(tok.begin() + 10, tok.end()), std::vector<int32_t>(tok.begin(), tok.begin() + 5));
  fill_batch(stream, starts, 3, 5, nn::Mode::seq2one, tok.data(), tgt.data());
  EXPECT_EQ(tgt[0], 4);  // stream[10 + 5] = 15 % 11
  EXPECT_EQ(tgt[1], 7);
}

TEST(Windows, NoWindowThatFitsIsAnErrorNamingTheSizes) {
  const auto stream = counting_stream(4);
  std::vector<int32_t> tok(5), tgt(5);
  try {
    fill_batch(stream, {}, 1, 5, nn::Mode::seq2seq, tok.data(), tgt.data());
    FAIL() << "no window fits";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("smaller --seq"), std::string::npos);
  }
}

TEST(Score, EvaluateMatchesTheNetworksOwnLoss) {
  // Without dropout or batchnorm, evaluation mode equals training mode: the loss evaluate() computes
  // from the logits must equal forward_backward's cross-entropy over the same windows.
  for (nn::Mode mode : {nn::Mode::seq2seq, nn::Mode::seq2one}) {
    nn::Model model(tiny_spec(mode));
    model.init_random(3);
    nn::Trainer trainer(model, 3, 5);
    const auto stream = counting_stream(3 * 5 + 1);
    const Score s = evaluate(trainer, stream, 5);
    ASSERT_EQ(s.count, mode == nn::Mode::seq2seq ? 15 : 3);
    std::vector<int32_t> tok(15), tgt(15);
    const auto starts = window_starts(stream.size(), 5, 5, 0);
    fill_batch(stream, starts, 3, 5, mode, tok.data(), tgt.data());
    const double loss = model.forward_backward(tok.data(), tgt.data());
    EXPECT_NEAR(s.loss(), loss, 1e-5);
    EXPECT_GE(s.accuracy(), 0.0);
    EXPECT_LE(s.accuracy(), 1.0);
  }
}

TEST(Score, ParallelRowsSumLikeOneLoopInOrder) {
  // Large enough for add_score's parallel loop: the sums must equal a plain serial loop's bit for bit
  // (history.csv of a run must not depend on the thread count).
  nn::ModelSpec spec = tiny_spec();
  spec.vocab = 300;
  nn::Model model(spec);
  model.init_random(5);
  const int B = 16, T = 20, used = 13;
  nn::Trainer trainer(model, B, T);
  nn::set_compute_threads(2);
  nn::Rng rng(9);
  std::vector<int32_t> tok(size_t(B) * T), tgt(size_t(B) * T);
  for (auto& t : tok) t = int32_t(rng.below(300));
  for (auto& t : tgt) t = int32_t(rng.below(300));
  trainer.forward(tok.data(), false);
  Score got;
  trainer.add_score(tgt.data(), used, got);
  const auto z = model.logits();
  double loss = 0;
  int64_t correct = 0;
  for (int t = 0; t < T; ++t)
    for (int b = 0; b < used; ++b) {
      const float* row = z.data() + (size_t(t) * B + b) * 300;
      const int32_t y = tgt[size_t(b) * T + t];
      const float mx = *std::max_element(row, row + 300);
      double sum = 0;
      for (int k = 0; k < 300; ++k) sum += std::exp(double(row[k] - mx));
      loss += std::log(sum) + mx - row[y];
      correct += int(std::max_element(row, row + 300) - row) == y;
    }
  EXPECT_EQ(got.count, int64_t(T) * used);
  EXPECT_EQ(got.loss_sum, loss);
  EXPECT_EQ(got.correct, correct);
}

class StateFile : public ::testing::Test {
 protected:
  std::filesystem::path dir = std::filesystem::temp_directory_path() /
                              ("etude-train-test-" + std::to_string(::getpid()));
  void SetUp() override { std::filesystem::create_directories(dir); }
  void TearDown() override { std::filesystem::remove_all(dir); }
};

TEST_F(StateFile, RoundTripIsBitExact) {
  nn::Model model(tiny_spec());
  model.init_random(9);
  std::vector<float> opt(model.params().size() * 2);
  for (size_t i = 0; i < opt.size(); ++i) opt[i] = std::nextafter(float(i) * 1e-3f, 1.0f);
  RunState st{.config = {{"preset", "tiny"}}, .corpus_identity = "beats:3+1 pieces:abc", .epoch = 4, .steps = 123,
              .lr_scale = 0.25, .rollbacks = 2, .best_epoch = 3, .best_val_loss = 2.0 / 3.0, .bad_epochs = 1,
              .seconds = 1.5, .history = {}};
  st.history.push_back({.epoch = 1, .train_loss = 0.1 + 0.2, .val_loss = 1.0 / 7.0, .copied_share = -1,
                        .events = "rollback: \"x\"; best"});
  save_run_state(dir / "s.safetensors", model, opt, st);
  const LoadedState back = load_run_state(dir / "s.safetensors");
  ASSERT_EQ(back.model.params().size(), model.params().size());
  EXPECT_TRUE(std::equal(model.params().begin(), model.params().end(), back.model.params().begin()));
  EXPECT_EQ(back.optimizer, opt);
  EXPECT_EQ(back.state.steps, 123);
  EXPECT_EQ(back.state.lr_scale, 0.25);
  EXPECT_EQ(back.state.best_val_loss, 2.0 / 3.0);
  EXPECT_EQ(back.state.corpus_identity, st.corpus_identity);
  ASSERT_EQ(back.state.history.size(), 1u);
  EXPECT_EQ(back.state.history[0].train_loss, 0.1 + 0.2);
  EXPECT_EQ(back.state.history[0].events, st.history[0].events);
  EXPECT_EQ(back.state.config, st.config);
}

TEST_F(StateFile, WrongSizedOptimizerStateIsRefusedNotReset) {
  nn::Model model(tiny_spec());  // Adam: two moments per parameter
  save_run_state(dir / "s.safetensors", model, std::vector<float>(3), RunState{});
  try {
    load_run_state(dir / "s.safetensors");
    FAIL() << "3 optimizer values for " << model.params().size() << " parameters";
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("optimizer.state"), std::string::npos);
  }
}

TEST_F(StateFile, ModelFilesAndDamageAreRefusedWithTheFileName) {
  nn::Model model(tiny_spec());
  save_run_state(dir / "s.safetensors", model, std::vector<float>(3), RunState{});
  auto bytes = read_file_bytes(dir / "s.safetensors");
  bytes.resize(bytes.size() - 4);
  write_file_atomic(dir / "cut.safetensors", bytes);
  EXPECT_THROW(load_run_state(dir / "cut.safetensors"), FormatError);
  nn::save_model(dir / "model.safetensors", model, nn::DType::f32);
  try {
    load_run_state(dir / "model.safetensors");
    FAIL() << "a model file is not a state";
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("model.safetensors"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("not a training state"), std::string::npos);
  }
}

TEST(History, CsvHasOneRowPerEpochAndBlankCopyShareOffCheckpoints) {
  const std::vector<EpochRow> rows{{.epoch = 1, .val_loss = std::log(4.0), .copied_share = -1, .events = "best"},
                                   {.epoch = 2, .val_loss = NAN, .copied_share = 0.25, .events = "a \"q\""}};
  const std::string csv = history_csv(rows);
  EXPECT_EQ(csv.substr(0, csv.find('\n')),
            "epoch,train_loss,train_accuracy,val_loss,val_accuracy,val_perplexity,lr,seconds,tokens_per_second,"
            "copied_share,events,val_pitch_loss,val_duration_loss,val_velocity_loss,val_time_loss");
  EXPECT_NE(csv.find("\n1,0,0,1.38629,0,4,0,0,0,,\"best\",,,,\n"), std::string::npos) << csv;
  EXPECT_NE(csv.find("\n2,0,0,nan,0,nan,0,0,0,0.25,\"a 'q'\",,,,\n"), std::string::npos) << csv;
}

TEST(History, ReadBackGivesTheRowsWrittenAndReadsOlderFiles) {
  const std::vector<EpochRow> rows{
      {.epoch = 1, .train_loss = 2.5, .train_accuracy = 0.25, .val_loss = 2.25, .val_accuracy = 0.5, .lr = 0.001,
       .seconds = 12.5, .tokens_per_second = 1000, .copied_share = -1, .events = "best, with a comma",
       .val_pitch_loss = 2.75, .val_duration_loss = 1.5, .val_velocity_loss = 0.5, .val_time_loss = 1.25},
      {.epoch = 2, .train_loss = 2, .val_loss = 2.125, .copied_share = 0.125, .events = "checkpoint"}};
  const std::vector<EpochRow> back = read_history_csv(history_csv(rows));
  ASSERT_EQ(back.size(), rows.size());
  for (size_t i = 0; i < rows.size(); ++i) {
    EXPECT_EQ(nlohmann::json(back[i]), nlohmann::json(rows[i])) << "row " << i;
  }
  // A file from before the losses by kind: they stay unmeasured (-1).
  const auto old = read_history_csv(
      "epoch,train_loss,train_accuracy,val_loss,val_accuracy,val_perplexity,lr,seconds,tokens_per_second,"
      "copied_share,events\n3,1,0.5,1.5,0.25,4.48,0.001,10,900,,\"best\"\n");
  ASSERT_EQ(old.size(), 1u);
  EXPECT_EQ(old[0].epoch, 3);
  EXPECT_EQ(old[0].events, "best");
  EXPECT_EQ(old[0].val_pitch_loss, -1);
}

TEST(NgramMetadata, RoundTripsAndRefusesDamage) {
  for (size_t extra : {0, 1, 2}) {  // every base64 padding case
    NgramIndex index(3);
    std::vector<uint8_t> line{60, 62, 64, 65, 67};
    for (size_t i = 0; i < extra; ++i) line.push_back(uint8_t(70 + i));
    index.add_piece("p" + std::to_string(extra), line);
    index.finish();
    const std::string text = index.to_metadata();
    const NgramIndex back = NgramIndex::from_metadata(text, "test");
    EXPECT_EQ(back.serialize(), index.serialize());
    EXPECT_EQ(back.copied_share(line), 1.0);
    std::string bad = text;
    bad[1] = '!';
    EXPECT_THROW(NgramIndex::from_metadata(bad, "test"), FormatError);
    EXPECT_THROW(NgramIndex::from_metadata(text.substr(1), "test"), FormatError);
  }
}

}  // namespace
}  // namespace etude::train

namespace etude::train {
namespace {
// A damaged or hand-edited state must be refused, not divide by zero (checkpoint_every 0).
TEST(StoredConfig, RoundTripsAndRefusesOutOfRangeSettings) {
  TrainConfig c;
  c.corpus_dir = "/x";
  TrainConfig back;
  config_from_json(config_to_json(c), back);
  EXPECT_EQ(config_to_json(back), config_to_json(c));
  for (const char* field : {"checkpoint_every", "epochs", "lr_cut"}) {
    nlohmann::json j = config_to_json(c);
    j[field] = 0;
    EXPECT_THROW(config_from_json(j, back), InvalidArgument) << field;
  }
  nlohmann::json j = config_to_json(c);
  j["transpose"] = {3, -3};
  EXPECT_THROW(config_from_json(j, back), InvalidArgument);
}
}  // namespace
}  // namespace etude::train

namespace etude {
namespace {
// A Latin-1 folder name in a card or summary must not throw at the end of an epoch.
TEST(JsonText, InvalidUtf8BecomesReplacementCharacter) {
  const nlohmann::json card = {{"corpus", "/midi/\xC9tudes"}};
  EXPECT_THROW((void)card.dump(), nlohmann::json::type_error);
  EXPECT_EQ(utf8_dump(card), "{\"corpus\":\"/midi/\xEF\xBF\xBDtudes\"}");
}
}  // namespace
}  // namespace etude
