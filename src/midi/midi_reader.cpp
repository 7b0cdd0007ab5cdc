// Standard MIDI File reader: strict by default (every malformation is a FormatError naming the
// file, track and byte offset), lenient on request. Lengths are always bounded by the bytes left.
#include <algorithm>
#include <cstring>
#include <optional>

#include "base/error.hpp"
#include "base/file_io.hpp"
#include "midi/message_table.hpp"
#include "midi/midi_file.hpp"

namespace etude {
namespace {

// A problem found at a byte offset (relative to the parsed span); turned into a FormatError with
// the file name in strict mode or a warning in lenient mode.
struct Problem {
  size_t offset;
  std::string what;
};

uint32_t be32(std::span<const uint8_t> b, size_t pos) {
  return uint32_t{b[pos]} << 24 | uint32_t{b[pos + 1]} << 16 | uint32_t{b[pos + 2]} << 8 | b[pos + 3];
}
uint32_t le32(std::span<const uint8_t> b, size_t pos) {
  return uint32_t{b[pos + 3]} << 24 | uint32_t{b[pos + 2]} << 16 | uint32_t{b[pos + 1]} << 8 | b[pos];
}
bool has_tag(std::span<const uint8_t> b, size_t pos, const char* tag) {
  return pos + 4 <= b.size() && std::memcmp(b.data() + pos, tag, 4) == 0;
}
// A plausible chunk header: four printable ASCII bytes and a length field.
bool chunk_header_at(std::span<const uint8_t> b, size_t pos) {
  if (pos + 8 > b.size()) return false;
  return std::all_of(b.begin() + pos, b.begin() + pos + 4, [](uint8_t c) { return c >= 0x20 && c < 0x7F; });
}
std::string hex(unsigned v) {
  static const char* digits = "0123456789ABCDEF";
  return std::string("0x") + digits[(v >> 4) & 15] + digits[v & 15];
}

// Parses the events of one track between pos and limit.
class TrackParser {
 public:
  // With `skipped`, meta events whose contents are malformed (a tempo of two bytes, a key out of
  // range) are dropped and recorded there instead of ending the track (lenient reading).
  explicit TrackParser(std::span<const uint8_t> bytes, std::vector<Problem>* skipped = nullptr)
      : b_(bytes), skipped_(skipped) {}

  // Appends events to `out` until limit or End of Track (inclusive); returns the position after
  // the last complete event. Throws Problem at the first malformed byte.
  size_t parse(size_t pos, size_t limit, MidiTrack& out, bool& saw_eot) {
    limit_ = limit;
    saw_eot = false;
    uint8_t running = 0;
    int64_t tick = 0;
    out.events.reserve(out.events.size() + std::min<size_t>((limit - pos) / 3, size_t{1} << 16));
    bool interrupted = false;  // lenient: a status byte cut the previous message short
    while (pos < limit) {
      if (!interrupted) tick += read_vlq(pos, "delta time");
      interrupted = false;
      MidiEvent ev;
      ev.tick = tick;
      const size_t at = pos;
      uint8_t status = next(pos, "status byte");
      bool have_data1 = false;
      if (status < 0x80) {
        if (running == 0)
          throw Problem{at, "data byte " + hex(status) +
                                " where a status byte was expected (running status without a previous "
                                "channel message)"};
        ev.data1 = status;
        have_data1 = true;
        status = running;
      }
      const MessageSpec* spec = message_spec(status);
      if (spec == nullptr) throw Problem{at, "undefined status byte " + hex(status)};
      ev.status = status;
      if (status == 0xFF) {
        ev.meta_type = next(pos, "meta event type");
        if (ev.meta_type >= 0x80) throw Problem{pos - 1, "meta event type " + hex(ev.meta_type) + " has its high bit set"};
        read_payload(pos, ev, "meta event");
        if (auto problem = meta_problem(at, ev)) {
          if (skipped_ == nullptr) throw *problem;
          skipped_->push_back(*problem);
          continue;
        }
      } else if (spec->data_length < 0) {
        read_payload(pos, ev, "sysex event");
      } else {
        for (int i = have_data1 ? 1 : 0; i < spec->data_length; ++i) {
          uint8_t d = next(pos, "data byte");
          if (d >= 0x80) {
            Problem problem{pos - 1, "data byte " + hex(d) + " has its high bit set in a " +
                                         std::string(spec->name) + " message (truncated event?)"};
            if (skipped_ == nullptr) throw problem;
            problem.what += "; the incomplete message is dropped and " + hex(d) + " read as the next status";
            skipped_->push_back(std::move(problem));
            interrupted = true;
            --pos;
            break;
          }
          (i == 0 ? ev.data1 : ev.data2) = d;
        }
        if (interrupted) continue;
        // Channel messages set running status; meta and sysex keep it; system common clears it.
        running = status < 0xF0 ? status : 0;
      }
      out.events.push_back(std::move(ev));
      if (status == 0xFF && out.events.back().meta_type == meta::kEndOfTrack) {
        saw_eot = true;
        return pos;
      }
    }
    return pos;
  }

