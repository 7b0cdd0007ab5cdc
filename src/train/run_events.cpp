// The words of stop reasons and epoch events, written and read back; see run_events.hpp.
#include "train/run_events.hpp"

#include <algorithm>
#include <cstdio>
#include <ostream>
#include <utility>

#include "base/enum_words.hpp"

namespace etude::train {
namespace {

constexpr EnumWords<StopReason, 5> kStopWords{{{{StopReason::epochs_done, "completed"},
                                                 {StopReason::patience, "early stop"},
                                                 {StopReason::max_minutes, "time limit"},
                                                 {StopReason::interrupted, "interrupted"},
                                                 {StopReason::diverged, "diverged"}}}};
constexpr std::string_view kRunning = "running";

// How a note's text begins (or, for the skipped steps, what it holds), by kind; the whole text for
// the notes that are one word.
constexpr std::string_view kBest = "best", kCheckpoint = "checkpoint", kRollback = "rollback",
                           kLrCut = "learning rate cut to ", kEarlyStop = "early stop", kPartial = "partial epoch (",
                           kSkipped = " steps skipped (", kOn = "on ", kSeparator = "; ";

EpochEvent kind_of(std::string_view text) {
  if (text == kBest) return EpochEvent::best;
  if (text == kCheckpoint) return EpochEvent::checkpoint;
  if (text.starts_with(kRollback)) return EpochEvent::rollback;
  if (text.starts_with(kEarlyStop)) return EpochEvent::early_stop;
  if (text.starts_with(kPartial)) return EpochEvent::partial;
  if (text.find(kSkipped) != std::string_view::npos) return EpochEvent::skipped_steps;
  if (text.starts_with(kOn)) return EpochEvent::device;
  return EpochEvent::other;
}

}  // namespace

std::string_view stop_reason_text(StopReason reason) { return kStopWords.text(reason); }

std::string_view stop_reason_text(const std::optional<StopReason>& reason) {
  return reason ? stop_reason_text(*reason) : kRunning;
}

std::optional<StopReason> parse_stop_reason(std::string_view text) { return kStopWords.parse(text); }

bool resumable(StopReason reason) { return reason == StopReason::interrupted || reason == StopReason::max_minutes; }

EpochNote rollback_note(int epoch, int64_t batch, std::string_view why, double lr) {
  char buf[256];
  std::snprintf(buf, sizeof buf, "rollback in epoch %d at batch %lld: %s; learning rate cut to %.3g", epoch,
                static_cast<long long>(batch), std::string(why).c_str(), lr);
  return {EpochEvent::rollback, buf};
}
EpochNote device_note(std::string_view device, std::string_view precision) {
  return {EpochEvent::device, std::string(kOn).append(device).append(" ").append(precision)};
}
EpochNote skipped_steps_note(int64_t steps) {
  return {EpochEvent::skipped_steps,
          std::to_string(steps).append(kSkipped).append("f16 gradients overflowed; loss scale halved)")};
}
EpochNote partial_note(int64_t done, int64_t batches, StopReason why) {
  return {EpochEvent::partial, std::string(kPartial) + std::to_string(done) + "/" + std::to_string(batches) +
                                   " batches, " + std::string(stop_reason_text(why)) + ")"};
}
EpochNote best_note() { return {EpochEvent::best, std::string(kBest)}; }
EpochNote early_stop_note(int patience) {
  return {EpochEvent::early_stop,
          std::string(kEarlyStop) + ": no better validation loss for " + std::to_string(patience) + " epochs"};
}
EpochNote checkpoint_note() { return {EpochEvent::checkpoint, std::string(kCheckpoint)}; }

// Splits at "; " outside parentheses, except before a rollback's learning-rate cut; joining the
// pieces with "; " gives the text back, whatever it was.
EpochEvents::EpochEvents(std::string_view text) {
  if (text.empty()) return;
  int depth = 0;
  size_t start = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const char ch = text[i];
    if (ch == '(') ++depth;
    else if (ch == ')') depth = std::max(0, depth - 1);
    else if (depth == 0 && text.substr(i).starts_with(kSeparator) &&
             !text.substr(i + kSeparator.size()).starts_with(kLrCut)) {
      const std::string_view piece = text.substr(start, i - start);
      notes_.push_back({kind_of(piece), std::string(piece)});
      start = i + kSeparator.size();
      i = start - 1;
    }
  }
  const std::string_view piece = text.substr(start);
  notes_.push_back({kind_of(piece), std::string(piece)});
}

bool EpochEvents::has(EpochEvent kind) const {
  return std::any_of(notes_.begin(), notes_.end(), [&](const EpochNote& n) { return n.kind == kind; });
}

std::string EpochEvents::text() const {
  std::string out;
  for (size_t i = 0; i < notes_.size(); ++i) out.append(i ? kSeparator : "").append(notes_[i].text);
  return out;
}

std::ostream& operator<<(std::ostream& out, const EpochEvents& e) { return out << '"' << e.text() << '"'; }

void to_json(nlohmann::json& j, const EpochEvents& e) { j = e.text(); }
void from_json(const nlohmann::json& j, EpochEvents& e) { e = EpochEvents(j.get<std::string>()); }

}  // namespace etude::train
