// Test helpers: build Standard MIDI File bytes by hand (header, MTrk chunks, VLQs, events),
// so each reader feature and each error can be exercised with a few readable lines.
#pragma once
#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

namespace etude::test {

using Bytes = std::vector<uint8_t>;

inline Bytes cat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const Bytes& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}
inline Bytes be32(uint32_t v) { return {uint8_t(v >> 24), uint8_t(v >> 16), uint8_t(v >> 8), uint8_t(v)}; }
inline Bytes vlq(uint32_t v) {
  Bytes out{uint8_t(v & 0x7F)};
  while (v >>= 7) out.insert(out.begin(), uint8_t(0x80 | (v & 0x7F)));
  return out;
}
inline Bytes chunk(const std::string& id, const Bytes& body) {
  return cat({Bytes(id.begin(), id.end()), be32(uint32_t(body.size())), body});
}
inline Bytes header(int format, int tracks, int division) {
  return chunk("MThd", {0, uint8_t(format), uint8_t(tracks >> 8), uint8_t(tracks), uint8_t(division >> 8), uint8_t(division)});
}
inline const Bytes kEndOfTrack = {0x00, 0xFF, 0x2F, 0x00};
// An MTrk chunk from raw event bytes (delta times included); End of Track appended when asked.
inline Bytes track(const Bytes& events, bool end = true) { return chunk("MTrk", end ? cat({events, kEndOfTrack}) : events); }
inline Bytes smf(int format, int division, std::initializer_list<Bytes> tracks) {
  Bytes out = header(format, int(tracks.size()), division);
  for (const Bytes& t : tracks) out = cat({out, t});
  return out;
}
inline Bytes tempo(uint32_t delta, uint32_t us) {
  return cat({vlq(delta), {0xFF, 0x51, 0x03, uint8_t(us >> 16), uint8_t(us >> 8), uint8_t(us)}});
}

}  // namespace etude::test
