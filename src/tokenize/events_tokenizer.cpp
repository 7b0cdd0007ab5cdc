// `events` tokenizer: performance events on a 10 ms clock; the decoder tracks sounding keys and
// repairs unmatched NOTE_OFFs, re-struck keys and notes left open.
#include "tokenize/events_tokenizer.hpp"

#include <algorithm>
#include <array>
#include <cmath>

#include "music/sequence_ops.hpp"
#include "tokenize/token_common.hpp"

namespace etude {
namespace {

using tokenize_detail::bin_velocity;
using tokenize_detail::velocity_bin;

// Decoded sequences use 1 tick = 1 ms (1000 ticks per beat at 60 BPM): one step = 10 ticks.
constexpr int kTicksPerBeat = 1000;
constexpr uint32_t kUsPerBeat = 1000000;
constexpr int64_t kTicksPerStep = 10;

// Sounding keys and the clock: what both the decoder and the grammar track.
struct KeyState {
  int64_t step = 0;
  std::array<int64_t, 128> on_since;  // step the key went down, or -1
  int active = 0;
  KeyState() { on_since.fill(-1); }
};

class EventsGrammar : public tokenize_detail::GrammarBase {
 public:
  EventsGrammar() : GrammarBase(EventsTokenizer::kSize) {}

 protected:
  void body_legal(std::span<uint8_t> mask) const override {
    for (int p = 0; p < 128; ++p) {
      mask[EventsTokenizer::kNoteOn + p] = state_.on_since[p] < 0;
      mask[EventsTokenizer::kNoteOff + p] = state_.on_since[p] >= 0 && state_.on_since[p] < state_.step;
    }
    std::fill(mask.begin() + EventsTokenizer::kShift, mask.begin() + EventsTokenizer::kSize, uint8_t{1});
  }
  bool body_allows(int32_t t) const override {
    if (t < EventsTokenizer::kNoteOff) return state_.on_since[t - EventsTokenizer::kNoteOn] < 0;
    if (t < EventsTokenizer::kShift) {
      const int64_t since = state_.on_since[t - EventsTokenizer::kNoteOff];
      return since >= 0 && since < state_.step;
    }
    return t < EventsTokenizer::kSize;
  }
  bool eos_allowed() const override { return state_.active == 0; }
  void body_advance(int32_t t) override {
    if (t < EventsTokenizer::kNoteOff) {
      state_.on_since[t - EventsTokenizer::kNoteOn] = state_.step;
      ++state_.active;
    } else if (t < EventsTokenizer::kShift) {
      state_.on_since[t - EventsTokenizer::kNoteOff] = -1;
      --state_.active;
    } else if (t < EventsTokenizer::kVelocity) {
      state_.step += t - EventsTokenizer::kShift + 1;
    }
  }

