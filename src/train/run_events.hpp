// Why a training run stopped and what happened in each of its epochs, as enums. Their words (the
// events column of history.csv, summary.json's stop_reason) are written here and nowhere else:
// code asks a row whether it holds EpochEvent::best, never what its text says.
#pragma once
#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace etude::train {

// Why run_training ended. Written "completed", "early stop", "time limit", "interrupted", "diverged".
enum class StopReason { epochs_done, patience, max_minutes, interrupted, diverged };
std::string_view stop_reason_text(StopReason reason);
// The reason from its text; nullopt for "running" (summary.json of a run still training) or anything else.
std::optional<StopReason> parse_stop_reason(std::string_view text);
// summary.json's "stop_reason": the reason, or "running" for none yet.
std::string_view stop_reason_text(const std::optional<StopReason>& reason);
// A run that ended this way continues where it stopped with --resume (Ctrl-C, the time limit).
bool resumable(StopReason reason);

// What an epoch's events column may say, in the order an epoch writes them.
enum class EpochEvent {
  rollback,       // "rollback in epoch E at batch B: WHY; learning rate cut to LR" (an earlier try of it)
  device,         // "on DEVICE PRECISION" (not the CPU in f32)
  skipped_steps,  // "N steps skipped (...)" (f16 loss scale overflow)
  partial,        // "partial epoch (DONE/ALL batches, REASON)"
  best,           // "best": the lowest validation loss so far; best.safetensors holds it
  early_stop,     // "early stop: no better validation loss for N epochs"
  checkpoint,     // "checkpoint": checkpoints/epoch-NNNN.safetensors, the copy measure and the graphs
  other,          // any other text (a hand-edited or foreign file), kept as it was
};

struct EpochNote {
  EpochEvent kind = EpochEvent::other;
  std::string text;  // as the events column writes it
  friend bool operator==(const EpochNote&, const EpochNote&) = default;
};

// The notes, each made with its words.
EpochNote rollback_note(int epoch, int64_t batch, std::string_view why, double lr);
EpochNote device_note(std::string_view device, std::string_view precision);
EpochNote skipped_steps_note(int64_t steps);
EpochNote partial_note(int64_t done, int64_t batches, StopReason why);
EpochNote best_note();
EpochNote early_stop_note(int patience);
EpochNote checkpoint_note();

// An epoch's events in order. Converts from and to the events text ("best; checkpoint"), losslessly
// for any text: a note's own "; " (a rollback's learning-rate cut, anything in parentheses) does not
// split it.
class EpochEvents {
 public:
  EpochEvents() = default;
  EpochEvents(const char* text) : EpochEvents(std::string_view(text)) {}  // NOLINT: implicit, as the text
  EpochEvents(const std::string& text) : EpochEvents(std::string_view(text)) {}  // NOLINT
  EpochEvents(std::string_view text);  // NOLINT

  void add(EpochNote note) { notes_.push_back(std::move(note)); }
  void add(const EpochEvents& more) { notes_.insert(notes_.end(), more.notes_.begin(), more.notes_.end()); }
  bool has(EpochEvent kind) const;
  bool empty() const { return notes_.empty(); }
  const std::vector<EpochNote>& notes() const { return notes_; }
  std::string text() const;  // the notes joined with "; "
  void clear() { notes_.clear(); }

  friend bool operator==(const EpochEvents&, const EpochEvents&) = default;
  friend std::ostream& operator<<(std::ostream& out, const EpochEvents& e);

 private:
  std::vector<EpochNote> notes_;
};

// In JSON (the run state, the server's history) the events are their text.
void to_json(nlohmann::json& j, const EpochEvents& e);
void from_json(const nlohmann::json& j, EpochEvents& e);

}  // namespace etude::train
