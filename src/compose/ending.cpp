// Choosing and shaping a piece's ending (see ending.hpp): beats counted in the sequence's ticks,
// the final onset searched backwards from the end, then notes cut, held or faded.
#include "compose/ending.hpp"

#include <algorithm>
#include <cmath>
#include <map>

#include "base/error.hpp"
#include "music/midi_convert.hpp"
#include "music/sequence_ops.hpp"
#include "music/spelling.hpp"

namespace etude {
namespace {

int pitch_class(int pitch) { return pitch % 12; }

// The tonic triad's pitch classes as a 12-bit mask.
uint16_t tonic_triad(const KeyEstimate& key) {
  const int third = key.minor ? 3 : 4;
  return uint16_t((1u << key.tonic) | (1u << ((key.tonic + third) % 12)) | (1u << ((key.tonic + 7) % 12)));
}

bool onset_at(const Note& n, int64_t tick) { return !n.is_drum && n.start_tick == tick; }
bool sounding_at(const Note& n, int64_t tick) { return !n.is_drum && n.start_tick < tick && n.end_tick > tick; }

// The notes struck on `tick` all belong to the tonic triad, and the lowest note sounding there
// (struck or held) is the tonic.
bool tonic_close(const NoteSequence& seq, int64_t tick, const KeyEstimate& key) {
  const uint16_t triad = tonic_triad(key);
  int struck = 0, bass = 128;
  for (const Note& n : seq.notes) {
    if (onset_at(n, tick)) {
      if (!(triad >> pitch_class(n.pitch) & 1)) return false;
      ++struck;
      bass = std::min(bass, n.pitch);
    } else if (sounding_at(n, tick)) {
      bass = std::min(bass, n.pitch);
    }
  }
  return struck > 0 && pitch_class(bass) == key.tonic;
}

bool any_onset(const NoteSequence& seq, int64_t tick) {
  return std::any_of(seq.notes.begin(), seq.notes.end(), [&](const Note& n) { return onset_at(n, tick); });
}

}  // namespace

NoteSequence align_to_beats(NoteSequence seq) {
  const int64_t beat = seq.ticks_per_beat;
  if (beat <= 0 || seq.notes.empty()) return seq;
  std::map<int64_t, int> onsets;  // phase within the beat -> onsets there
  for (const Note& n : seq.notes)
    if (!n.is_drum) ++onsets[n.start_tick % beat];
  int64_t phase = 0;
  for (const auto& [p, count] : onsets)
    if (count > onsets[phase]) phase = p;
  const int64_t delay = (beat - phase) % beat;
  if (delay == 0) return seq;
  for (Note& n : seq.notes) n.start_tick += delay, n.end_tick += delay;
  for (ControlChange& c : seq.control_changes) c.tick += c.tick > 0 ? delay : 0;
  for (ProgramChange& p : seq.program_changes) p.tick += p.tick > 0 ? delay : 0;
  seq.total_ticks += delay;
  retime_seconds(seq);
  return seq;
}

const char* ending_kind_name(EndingKind kind) { return kind == EndingKind::cadence ? "cadence" : "let ring"; }

int64_t tick_at_seconds(const NoteSequence& seq, double seconds) { return tempo_map_of(seq).tick(seconds); }

NoteSequence end_piece(NoteSequence seq, int64_t end_tick, const KeyEstimate& key, Ending* ending,
                       const EndingOptions& o) {
  const int64_t beat = seq.ticks_per_beat;
  if (beat <= 0) throw InvalidArgument("ending: a piece timed in SMPTE frames has no beats to end on");
  if (o.max_hold_beats < 1 || o.fade_beats < 0 || !(o.fade_floor > 0 && o.fade_floor <= 1))
    throw InvalidArgument("ending: max_hold_beats >= 1, fade_beats >= 0 and fade_floor in (0, 1]");
  int64_t last_end = 0;
  for (const Note& n : seq.notes) last_end = std::max(last_end, n.end_tick);
  // The nearest beat to the length asked, but not past the piece's own last beat.
  int64_t end = std::min((end_tick + beat / 2) / beat, std::max<int64_t>(1, last_end / beat)) * beat;
  end = std::max(end, beat);

  Ending e;
  e.end_tick = end;
  e.final_tick = -1;
  for (int k = 1; k <= o.max_hold_beats && end - k * beat >= 0; ++k)
    if (tonic_close(seq, end - k * beat, key)) {
      e.kind = EndingKind::cadence, e.final_tick = end - k * beat;
      break;
    }
  if (e.final_tick < 0) {
    e.kind = EndingKind::let_ring;
    for (int k = 1; k <= o.max_hold_beats && end - k * beat >= 0; ++k)
      if (any_onset(seq, end - k * beat)) {
        e.final_tick = end - k * beat;
        break;
      }
  }
  if (e.final_tick < 0) {  // no beat struck near the end: its last chord is moved onto the next beat
    int64_t last = -1;
    for (const Note& n : seq.notes)
      if (!n.is_drum && n.start_tick < end) last = std::max(last, n.start_tick);
    e.final_tick = last < 0 ? end - beat : std::min(end - beat, (last + beat - 1) / beat * beat);
    for (Note& n : seq.notes)
      if (last >= 0 && onset_at(n, last)) n.end_tick += e.final_tick - last, n.start_tick = e.final_tick;
  }

  const uint16_t triad = tonic_triad(key);
  std::erase_if(seq.notes, [&](const Note& n) {
    if (n.start_tick > e.final_tick) return true;  // after the final onset
    // A cadence lets only the tonic triad ring over the final chord.
    return e.kind == EndingKind::cadence && sounding_at(n, e.final_tick) && !(triad >> pitch_class(n.pitch) & 1);
  });
  const int64_t fade_from = e.final_tick - int64_t(o.fade_beats) * beat;
  for (Note& n : seq.notes) {
    if (n.start_tick == e.final_tick || sounding_at(n, e.final_tick)) n.end_tick = end;
    if (e.kind == EndingKind::let_ring && o.fade_beats > 0 && n.start_tick > fade_from) {
      const double x = double(n.start_tick - fade_from) / double(e.final_tick - fade_from);  // 0..1
      n.velocity = std::max(1, int(std::lround(n.velocity * (1.0 - (1.0 - o.fade_floor) * x))));
    }
  }
  // Controllers after the end go; a pedal still down is lifted there.
  std::erase_if(seq.control_changes, [&](const ControlChange& c) { return c.tick > end; });
  for (int channel = 0; channel < 16; ++channel) {
    const ControlChange* pedal = nullptr;
    for (const ControlChange& c : seq.control_changes)
      if (c.channel == channel && c.number == 64) pedal = &c;
    if (pedal && pedal->value >= 64)
      seq.control_changes.push_back({.tick = end, .channel = channel, .number = 64, .value = 0, .track = pedal->track});
  }
  std::erase_if(seq.program_changes, [&](const ProgramChange& p) { return p.tick > end; });
  seq.total_ticks = end;
  sort_notes(seq);
  retime_seconds(seq);
  e.final_time = tempo_map_of(seq).seconds(e.final_tick);
  e.end_time = seq.total_time;
  if (ending) *ending = e;
  return seq;
}

NoteSequence finish_piece(NoteSequence seq, const PieceFinish& f, FinishedPiece* report) {
  FinishedPiece r;
  if (f.key) seq = transpose_to_key(std::move(seq), *f.key, &r.key);
  else r.key = estimate_key(seq);
  if (f.tempo > 0) seq = set_tempo(std::move(seq), f.tempo);
  if (f.end_tick < 0 && f.seconds > 0) seq = align_to_beats(std::move(seq));  // bars: the bar lines are the grid
  if (f.end_tick >= 0 || f.seconds > 0) {
    const int64_t end = f.end_tick >= 0 ? f.end_tick : tick_at_seconds(seq, f.seconds);
    r.ending.emplace();
    seq = end_piece(std::move(seq), end, f.key.value_or(r.key), &*r.ending);
  }
  if (report) *report = r;
  return seq;
}

double seconds_to_compose(double seconds, double tempo, double model_qpm) {
  const double qpm = tempo > 0 ? tempo : model_qpm;
  return (seconds + 2 * 60.0 / qpm) * qpm / model_qpm;
}

}  // namespace etude