 private:
  uint8_t next(size_t& pos, const char* what) {
    if (pos >= limit_) throw Problem{pos, std::string("track ends in the middle of an event (expected a ") + what + ")"};
    return b_[pos++];
  }
  uint32_t read_vlq(size_t& pos, const char* what) {
    const size_t at = pos;
    uint32_t value = 0;
    for (int i = 0; i < 4; ++i) {
      uint8_t c = next(pos, what);
      value = (value << 7) | (c & 0x7F);
      if (!(c & 0x80)) return value;
    }
    throw Problem{at, std::string("bad variable-length number for a ") + what +
                          ": more than 4 bytes (corrupt data or wrong track length)"};
  }
  void read_payload(size_t& pos, MidiEvent& ev, const char* what) {
    const size_t at = pos;
    uint32_t length = read_vlq(pos, "length");
    if (length > limit_ - pos)
      throw Problem{at, std::string("truncated ") + what + ": length " + std::to_string(length) +
                            " but only " + std::to_string(limit_ - pos) + " bytes left in the track"};
    ev.payload.assign(b_.begin() + pos, b_.begin() + pos + length);
    pos += length;
  }
  static std::optional<Problem> meta_problem(size_t at, const MidiEvent& ev) {
    const MetaSpec spec = meta_spec(ev.meta_type);
    const bool checked = ev.meta_type == meta::kEndOfTrack || ev.meta_type == meta::kSetTempo ||
                         ev.meta_type == meta::kTimeSignature || ev.meta_type == meta::kKeySignature;
    if (checked && static_cast<int>(ev.payload.size()) != spec.length)
      return Problem{at, std::string(spec.name) + " meta event has " + std::to_string(ev.payload.size()) +
                             " data bytes, expected " + std::to_string(spec.length)};
    if (ev.meta_type == meta::kSetTempo && ev.payload[0] == 0 && ev.payload[1] == 0 && ev.payload[2] == 0)
      return Problem{at, "set_tempo of 0 microseconds per beat (an infinitely fast tempo; expected 1..16777215)"};
    if (ev.meta_type == meta::kKeySignature) {
      const int sharps = static_cast<int8_t>(ev.payload[0]);
      if (sharps < -7 || sharps > 7 || ev.payload[1] > 1)
        return Problem{at, "key_signature out of range (" + std::to_string(sharps) + " sharps, mode " +
                               std::to_string(ev.payload[1]) + "; expected -7..7 and 0 or 1)"};
    }
    return std::nullopt;
  }

  std::span<const uint8_t> b_;
  std::vector<Problem>* skipped_;
  size_t limit_ = 0;
};

class FileParser {
 public:
  FileParser(std::span<const uint8_t> bytes, const std::string& name, const ReadOptions& options)
      : all_(bytes), smf_(bytes), name_(name), lenient_(options.lenient) {}

