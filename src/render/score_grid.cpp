// Quantizing a piece into written values per hand; see score_grid.hpp.
#include "render/score_grid.hpp"

#include <algorithm>
#include <cmath>
#include <set>

#include "base/error.hpp"

namespace etude {
namespace {

struct GridNote {
  int64_t start, end;  // grid steps, end > start
  int pitch;
};

// Splits `steps` grid steps into note values (whole note = whole_steps), largest first, plain or
// dotted: (length, denominator, dotted).
struct Value {
  int64_t steps;
  int denominator;
  bool dotted;
};
std::vector<Value> note_values(int64_t steps, int64_t whole_steps) {
  std::vector<Value> out;
  while (steps > 0) {
    for (int value = 1; int64_t len = whole_steps / value; value *= 2) {
      if (len % 2 == 0 && len + len / 2 <= steps) {
        out.push_back({len + len / 2, value, true});
        break;
      }
      if (len <= steps || len == 1) {
        out.push_back({len, value, false});
        break;
      }
    }
    steps -= out.back().steps;
  }
  return out;
}

std::vector<WrittenValue> hand_values(const std::vector<GridNote>& notes, int64_t end, int64_t bar, int64_t whole) {
  std::set<int64_t> cuts{0, end};
  for (int64_t b = bar; b < end; b += bar) cuts.insert(b);
  for (const GridNote& n : notes) cuts.insert(n.start), cuts.insert(n.end);
  std::vector<WrittenValue> out;
  for (auto it = cuts.begin(); std::next(it) != cuts.end(); ++it) {
    const int64_t a = *it, b = *std::next(it);
    std::vector<const GridNote*> sounding;
    for (const GridNote& n : notes)
      if (n.start <= a && a < n.end) sounding.push_back(&n);
    const std::vector<Value> parts = note_values(b - a, whole);
    int64_t at = a;
    for (size_t k = 0; k < parts.size(); ++k) {
      WrittenValue v{at, parts[k].steps, parts[k].denominator, parts[k].dotted, {}};
      for (const GridNote* n : sounding)
        v.notes.push_back({n->pitch, n->start < at, k + 1 < parts.size() || n->end > b});
      at += parts[k].steps;
      out.push_back(std::move(v));
    }
  }
  return out;
}

}  // namespace

ScoreGrid make_score_grid(const NoteSequence& seq, int grid, int split_pitch, const KeyName& key) {
  if (grid != 1 && grid != 2 && grid != 4 && grid != 8) throw InvalidArgument("score: grid must be 1, 2, 4 or 8 steps per beat");
  ScoreGrid g;
  g.grid = grid;
  g.key = key;
  const int tpb = seq.ticks_per_beat > 0 ? seq.ticks_per_beat : 480;
  g.qpm = seq.tempos.empty() ? 120.0 : seq.tempos.front().qpm();
  auto grid_of = [&](const Note& n, bool end) {
    if (seq.ticks_per_beat > 0) return int64_t(std::llround(double(end ? n.end_tick : n.start_tick) * grid / tpb));
    return int64_t(std::llround((end ? n.end : n.start) * g.qpm / 60.0 * grid));  // SMPTE: seconds at the first tempo
  };
  if (!seq.time_signatures.empty() && seq.time_signatures.front().denominator <= 16)
    g.numerator = seq.time_signatures.front().numerator, g.denominator = seq.time_signatures.front().denominator;
  g.whole = 4 * int64_t(grid);
  g.bar = std::max<int64_t>(1, g.whole * g.numerator / g.denominator);
  std::vector<GridNote> hands[2];
  int64_t end = 0;
  for (const Note& n : seq.notes) {
    if (n.is_drum) continue;
    const int64_t s = grid_of(n, false), e = std::max(s + 1, grid_of(n, true));
    hands[n.pitch < split_pitch ? 1 : 0].push_back({s, e, n.pitch});
    end = std::max(end, e);
  }
  g.end = std::max<int64_t>(g.bar, (end + g.bar - 1) / g.bar * g.bar);
  for (int h = 0; h < 2; ++h) g.hands[h] = hand_values(hands[h], g.end, g.bar, g.whole);
  return g;
}

}  // namespace etude
