// libFuzzer target for the MIDI reader (built with ETUDE_FUZZ=ON under ASan+UBSan): any bytes,
// strict and lenient; what the strict reader takes the lenient one reads the same; whatever reads
// must also convert, write and read back to the same thing.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "base/error.hpp"
#include "midi/midi_file.hpp"
#include "music/midi_convert.hpp"
#include "music/sequence_ops.hpp"

namespace {

void require(bool ok) {
  if (!ok) __builtin_trap();
}

std::optional<etude::MidiFile> read(std::span<const uint8_t> bytes, bool lenient) {
  try {
    return etude::read_midi(bytes, "fuzz.mid", etude::ReadOptions{lenient});
  } catch (const etude::FormatError&) {  // a clean error is fine; a crash or a hang is not
    return std::nullopt;
  }
}

// What was read must convert, write and read back to the same thing.
void check(const etude::MidiFile& file) {
  using namespace etude;
  const NoteSequence seq = note_sequence_from_midi(file);
  for (const Note& n : seq.notes) require(n.end_tick >= n.start_tick && n.end >= n.start);
  apply_sustain(merge_to_piano(seq));
  try {
    const MidiFile again = read_midi(write_midi(file), "again.mid");
    if (file.warnings.empty()) require(again.tracks == file.tracks);
  } catch (const InvalidArgument&) {  // e.g. a lenient format 0 file with two tracks
  }
  try {
    const NoteSequence back = note_sequence_from_midi(read_midi(write_midi(midi_from_note_sequence(seq)), "back.mid"));
    require(back.notes == seq.notes && back.tempos == seq.tempos && back.control_changes == seq.control_changes &&
            back.total_ticks == seq.total_ticks);
  } catch (const InvalidArgument&) {  // values MIDI cannot hold (tempo 0, numerator 0, huge gaps)
  }
}

}  // namespace

// A file the strict reader takes must read the same leniently, with no warning (so it is checked
// once); otherwise whatever the lenient reader keeps is checked.
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::optional<etude::MidiFile> strict = read({data, size}, false), lenient = read({data, size}, true);
  if (strict) {
    require(lenient && lenient->warnings.empty() && lenient->tracks == strict->tracks &&
            lenient->format == strict->format && lenient->division == strict->division &&
            lenient->riff == strict->riff);
    check(*strict);
  } else if (lenient) {
    check(*lenient);
  }
  return 0;
}
