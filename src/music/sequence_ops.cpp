// NoteSequence helpers: retiming, merge to piano, sustain pedal, transpose, time stretch, cut,
// tempo and program.
// See sequence_ops.hpp for the exact rules each one follows.
#include "music/sequence_ops.hpp"

#include <algorithm>
#include <cmath>

#include "base/error.hpp"
#include "music/midi_convert.hpp"

namespace etude {
namespace {

// Calls f(tick, time) for every timed field; tempos only when with_tempos.
template <class F>
void for_each_time(NoteSequence& seq, bool with_tempos, F f) {
  if (with_tempos)
    for (auto& t : seq.tempos) f(t.tick, t.time);
  for (auto& n : seq.notes) {
    f(n.start_tick, n.start);
    f(n.end_tick, n.end);
  }
  for (auto& x : seq.time_signatures) f(x.tick, x.time);
  for (auto& x : seq.key_signatures) f(x.tick, x.time);
  for (auto& x : seq.control_changes) f(x.tick, x.time);
  for (auto& x : seq.program_changes) f(x.tick, x.time);
  f(seq.total_ticks, seq.total_time);
}

}  // namespace

void sort_notes(NoteSequence& seq) {
  std::sort(seq.notes.begin(), seq.notes.end(), [](const Note& a, const Note& b) {
    return std::tie(a.start_tick, a.pitch, a.channel, a.track, a.end_tick, a.velocity) <
           std::tie(b.start_tick, b.pitch, b.channel, b.track, b.end_tick, b.velocity);
  });
}

void retime_seconds(NoteSequence& seq) {
  const TempoMap map = tempo_map_of(seq);
  for_each_time(seq, true, [&](int64_t& tick, double& time) { time = map.seconds(tick); });
}

void retime_ticks(NoteSequence& seq) {
  const TempoMap map = tempo_map_of(seq);
  for (auto& t : seq.tempos) t.time = map.seconds(t.tick);
  for_each_time(seq, false, [&](int64_t& tick, double& time) { tick = map.tick(time); });
}

NoteSequence merge_to_piano(NoteSequence seq) {
  std::erase_if(seq.notes, [](const Note& n) { return n.is_drum; });
  for (Note& n : seq.notes) n.channel = n.program = n.track = 0;
  std::erase_if(seq.control_changes, [](const ControlChange& c) { return c.channel == 9; });
  for (ControlChange& c : seq.control_changes) c.channel = c.track = 0;
  seq.program_changes.clear();
  sort_notes(seq);
  return seq;
}

NoteSequence apply_sustain(NoteSequence seq, int threshold) {
  enum Kind { kPedalDown, kPedalUp, kNoteOn, kNoteOff };  // the order of events at equal ticks
  struct Event {
    int64_t tick;
    double time;
    Kind kind;
    size_t note;
  };
  std::vector<bool> dropped(seq.notes.size(), false);
  for (int channel = 0; channel < 16; ++channel) {
    std::vector<Event> events;
    for (const ControlChange& c : seq.control_changes)
      if (c.channel == channel && c.number == 64) events.push_back({c.tick, c.time, c.value >= threshold ? kPedalDown : kPedalUp, 0});
    if (events.empty()) continue;
    for (size_t i = 0; i < seq.notes.size(); ++i) {
      const Note& n = seq.notes[i];
      if (n.channel != channel) continue;
      events.push_back({n.start_tick, n.start, kNoteOn, i});
      events.push_back({n.end_tick, n.end, kNoteOff, i});
    }
    std::stable_sort(events.begin(), events.end(),
                     [](const Event& a, const Event& b) { return std::tie(a.tick, a.kind) < std::tie(b.tick, b.kind); });
    std::vector<std::vector<size_t>> sounding(128);
    auto end_at = [&](size_t i, const Event& e) {
      seq.notes[i].end_tick = e.tick;
      seq.notes[i].end = e.time;
    };
    bool pedal = false;
    for (const Event& e : events) {
      if (e.kind == kPedalDown) {
        pedal = true;
      } else if (e.kind == kPedalUp) {
        pedal = false;
        for (auto& list : sounding)
          std::erase_if(list, [&](size_t i) {
            if (seq.notes[i].end_tick >= e.tick) return false;  // still held by the key
            end_at(i, e);
            return true;
          });
      } else {
        auto& list = sounding[static_cast<size_t>(seq.notes[e.note].pitch)];
        if (e.kind == kNoteOn) {
          if (pedal) {
            for (size_t i : list) {
              end_at(i, e);
              if (seq.notes[i].start_tick == e.tick) dropped[i] = true;  // as note-seq: keep one of the two
            }
            list.clear();
          }
          list.push_back(e.note);
        } else if (!pedal) {
          std::erase(list, e.note);
        }
      }
    }
    for (auto& list : sounding)
      for (size_t i : list)
        if (seq.notes[i].end_tick < seq.total_ticks) end_at(i, {seq.total_ticks, seq.total_time, kNoteOff, i});
  }
  size_t index = 0;
  std::erase_if(seq.notes, [&](const Note&) { return dropped[index++]; });
  sort_notes(seq);
  return seq;
}

NoteSequence transpose(NoteSequence seq, int semitones, OutOfRange policy) {
  std::erase_if(seq.notes, [&](Note& n) {
    if (n.is_drum) return false;
    const int pitch = n.pitch + semitones;
    if (pitch >= 0 && pitch <= 127) {
      n.pitch = pitch;
      return false;
    }
    n.pitch = std::clamp(pitch, 0, 127);
    return policy == OutOfRange::drop;
  });
  sort_notes(seq);
  return seq;
}

NoteSequence time_stretch(NoteSequence seq, double factor) {
  if (!(factor > 0.0) || !std::isfinite(factor))
    throw InvalidArgument("time_stretch: factor must be a positive number, got " + std::to_string(factor));
  if (seq.ticks_per_beat > 0) {
    if (seq.tempos.empty()) seq.tempos.push_back({0, 0.0, 500000});
    for (TempoChange& t : seq.tempos)
      t.us_per_beat = static_cast<uint32_t>(std::clamp<long long>(std::llround(t.us_per_beat * factor), 1, 0xFFFFFF));
  } else {
    for_each_time(seq, true, [&](int64_t& tick, double&) { tick = std::llround(static_cast<double>(tick) * factor); });
  }
  retime_seconds(seq);
  return seq;
}

NoteSequence truncate_seconds(NoteSequence seq, double seconds) {
  std::erase_if(seq.notes, [&](const Note& n) { return n.start >= seconds; });
  for (Note& n : seq.notes) n.end = std::min(n.end, seconds);
  std::erase_if(seq.control_changes, [&](const ControlChange& c) { return c.time > seconds; });
  seq.total_time = std::min(seq.total_time, seconds);
  retime_ticks(seq);
  std::erase_if(seq.notes, [](const Note& n) { return n.end_tick <= n.start_tick; });
  return seq;
}

NoteSequence set_tempo(NoteSequence seq, double qpm) {
  if (!(qpm >= kMinTempo && qpm <= kMaxTempo))
    throw InvalidArgument("tempo " + std::to_string(qpm) + " BPM: use " + std::to_string(int(kMinTempo)) + ".." +
                          std::to_string(int(kMaxTempo)));
  const double now = seq.tempos.empty() ? 120.0 : seq.tempos.front().qpm();
  return time_stretch(std::move(seq), now / qpm);
}

NoteSequence set_program(NoteSequence seq, int program) {
  if (program < 0 || program > kMaxProgram)
    throw InvalidArgument("program " + std::to_string(program) + ": General MIDI programs are 0.." +
                          std::to_string(kMaxProgram));
  for (Note& n : seq.notes) n.program = program;
  seq.program_changes = {ProgramChange{.tick = 0, .time = 0.0, .channel = 0, .program = program}};
  return seq;
}

}  // namespace etude