 private:
  KeyState state_;
};

}  // namespace

EventsTokenizer::EventsTokenizer(EventsConfig config) : config_(config) {
  add_special_tokens();
  for (int p = 0; p < 128; ++p) vocab_.add("NOTE_ON_" + std::to_string(p));
  for (int p = 0; p < 128; ++p) vocab_.add("NOTE_OFF_" + std::to_string(p));
  for (int k = 1; k <= kMaxShift; ++k) vocab_.add("TIME_SHIFT_" + std::to_string(k * kStepMs) + "ms");
  for (int b = 0; b < 32; ++b) vocab_.add("VELOCITY_" + std::to_string(b));
}

NoteSequence EventsTokenizer::prepare(const NoteSequence& seq) const {
  NoteSequence work = merge_to_piano(seq);  // one piano: drums dropped, pedal on every note
  if (config_.sustain) work = apply_sustain(std::move(work));
  NoteSequence out;
  out.source = seq.source;
  for (const auto& n : work.notes) {
    Note q;
    q.pitch = std::clamp(n.pitch, 0, 127);
    q.velocity = bin_velocity(velocity_bin(n.velocity));
    int64_t s = std::llround(std::max(0.0, n.start) * 1000.0 / kStepMs);
    int64_t e = std::llround(std::max(0.0, n.end) * 1000.0 / kStepMs);
    q.start_tick = s * kTicksPerStep;
    q.end_tick = std::max(e, s + 1) * kTicksPerStep;
    out.notes.push_back(q);
  }
  tokenize_detail::resolve_same_pitch_overlaps(out.notes);
  tokenize_detail::finish_sequence(out, kTicksPerBeat, kUsPerBeat);
  return out;
}

std::vector<int32_t> EventsTokenizer::encode(const NoteSequence& seq) const {
  NoteSequence prepared = prepare(seq);
  struct Event {
    int64_t step;
    int kind;  // 0 = off (before ons at the same step), 1 = on
    int pitch;
    int velocity;
  };
  std::vector<Event> events;
  events.reserve(prepared.notes.size() * 2);
  for (const auto& n : prepared.notes) {
    events.push_back({n.start_tick / kTicksPerStep, 1, n.pitch, n.velocity});
    events.push_back({n.end_tick / kTicksPerStep, 0, n.pitch, 0});
  }
  std::sort(events.begin(), events.end(), [](const Event& a, const Event& b) {
    if (a.step != b.step) return a.step < b.step;
    if (a.kind != b.kind) return a.kind < b.kind;
    return a.pitch < b.pitch;
  });
  std::vector<int32_t> out{kBosToken};
  out.reserve(events.size() * 2 + 2);
  int64_t now = 0;
  int bin = -1;
  for (const auto& ev : events) {
    for (int64_t gap = ev.step - now; gap > 0; gap -= kMaxShift)
      out.push_back(kShift + static_cast<int32_t>(std::min<int64_t>(gap, kMaxShift)) - 1);
    now = ev.step;
    if (ev.kind == 1 && velocity_bin(ev.velocity) != bin) {
      bin = velocity_bin(ev.velocity);
      out.push_back(kVelocity + bin);
    }
    out.push_back((ev.kind == 1 ? kNoteOn : kNoteOff) + ev.pitch);
  }
  out.push_back(kEosToken);
  return out;
}

void EventsTokenizer::decode_body(std::span<const int32_t> body, bool ended, DecodeResult& out) const {
  KeyState keys;
  std::array<int, 128> velocity{};
  int bin = 15;  // before any VELOCITY token
  auto close = [&](int p, int64_t end_step) {
    Note n;
    n.pitch = p;
    n.velocity = velocity[p];
    n.start_tick = keys.on_since[p] * kTicksPerStep;
    n.end_tick = std::max(end_step, keys.on_since[p] + 1) * kTicksPerStep;
    out.seq.notes.push_back(n);
    keys.on_since[p] = -1;
    --keys.active;
  };
  for (int32_t t : body) {
    if (t < kNoteOff) {
      int p = t - kNoteOn;
      if (keys.on_since[p] >= 0) {  // re-struck while sounding: end the earlier note here
        ++out.repairs;
        close(p, keys.step);
      }
      keys.on_since[p] = keys.step;
      velocity[p] = bin_velocity(bin);
      ++keys.active;
    } else if (t < kShift) {
      int p = t - kNoteOff;
      if (keys.on_since[p] < 0 || keys.on_since[p] == keys.step) ++out.repairs;  // unmatched or empty
      if (keys.on_since[p] >= 0) close(p, keys.step);
    } else if (t < kVelocity) {
      keys.step += t - kShift + 1;
    } else {
      bin = t - kVelocity;
    }
  }
  for (int p = 0; p < 128; ++p) {
    if (keys.on_since[p] < 0) continue;
    if (ended) ++out.repairs;  // EOS with keys down; a stream cut short just ends them
    close(p, keys.step);
  }
  tokenize_detail::resolve_same_pitch_overlaps(out.seq.notes);
  tokenize_detail::finish_sequence(out.seq, kTicksPerBeat, kUsPerBeat);
}

std::unique_ptr<TokenGrammar> EventsTokenizer::grammar() const { return std::make_unique<EventsGrammar>(); }

}  // namespace etude
