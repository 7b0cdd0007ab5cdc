// Tick <-> seconds over tempo segments; see tempo_map.hpp. Each segment keeps its start time so
// a conversion is one binary search and one multiply (no accumulated per-event rounding).
#include "midi/tempo_map.hpp"

#include <algorithm>
#include <cmath>


namespace etude {

TempoMap::TempoMap(const Division& division, std::vector<TempoPoint> changes) {
  const double smpte_spt = division.is_smpte() ? 1.0 / (division.frames_per_second() * division.ticks_per_frame) : 0.0;
  // A tempo of 0 (only a lenient or hand-made file has one) counts as 1 us per beat: time stays finite.
  auto spt = [&](uint32_t us) { return division.is_smpte() ? smpte_spt : std::max<uint32_t>(us, 1) * 1e-6 / division.ticks_per_beat; };
  segments_.push_back({0, 0.0, 500000, spt(500000)});
  if (division.is_smpte()) return;
  std::stable_sort(changes.begin(), changes.end(), [](const TempoPoint& a, const TempoPoint& b) { return a.tick < b.tick; });
  for (const TempoPoint& c : changes) {
    const int64_t tick = std::max<int64_t>(c.tick, 0);
    Segment& last = segments_.back();
    if (tick == last.tick) {
      last.us_per_beat = c.us_per_beat;
      last.seconds_per_tick = spt(c.us_per_beat);
    } else {
      const double time = last.time + static_cast<double>(tick - last.tick) * last.seconds_per_tick;
      segments_.push_back({tick, time, c.us_per_beat, spt(c.us_per_beat)});
    }
  }
}

const TempoMap::Segment& TempoMap::segment_at_tick(int64_t tick) const {
  auto it = std::upper_bound(segments_.begin(), segments_.end(), tick,
                             [](int64_t t, const Segment& s) { return t < s.tick; });
  return it == segments_.begin() ? segments_.front() : *(it - 1);
}

double TempoMap::seconds(int64_t tick) const {
  const Segment& s = segment_at_tick(tick);
  return s.time + static_cast<double>(tick - s.tick) * s.seconds_per_tick;
}

int64_t TempoMap::tick(double seconds) const {
  auto it = std::upper_bound(segments_.begin(), segments_.end(), seconds,
                             [](double t, const Segment& s) { return t < s.time; });
  const Segment& s = it == segments_.begin() ? segments_.front() : *(it - 1);
  return s.tick + std::llround((seconds - s.time) / s.seconds_per_tick);
}

}  // namespace etude