  MidiFile parse() {
    unwrap_riff();
    parse_header();
    size_t pos = 8 + header_length_;
    while (pos < smf_.size()) {
      if (!chunk_header_at(smf_, pos)) {
        if (!skip_junk(pos)) break;
        continue;
      }
      uint32_t length = be32(smf_, pos + 4);
      const size_t body = pos + 8, left = smf_.size() - body;
      const bool is_track = has_tag(smf_, pos, "MTrk");
      const int track = is_track ? static_cast<int>(file_.tracks.size()) : -1;
      if (length > left) {
        problem(track, Problem{pos + 4, "truncated chunk: its length field says " + std::to_string(length) +
                                            " bytes but only " + std::to_string(left) +
                                            " remain (file cut short?)"});
        length = static_cast<uint32_t>(left);
      }
      if (!is_track) {  // alien chunks are skipped, as the SMF specification asks
        pos = body + length;
        continue;
      }
      file_.tracks.emplace_back();
      pos = lenient_ ? parse_track_lenient(track, body, body + length) : parse_track_strict(track, body, body + length);
    }
    check_counts();
    return std::move(file_);
  }

 private:
  // recoverable: lenient reading would have kept going, so the message says so.
  [[noreturn]] void fail(int track, const Problem& p, bool recoverable = false) const {
    throw FormatError(name_ + ": " + location(track, p.offset) + p.what +
                      (recoverable ? " (--lenient recovers what is readable)" : ""));
  }
  std::string location(int track, size_t offset) const {
    std::string s = track >= 0 ? "track " + std::to_string(track) + ", " : "";
    return s + "byte offset " + std::to_string(base_ + offset) + ": ";
  }
  // Strict: throw. Lenient: record a warning and go on.
  void problem(int track, const Problem& p) {
    if (!lenient_) fail(track, p, true);
    file_.warnings.push_back(location(track, p.offset) + p.what);
  }

  void unwrap_riff() {
    if (!has_tag(all_, 0, "RIFF")) return;
    if (!has_tag(all_, 8, "RMID")) fail(-1, {8, "RIFF file is not a RIFF MIDI (RMID) file: not a MIDI file"});
    for (size_t pos = 12; pos + 8 <= all_.size();) {
      const uint32_t length = le32(all_, pos + 4);
      const size_t left = all_.size() - pos - 8;
      if (has_tag(all_, pos, "data")) {
        if (length > left) problem(-1, {pos + 4, "truncated RIFF data chunk: length " + std::to_string(length) +
                                                     " but only " + std::to_string(left) + " bytes remain"});
        base_ = pos + 8;
        smf_ = all_.subspan(base_, std::min<size_t>(length, left));
        file_.riff = true;
        return;
      }
      if (length > left) break;
      pos += 8 + length + (length & 1);
    }
    fail(-1, {12, "RIFF RMID file without a 'data' chunk holding the MIDI data"});
  }

  void parse_header() {
    if (smf_.size() < 8 || !has_tag(smf_, 0, "MThd"))
      fail(-1, {0, "not a MIDI file: expected 'MThd' at the start (is it a Standard MIDI File?)"});
    header_length_ = be32(smf_, 4);
    if (header_length_ < 6) fail(-1, {4, "header chunk length " + std::to_string(header_length_) + " is less than 6"});
    if (header_length_ > smf_.size() - 8) fail(-1, {4, "truncated header chunk: the file is too short"});
    file_.format = smf_[8] << 8 | smf_[9];
    declared_tracks_ = smf_[10] << 8 | smf_[11];
    const int division = smf_[12] << 8 | smf_[13];
    if (file_.format > 2) {
      problem(-1, {8, "unknown SMF format " + std::to_string(file_.format) + " (expected 0, 1 or 2); read as format 1"});
      file_.format = 1;
    }
    if (division & 0x8000) {
      const int code = static_cast<int8_t>(division >> 8);
      if (code != -24 && code != -25 && code != -29 && code != -30)
        fail(-1, {12, "SMPTE division with " + std::to_string(-code) + " frames per second (expected 24, 25, 29 or 30)"});
      if ((division & 0xFF) == 0) fail(-1, {13, "SMPTE division with 0 ticks per frame"});
      file_.division = Division{0, -code, division & 0xFF};
    } else {
      if (division == 0) fail(-1, {12, "division of 0 ticks per beat (corrupt header)"});
      file_.division = Division{division, 0, 0};
    }
  }

