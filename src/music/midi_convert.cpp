// MIDI <-> NoteSequence conversion and file load/save; see midi_convert.hpp for the rules
// (FIFO note pairing, global tempo map, program in force, event order when writing).
#include "music/midi_convert.hpp"

#include <algorithm>
#include <array>

#include "base/error.hpp"
#include "base/file_io.hpp"
#include "midi/message_table.hpp"
#include "music/sequence_ops.hpp"

namespace etude {
namespace {

template <class T>
void sort_by_tick(std::vector<T>& v) {
  std::stable_sort(v.begin(), v.end(), [](const T& a, const T& b) { return a.tick < b.tick; });
}

// Sets each note's program to the last program change of its channel at or before its start.
void assign_programs(NoteSequence& seq) {
  std::array<std::vector<const ProgramChange*>, 16> by_channel;
  for (const ProgramChange& pc : seq.program_changes) by_channel[pc.channel & 15].push_back(&pc);
  for (Note& n : seq.notes) {
    const auto& list = by_channel[n.channel & 15];
    auto it = std::upper_bound(list.begin(), list.end(), n.start_tick,
                               [](int64_t t, const ProgramChange* pc) { return t < pc->tick; });
    n.program = it == list.begin() ? 0 : (*(it - 1))->program;
  }
}

// open: per (channel, pitch) the notes sounding, oldest first; touched: the keys this track used,
// so that closing a track costs its own notes and not all 2048 keys.
void read_track(const MidiTrack& track, int index, int64_t offset, NoteSequence& seq,
                std::vector<TempoPoint>& tempos, std::vector<std::vector<size_t>>& open, std::vector<int>& touched) {
  touched.clear();
  for (const MidiEvent& ev : track.events) {
    const int64_t tick = ev.tick + offset;
    const int ch = ev.channel();
    if (ev.is_note_on()) {
      const int key = ch * 128 + ev.data1;
      if (open[key].empty()) touched.push_back(key);
      open[key].push_back(seq.notes.size());
      seq.notes.push_back(Note{ev.data1, ev.data2, 0.0, 0.0, tick, tick, ch, 0, index, ch == 9});
    } else if (ev.is_note_off()) {
      auto& queue = open[ch * 128 + ev.data1];
      if (!queue.empty()) {
        seq.notes[queue.front()].end_tick = tick;
        queue.erase(queue.begin());
      }
    } else if (ev.kind() == 0xB0) {
      seq.control_changes.push_back({tick, 0.0, ch, ev.data1, ev.data2, index});
    } else if (ev.kind() == 0xC0) {
      seq.program_changes.push_back({tick, 0.0, ch, ev.data1, index});
    } else if (ev.is_meta(meta::kSetTempo) && ev.payload.size() == 3) {
      tempos.push_back({tick, meta_tempo(ev)});
    } else if (ev.is_meta(meta::kTimeSignature) && ev.payload.size() == 4) {
      seq.time_signatures.push_back({tick, 0.0, ev.payload[0], 1 << std::min<int>(ev.payload[1], 30)});
    } else if (ev.is_meta(meta::kKeySignature) && ev.payload.size() == 2) {
      seq.key_signatures.push_back({tick, 0.0, static_cast<int8_t>(ev.payload[0]), ev.payload[1] == 1});
    }
  }
  const int64_t end = track.end_tick() + offset;
  for (int key : touched) {
    for (size_t i : open[key]) seq.notes[i].end_tick = end;
    open[key].clear();
  }
}

MidiEvent channel_event(int64_t tick, int status, int channel, int data1, int data2) {
  MidiEvent ev;
  ev.tick = tick;
  ev.status = static_cast<uint8_t>(status | channel);
  ev.data1 = static_cast<uint8_t>(data1);
  ev.data2 = static_cast<uint8_t>(data2);
  return ev;
}
MidiEvent meta_event(int64_t tick, uint8_t type, std::vector<uint8_t> payload) {
  MidiEvent ev;
  ev.tick = tick;
  ev.status = 0xFF;
  ev.meta_type = type;
  ev.payload = std::move(payload);
  return ev;
}

void check(bool ok, const char* what) {
  if (!ok) throw InvalidArgument(std::string("cannot write as MIDI: ") + what);
}
// Checked per note and event, so the message is built only when the check fails.
template <class Describe>
void check_lazy(bool ok, Describe describe) {
  if (!ok) throw InvalidArgument("cannot write as MIDI: " + describe());
}
void check_range(int value, int lo, int hi, const char* what) {
  check_lazy(value >= lo && value <= hi, [&] {
    return std::string(what) + " " + std::to_string(value) + " is outside " + std::to_string(lo) + ".." +
           std::to_string(hi);
  });
}

// Program changes to write: the sequence's own, or derived from note programs when it has none.
std::vector<ProgramChange> programs_to_write(const NoteSequence& seq) {
  if (!seq.program_changes.empty()) return seq.program_changes;
  std::vector<ProgramChange> out;
  std::array<int, 16> current;
  current.fill(0);
  for (const Note& n : seq.notes) {
    if (n.channel < 0 || n.channel > 15 || n.program == current[n.channel]) continue;
    current[n.channel] = n.program;
    out.push_back({n.start_tick, n.start, n.channel, n.program, n.track});
  }
  return out;
}

}  // namespace

Division division_of(const NoteSequence& seq) {
  return Division{seq.ticks_per_beat, seq.ticks_per_beat > 0 ? 0 : seq.smpte_fps, seq.ticks_per_beat > 0 ? 0 : seq.ticks_per_frame};
}

TempoMap tempo_map_of(const NoteSequence& seq) {
  std::vector<TempoPoint> points;
  points.reserve(seq.tempos.size());
  for (const TempoChange& t : seq.tempos) points.push_back({t.tick, t.us_per_beat});
  return TempoMap(division_of(seq), std::move(points));
}

NoteSequence note_sequence_from_midi(const MidiFile& file, const std::string& source) {
  NoteSequence seq;
  seq.source = source;
  seq.ticks_per_beat = file.division.ticks_per_beat;
  seq.smpte_fps = file.division.smpte_fps;
  seq.ticks_per_frame = file.division.ticks_per_frame;
  std::vector<TempoPoint> tempos;
  std::vector<std::vector<size_t>> open(16 * 128);
  std::vector<int> touched;
  int64_t offset = 0;
  for (size_t t = 0; t < file.tracks.size(); ++t) {
    read_track(file.tracks[t], static_cast<int>(t), offset, seq, tempos, open, touched);
    const int64_t end = file.tracks[t].end_tick() + offset;
    seq.total_ticks = std::max(seq.total_ticks, end);
    if (file.format == 2) offset = end;
  }
  // One tempo per tick (the later one wins, as in the merged track), sorted.
  std::stable_sort(tempos.begin(), tempos.end(), [](const TempoPoint& a, const TempoPoint& b) { return a.tick < b.tick; });
  for (const TempoPoint& p : tempos) {
    if (!seq.tempos.empty() && seq.tempos.back().tick == p.tick) seq.tempos.pop_back();
    seq.tempos.push_back({p.tick, 0.0, p.us_per_beat});
  }
  sort_by_tick(seq.time_signatures);
  sort_by_tick(seq.key_signatures);
  sort_by_tick(seq.control_changes);
  sort_by_tick(seq.program_changes);
  assign_programs(seq);
  sort_notes(seq);
  retime_seconds(seq);
  return seq;
}

MidiFile midi_from_note_sequence(const NoteSequence& seq) {
  MidiFile file;
  file.division = division_of(seq);
  const std::vector<ProgramChange> programs = programs_to_write(seq);
  int tracks = 1;
  for (const Note& n : seq.notes) tracks = std::max(tracks, n.track + 1);
  for (const ControlChange& c : seq.control_changes) tracks = std::max(tracks, c.track + 1);
  for (const ProgramChange& p : programs) tracks = std::max(tracks, p.track + 1);
  check_range(tracks, 1, 0xFFFF, "track count");
  // (tick, order class, event): classes sort meta < program < controller < off < on < zero-length off.
  struct Pending {
    int64_t tick;
    int order;
    MidiEvent event;
  };
  std::vector<std::vector<Pending>> pending(static_cast<size_t>(tracks));
  auto add = [&](int track, int order, MidiEvent ev) {
    check(track >= 0, "negative track index");
    check_lazy(ev.tick >= 0, [&] { return "negative tick " + std::to_string(ev.tick); });
    const int64_t tick = ev.tick;
    pending[static_cast<size_t>(track)].push_back({tick, order, std::move(ev)});
  };
  for (const TempoChange& t : seq.tempos) {
    check_range(static_cast<int>(t.us_per_beat), 1, 0xFFFFFF, "tempo (microseconds per beat)");
    const uint32_t us = t.us_per_beat;
    add(0, 0, meta_event(t.tick, meta::kSetTempo, {uint8_t(us >> 16), uint8_t(us >> 8), uint8_t(us)}));
  }
  for (const TimeSignature& ts : seq.time_signatures) {
    check_range(ts.numerator, 1, 255, "time signature numerator");
    int log2 = 0;
    while ((1 << log2) < ts.denominator && log2 < 30) ++log2;
    check_lazy(ts.denominator == (1 << log2), [&] {
      return "time signature denominator " + std::to_string(ts.denominator) + " is not a power of 2";
    });
    add(0, 0, meta_event(ts.tick, meta::kTimeSignature, {uint8_t(ts.numerator), uint8_t(log2), 24, 8}));
  }
  for (const KeySignature& ks : seq.key_signatures) {
    check_range(ks.key, -7, 7, "key signature");
    add(0, 0, meta_event(ks.tick, meta::kKeySignature, {uint8_t(int8_t(ks.key)), uint8_t(ks.minor ? 1 : 0)}));
  }
  for (const ProgramChange& p : programs) {
    check_range(p.channel, 0, 15, "program change channel");
    check_range(p.program, 0, 127, "program");
    add(p.track, 1, channel_event(p.tick, 0xC0, p.channel, p.program, 0));
  }
  for (const ControlChange& c : seq.control_changes) {
    check_range(c.channel, 0, 15, "controller channel");
    check_range(c.number, 0, 127, "controller number");
    check_range(c.value, 0, 127, "controller value");
    add(c.track, 2, channel_event(c.tick, 0xB0, c.channel, c.number, c.value));
  }
  for (const Note& n : seq.notes) {
    check_range(n.pitch, 0, 127, "note pitch");
    check_range(n.velocity, 1, 127, "note velocity");
    check_range(n.channel, 0, 15, "note channel");
    check_lazy(n.end_tick >= n.start_tick, [&] {
      return "a note ends (tick " + std::to_string(n.end_tick) + ") before it starts (tick " +
             std::to_string(n.start_tick) + ")";
    });
    add(n.track, 4, channel_event(n.start_tick, 0x90, n.channel, n.pitch, n.velocity));
    add(n.track, n.end_tick > n.start_tick ? 3 : 5, channel_event(n.end_tick, 0x90, n.channel, n.pitch, 0));
  }
  file.format = tracks == 1 ? 0 : 1;
  file.tracks.resize(static_cast<size_t>(tracks));
  for (size_t t = 0; t < pending.size(); ++t) {
    auto& list = pending[t];
    std::stable_sort(list.begin(), list.end(),
                     [](const Pending& a, const Pending& b) { return std::tie(a.tick, a.order) < std::tie(b.tick, b.order); });
    MidiTrack& track = file.tracks[t];
    track.events.reserve(list.size() + 1);
    for (Pending& p : list) track.events.push_back(std::move(p.event));
    const int64_t end = std::max(track.end_tick(), t == 0 ? seq.total_ticks : int64_t{0});
    track.events.push_back(meta_event(end, meta::kEndOfTrack, {}));
  }
  return file;
}

NoteSequence load_note_sequence(const std::filesystem::path& path, bool lenient, std::vector<std::string>* warnings) {
  MidiFile file = read_midi_file(path, ReadOptions{lenient});
  if (warnings) *warnings = std::move(file.warnings);
  return note_sequence_from_midi(file, path.string());
}

void save_note_sequence(const NoteSequence& seq, const std::filesystem::path& path) {
  write_file_atomic(path, write_midi(midi_from_note_sequence(seq)));
}

}  // namespace etude
