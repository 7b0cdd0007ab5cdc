// The MIDI message kinds, defined once (mido-style): status byte -> name and data length.
// The reader, the writer and the `inspect` command all look messages up here.
#pragma once
#include <cstdint>
#include <string_view>

namespace etude {

// data_length: number of data bytes after the status byte; -1 means a length-prefixed payload
// (sysex 0xF0, escape 0xF7, meta 0xFF). Channel messages (0x80..0xEF) are looked up by high nibble.
struct MessageSpec {
  uint8_t status = 0;
  std::string_view name;
  int data_length = 0;
};

// The spec for a status byte, or nullptr for an undefined one (0xF4, 0xF5, 0xF9, 0xFD, data bytes).
const MessageSpec* message_spec(uint8_t status);

// Meta event types (0xFF TYPE LEN DATA); the fixed payload length is -1 when any length is allowed.
struct MetaSpec {
  uint8_t type = 0;
  std::string_view name;
  int length = -1;
};
// Known meta types get their name; unknown ones get {type, "unknown_meta", -1}.
MetaSpec meta_spec(uint8_t type);

namespace meta {
inline constexpr uint8_t kSequenceNumber = 0x00, kText = 0x01, kCopyright = 0x02,
                         kTrackName = 0x03, kInstrumentName = 0x04, kLyrics = 0x05,
                         kMarker = 0x06, kCuePoint = 0x07, kChannelPrefix = 0x20,
                         kMidiPort = 0x21, kEndOfTrack = 0x2F, kSetTempo = 0x51,
                         kSmpteOffset = 0x54, kTimeSignature = 0x58, kKeySignature = 0x59,
                         kSequencerSpecific = 0x7F;
}  // namespace meta

}  // namespace etude