  // At pos there is no chunk header. Lenient: skip to the next "MTrk" if tracks are missing.
  bool skip_junk(size_t& pos) {
    const size_t junk = smf_.size() - pos;
    if (static_cast<int>(file_.tracks.size()) >= declared_tracks_) {
      problem(-1, {pos, std::to_string(junk) + " bytes of junk after the last chunk"});
      return false;
    }
    if (!lenient_) fail(-1, {pos, "expected an MTrk chunk, found bytes that are not a chunk header (wrong track length?)"}, true);
    static const uint8_t tag[] = {'M', 'T', 'r', 'k'};
    auto it = std::search(smf_.begin() + pos + 1, smf_.end(), std::begin(tag), std::end(tag));
    if (it == smf_.end()) {
      problem(-1, {pos, std::to_string(junk) + " bytes that are not a chunk and no further MTrk; ignored"});
      return false;
    }
    const size_t found = it - smf_.begin();
    problem(-1, {pos, "skipped " + std::to_string(found - pos) + " bytes of junk before the next MTrk"});
    pos = found;
    return true;
  }

  size_t parse_track_strict(int track, size_t body, size_t end) {
    bool eot = false;
    try {
      const size_t stop = TrackParser(smf_).parse(body, end, file_.tracks.back(), eot);
      if (!eot) fail(track, {stop, "track ends without an End of Track event (truncated track?)"}, true);
      if (stop != end)
        fail(track, {stop, std::to_string(end - stop) + " bytes after End of Track (wrong track length?)"}, true);
    } catch (const Problem& p) {
      fail(track, p, true);
    }
    return end;
  }

  // Keeps what is readable. If the declared length looks wrong (no chunk header where the track
  // should end), follows the events to their End of Track instead.
  size_t parse_track_lenient(int track, size_t body, size_t end) {
    MidiTrack& out = file_.tracks.back();
    bool eot = false;
    size_t stop = body;
    std::string error;
    std::vector<Problem> skipped, retry_skipped;
    const auto report_skipped = [&](const std::vector<Problem>& list) {
      for (const Problem& p : list) problem(track, {p.offset, p.what + "; event skipped"});
    };
    try {
      stop = TrackParser(smf_, &skipped).parse(body, end, out, eot);
    } catch (const Problem& p) {
      error = location(track, p.offset) + p.what;
    }
    const auto boundary = [&](size_t pos) { return pos == smf_.size() || chunk_header_at(smf_, pos); };
    if (eot && stop != end && boundary(stop)) {
      report_skipped(skipped);
      problem(track, {body - 4, "length field says " + std::to_string(end - body) +
                                    " bytes but End of Track comes after " + std::to_string(stop - body) +
                                    "; continued after the End of Track"});
      return stop;
    }
    // Length too short: try to reach an End of Track further on (once per stretch of bytes, so a
    // run of broken tracks cannot make lenient reading quadratic).
    if (!eot && !boundary(end) && body >= retried_until_) {
      MidiTrack retry;
      bool retry_eot = false;
      try {
        retried_until_ = smf_.size();
        const size_t retry_stop = TrackParser(smf_, &retry_skipped).parse(body, smf_.size(), retry, retry_eot);
        retried_until_ = retry_stop;
        if (retry_eot && boundary(retry_stop)) {
          report_skipped(retry_skipped);
          problem(track, {body - 4, "length field says " + std::to_string(end - body) +
                                        " bytes but the track runs to " + std::to_string(retry_stop - body) +
                                        "; read up to its End of Track"});
          out = std::move(retry);
          return retry_stop;
        }
      } catch (const Problem& p) {
        retried_until_ = p.offset;
      }
    }
    report_skipped(skipped);
    if (!error.empty())
      file_.warnings.push_back(error + "; kept the " + std::to_string(out.events.size()) + " events before it");
    else if (!eot)
      problem(track, {stop, "no End of Track event; kept the track's events"});
    else if (stop != end)
      problem(track, {stop, "ignored " + std::to_string(end - stop) + " bytes after End of Track"});
    return end;
  }

