// Standard MIDI File writer: the inverse of midi_reader.cpp for formats 0, 1 and 2.
// Uses running status for channel messages and restarts it after meta and sysex events.
#include "base/error.hpp"
#include "midi/message_table.hpp"
#include "midi/midi_file.hpp"

namespace etude {
namespace {

void put32(std::vector<uint8_t>& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<uint8_t>(v >> shift));
}
void put16(std::vector<uint8_t>& out, unsigned v) {
  out.push_back(static_cast<uint8_t>(v >> 8));
  out.push_back(static_cast<uint8_t>(v));
}
void put_vlq(std::vector<uint8_t>& out, uint64_t v, const std::string& what) {
  if (v > 0x0FFFFFFF) throw InvalidArgument("write_midi: " + what + " " + std::to_string(v) + " does not fit a MIDI variable-length number (max 268435455)");
  uint8_t buf[4];
  int n = 0;
  do {
    buf[n++] = static_cast<uint8_t>(v & 0x7F);
    v >>= 7;
  } while (v);
  while (n > 1) out.push_back(buf[--n] | 0x80);
  out.push_back(buf[0]);
}

std::vector<uint8_t> track_body(const MidiTrack& track, int index) {
  std::vector<uint8_t> out;
  out.reserve(track.events.size() * 3 + 4);
  const std::string where = "track " + std::to_string(index) + " event ";
  uint8_t running = 0;
  int64_t tick = 0;
  bool ended = false;
  for (size_t i = 0; i < track.events.size(); ++i) {
    const MidiEvent& ev = track.events[i];
    if (ended) throw InvalidArgument("write_midi: " + where + std::to_string(i) + " comes after End of Track");
    if (ev.tick < tick)
      throw InvalidArgument("write_midi: " + where + std::to_string(i) + " at tick " + std::to_string(ev.tick) +
                            " goes back in time (sort the track's events by tick)");
    put_vlq(out, static_cast<uint64_t>(ev.tick - tick), "delta time of " + where + std::to_string(i));
    tick = ev.tick;
    const MessageSpec* spec = message_spec(ev.status);
    if (spec == nullptr) throw InvalidArgument("write_midi: " + where + std::to_string(i) + " has an undefined status byte");
    if (spec->data_length < 0) {
      out.push_back(ev.status);
      if (ev.is_meta()) {
        if (ev.meta_type >= 0x80) throw InvalidArgument("write_midi: " + where + std::to_string(i) + " has meta type >= 0x80");
        out.push_back(ev.meta_type);
        ended = ev.meta_type == meta::kEndOfTrack;
      }
      put_vlq(out, ev.payload.size(), "payload length of " + where + std::to_string(i));
      out.insert(out.end(), ev.payload.begin(), ev.payload.end());
      running = 0;
      continue;
    }
    if (ev.data1 >= 0x80 || ev.data2 >= 0x80)
      throw InvalidArgument("write_midi: " + where + std::to_string(i) + " has a data byte above 127");
    if (ev.status != running || ev.status >= 0xF0) out.push_back(ev.status);
    running = ev.status < 0xF0 ? ev.status : 0;
    if (spec->data_length >= 1) out.push_back(ev.data1);
    if (spec->data_length >= 2) out.push_back(ev.data2);
  }
  if (!ended) out.insert(out.end(), {0x00, 0xFF, meta::kEndOfTrack, 0x00});
  return out;
}

}  // namespace

std::vector<uint8_t> write_midi(const MidiFile& file) {
  if (file.format < 0 || file.format > 2) throw InvalidArgument("write_midi: format must be 0, 1 or 2");
  if (file.format == 0 && file.tracks.size() != 1)
    throw InvalidArgument("write_midi: format 0 needs exactly one track, got " + std::to_string(file.tracks.size()));
  if (file.tracks.size() > 0xFFFF) throw InvalidArgument("write_midi: more than 65535 tracks");
  const Division& d = file.division;
  unsigned division = 0;
  if (d.is_smpte()) {
    if ((d.smpte_fps != 24 && d.smpte_fps != 25 && d.smpte_fps != 29 && d.smpte_fps != 30) ||
        d.ticks_per_frame < 1 || d.ticks_per_frame > 255)
      throw InvalidArgument("write_midi: SMPTE division needs 24, 25, 29 or 30 fps and 1..255 ticks per frame");
    division = static_cast<unsigned>((256 - d.smpte_fps) << 8 | d.ticks_per_frame);
  } else {
    if (d.ticks_per_beat < 1 || d.ticks_per_beat > 0x7FFF)
      throw InvalidArgument("write_midi: ticks per beat must be 1..32767, got " + std::to_string(d.ticks_per_beat));
    division = static_cast<unsigned>(d.ticks_per_beat);
  }
  std::vector<uint8_t> out = {'M', 'T', 'h', 'd'};
  put32(out, 6);
  put16(out, static_cast<unsigned>(file.format));
  put16(out, static_cast<unsigned>(file.tracks.size()));
  put16(out, division);
  for (size_t t = 0; t < file.tracks.size(); ++t) {
    const std::vector<uint8_t> body = track_body(file.tracks[t], static_cast<int>(t));
    out.insert(out.end(), {'M', 'T', 'r', 'k'});
    put32(out, static_cast<uint32_t>(body.size()));
    out.insert(out.end(), body.begin(), body.end());
  }
  return out;
}

}  // namespace etude
