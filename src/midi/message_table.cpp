// The one table of MIDI message kinds and meta types (see message_table.hpp).
// System common and real-time bytes are listed because some files carry them; 0xF4/5/9/D are not.
#include "midi/message_table.hpp"

#include <array>

namespace etude {
namespace {

constexpr MessageSpec kMessages[] = {
    {0x80, "note_off", 2},       {0x90, "note_on", 2},        {0xA0, "polytouch", 2},
    {0xB0, "control_change", 2}, {0xC0, "program_change", 1}, {0xD0, "aftertouch", 1},
    {0xE0, "pitchwheel", 2},     {0xF0, "sysex", -1},         {0xF1, "quarter_frame", 1},
    {0xF2, "songpos", 2},        {0xF3, "song_select", 1},    {0xF6, "tune_request", 0},
    {0xF7, "sysex_escape", -1},  {0xF8, "clock", 0},          {0xFA, "start", 0},
    {0xFB, "continue", 0},       {0xFC, "stop", 0},           {0xFE, "active_sensing", 0},
    {0xFF, "meta", -1},
};

constexpr MetaSpec kMetas[] = {
    {meta::kSequenceNumber, "sequence_number", -1}, {meta::kText, "text", -1},
    {meta::kCopyright, "copyright", -1},            {meta::kTrackName, "track_name", -1},
    {meta::kInstrumentName, "instrument_name", -1}, {meta::kLyrics, "lyrics", -1},
    {meta::kMarker, "marker", -1},                  {meta::kCuePoint, "cue_marker", -1},
    {meta::kChannelPrefix, "channel_prefix", 1},    {meta::kMidiPort, "midi_port", 1},
    {meta::kEndOfTrack, "end_of_track", 0},         {meta::kSetTempo, "set_tempo", 3},
    {meta::kSmpteOffset, "smpte_offset", 5},        {meta::kTimeSignature, "time_signature", 4},
    {meta::kKeySignature, "key_signature", 2},      {meta::kSequencerSpecific, "sequencer_specific", -1},
};

constexpr std::array<const MessageSpec*, 256> build_index() {
  std::array<const MessageSpec*, 256> index{};
  for (const MessageSpec& spec : kMessages) {
    if (spec.status < 0xF0)
      for (int channel = 0; channel < 16; ++channel) index[spec.status + channel] = &spec;
    else
      index[spec.status] = &spec;
  }
  return index;
}
constexpr auto kIndex = build_index();

}  // namespace

const MessageSpec* message_spec(uint8_t status) { return kIndex[status]; }

MetaSpec meta_spec(uint8_t type) {
  for (const MetaSpec& spec : kMetas)
    if (spec.type == type) return spec;
  return {type, "unknown_meta", -1};
}

}  // namespace etude
