// The typed run record: stop reasons and epoch events to their words and back (the events text of
// any file, hand-edited ones included, read losslessly), and a run folder's record read back from
// history.csv and summary.json with its best epoch, checkpoints and stop reason.
#include <gtest/gtest.h>

#include <filesystem>

#include <unistd.h>

#include "base/file_io.hpp"
#include "train/history.hpp"
#include "train/run_events.hpp"
#include "train/run_record.hpp"

namespace etude::train {
namespace {

TEST(RunEvents, StopReasonsHaveOneWordEachAndReadBack) {
  for (StopReason r : {StopReason::epochs_done, StopReason::patience, StopReason::max_minutes,
                       StopReason::interrupted, StopReason::diverged})
    EXPECT_EQ(parse_stop_reason(stop_reason_text(r)), r) << stop_reason_text(r);
  EXPECT_EQ(stop_reason_text(StopReason::epochs_done), "completed");
  EXPECT_EQ(stop_reason_text(StopReason::patience), "early stop");
  EXPECT_EQ(stop_reason_text(StopReason::max_minutes), "time limit");
  EXPECT_EQ(stop_reason_text(std::optional<StopReason>()), "running");
  EXPECT_EQ(parse_stop_reason("running"), std::nullopt);
  EXPECT_TRUE(resumable(StopReason::interrupted) && resumable(StopReason::max_minutes));
  EXPECT_FALSE(resumable(StopReason::epochs_done) || resumable(StopReason::diverged));
}

TEST(RunEvents, EveryNoteReadsBackAsItsKindWithItsText) {
  EpochEvents e;
  e.add(rollback_note(3, 17, "loss spike 9.1 (recent mean 2.2)", 0.0005));
  e.add(rollback_note(3, 4, "loss is NaN", 0.00025));
  e.add(device_note("cuda (NVIDIA H200)", "f16"));
  e.add(skipped_steps_note(2));
  e.add(partial_note(5, 9, StopReason::max_minutes));
  e.add(best_note());
  e.add(early_stop_note(15));
  e.add(checkpoint_note());
  const std::string text = e.text();
  EXPECT_EQ(text,
            "rollback in epoch 3 at batch 17: loss spike 9.1 (recent mean 2.2); learning rate cut to 0.0005; "
            "rollback in epoch 3 at batch 4: loss is NaN; learning rate cut to 0.00025; on cuda (NVIDIA H200) f16; "
            "2 steps skipped (f16 gradients overflowed; loss scale halved); partial epoch (5/9 batches, time limit); "
            "best; early stop: no better validation loss for 15 epochs; checkpoint");
  const EpochEvents back(text);
  EXPECT_EQ(back, e);
  for (EpochEvent k : {EpochEvent::rollback, EpochEvent::device, EpochEvent::skipped_steps, EpochEvent::partial,
                       EpochEvent::best, EpochEvent::early_stop, EpochEvent::checkpoint})
    EXPECT_TRUE(back.has(k)) << int(k);
  EXPECT_FALSE(back.has(EpochEvent::other));
}

TEST(RunEvents, AnyTextReadsBackUnchanged) {
  for (const char* text : {"", "best", "a 'q'", "best, with a comma", "; x", "x; ", "a (b; c); d", "(unclosed; x",
                           "rollback: 'x'; best", "bestest; checkpoints"}) {
    const EpochEvents e(text);
    EXPECT_EQ(e.text(), text);
    EXPECT_EQ(e, text);
  }
  EXPECT_TRUE(EpochEvents("").empty());
  EXPECT_FALSE(EpochEvents("bestest; checkpoints").has(EpochEvent::best));  // words, not substrings
  EXPECT_TRUE(EpochEvents("rollback: 'x'; best").has(EpochEvent::rollback));
  EXPECT_EQ(EpochEvents("a; best; b").notes().size(), 3u);
}

// A run folder of this test's own, removed with everything in it at the end.
struct ScratchRun {
  std::filesystem::path path =
      std::filesystem::temp_directory_path() / ("etude-run-record-test-" + std::to_string(::getpid()));
  ScratchRun() { std::filesystem::create_directories(path); }
  ~ScratchRun() { std::filesystem::remove_all(path); }
};

TEST(RunRecord, HoldsTheBestEpochCheckpointsAndStopReason) {
  const ScratchRun scratch;
  const std::filesystem::path& dir = scratch.path;
  std::vector<EpochRow> rows(4);
  for (int i = 0; i < 4; ++i) rows[size_t(i)].epoch = i + 1, rows[size_t(i)].val_loss = 3.0 - 0.25 * i;
  rows[0].events.add(best_note());
  rows[1].events = EpochEvents(rollback_note(2, 3, "loss is NaN", 0.0005).text);
  rows[1].events.add(best_note());
  rows[1].events.add(checkpoint_note());
  rows[2].val_loss = 9;
  rows[3].val_loss = 9;
  rows[3].events.add(early_stop_note(2));
  rows[3].events.add(checkpoint_note());
  write_history(dir, rows);
  write_file_atomic(dir / kSummaryFile, R"({"stop_reason": "early stop", "epochs_done": 4, "config": {"preset": "small"}})");
  const RunRecord r = read_run_record(dir);
  ASSERT_EQ(r.history.size(), rows.size());
  for (size_t i = 0; i < rows.size(); ++i) EXPECT_EQ(nlohmann::json(r.history[i]), nlohmann::json(rows[i])) << i;
  EXPECT_EQ(r.best_epoch, 2);
  EXPECT_EQ(r.best_val_loss, 2.75);
  EXPECT_EQ(r.checkpoints, (std::vector<int>{2, 4}));
  EXPECT_TRUE(r.summarized);
  EXPECT_EQ(r.stop, StopReason::patience);
  EXPECT_EQ(r.epochs_done, 4);
  EXPECT_EQ(r.config.value("preset", ""), "small");
  EXPECT_EQ(read_history(dir).size(), rows.size());

  write_file_atomic(dir / kSummaryFile, R"({"stop_reason": "running", "epochs_done": 1})");
  const RunRecord running = read_run_record(dir);
  EXPECT_TRUE(running.summarized);
  EXPECT_EQ(running.stop, std::nullopt);
}

TEST(RunRecord, MissingOrDamagedFilesReadAsBeforeTheFirstEpoch) {
  const ScratchRun scratch;
  const std::filesystem::path& dir = scratch.path;
  const RunRecord none = read_run_record(dir / "nothing-here");
  EXPECT_TRUE(none.history.empty());
  EXPECT_EQ(none.best_epoch, 0);
  EXPECT_FALSE(none.summarized);
  write_file_atomic(dir / kSummaryFile, "{not json");
  EXPECT_FALSE(read_run_record(dir).summarized);
}

}  // namespace
}  // namespace etude::train
