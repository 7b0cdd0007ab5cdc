// TempoMap: exact tick <-> seconds conversion over tempo segments (double precision), for PPQ
// division (tempo events) and SMPTE division (fixed seconds per tick, tempo events ignored).
#pragma once
#include <cstdint>
#include <vector>

#include "midi/midi_file.hpp"

namespace etude {

struct TempoPoint {
  int64_t tick = 0;
  uint32_t us_per_beat = 500000;  // 120 BPM, the SMF default before the first tempo event
};

class TempoMap {
 public:
  // `changes` need not be sorted; at equal ticks the later entry wins (as in a merged track).
  // Before the first change the tempo is 120 BPM. With SMPTE division tempo is ignored:
  // seconds = ticks / (fps * ticks_per_frame), 29 meaning 29.97 drop-frame.
  TempoMap(const Division& division, std::vector<TempoPoint> changes);

  double seconds(int64_t tick) const;
  int64_t tick(double seconds) const;  // nearest tick at or after the segment start
  // Effective changes: sorted, one per tick, each with its start time in seconds.
  struct Segment {
    int64_t tick;
    double time;
    uint32_t us_per_beat;
    double seconds_per_tick;
  };
  const std::vector<Segment>& segments() const { return segments_; }

 private:
  const Segment& segment_at_tick(int64_t tick) const;
  std::vector<Segment> segments_;  // segments_[0].tick == 0 always
};

}  // namespace etude