  void check_counts() {
    const int found = static_cast<int>(file_.tracks.size());
    if (found < declared_tracks_)
      problem(-1, {10, "missing MTrk: the header says " + std::to_string(declared_tracks_) +
                           " tracks but the file has " + std::to_string(found)});
    else if (found > declared_tracks_)
      problem(-1, {10, "the header says " + std::to_string(declared_tracks_) + " tracks but the file has " +
                           std::to_string(found) + " MTrk chunks"});
    if (file_.format == 0 && found != 1)
      problem(-1, {8, "format 0 file with " + std::to_string(found) + " tracks (expected exactly 1)"});
  }

  std::span<const uint8_t> all_, smf_;
  const std::string& name_;
  bool lenient_;
  size_t base_ = 0;  // offset of the SMF data inside the file (RIFF wrapping)
  uint32_t header_length_ = 6;
  int declared_tracks_ = 0;
  size_t retried_until_ = 0;  // end of the bytes a lenient retry already parsed
  MidiFile file_;
};

// Strict UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing above U+10FFFF; text that
// fails is decoded as Latin-1 instead, so every string we hand on is valid UTF-8.
bool valid_utf8(const std::string& s) {
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<uint8_t>(s[i]);
    const size_t n = c < 0x80 ? 1 : (c >= 0xC2 && c <= 0xDF) ? 2 : (c >> 4) == 0xE ? 3 : (c >= 0xF0 && c <= 0xF4) ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    for (size_t k = 1; k < n; ++k)
      if ((static_cast<uint8_t>(s[i + k]) >> 6) != 2) return false;
    const auto c1 = static_cast<uint8_t>(s[i + (n > 1 ? 1 : 0)]);
    if ((c == 0xE0 && c1 < 0xA0) || (c == 0xED && c1 > 0x9F) || (c == 0xF0 && c1 < 0x90) || (c == 0xF4 && c1 > 0x8F))
      return false;
    i += n;
  }
  return true;
}

}  // namespace

MidiFile read_midi(std::span<const uint8_t> bytes, const std::string& name, const ReadOptions& options) {
  return FileParser(bytes, name, options).parse();
}

MidiFile read_midi_file(const std::filesystem::path& path, const ReadOptions& options) {
  const std::vector<uint8_t> bytes = read_file_bytes(path);
  return read_midi(bytes, path.string(), options);
}

std::string meta_text(const MidiEvent& event) {
  std::string raw(event.payload.begin(), event.payload.end());
  if (valid_utf8(raw)) return raw;
  std::string out;
  for (uint8_t c : event.payload) {  // Latin-1 -> UTF-8
    if (c < 0x80) {
      out += static_cast<char>(c);
    } else {
      out += static_cast<char>(0xC0 | (c >> 6));
      out += static_cast<char>(0x80 | (c & 0x3F));
    }
  }
  return out;
}

uint32_t meta_tempo(const MidiEvent& event) {
  if (!event.is_meta(meta::kSetTempo) || event.payload.size() != 3)
    throw InvalidArgument("meta_tempo: not a set_tempo event with 3 data bytes");
  return uint32_t{event.payload[0]} << 16 | uint32_t{event.payload[1]} << 8 | event.payload[2];
}

std::string MidiTrack::name() const {
  for (const MidiEvent& ev : events)
    if (ev.is_meta(meta::kTrackName)) return meta_text(ev);
  return "";
}

}  // namespace etude
