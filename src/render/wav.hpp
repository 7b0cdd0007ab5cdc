// Audio: a NoteSequence played through FluidSynth's synthesizer (libfluidsynth, no audio driver)
// with a General MIDI soundfont, written as a 16-bit stereo WAV file.
#pragma once
#include <cstdint>
#include <filesystem>
#include <vector>

#include "music/note_sequence.hpp"

namespace etude {

// Debian's fluid-soundfont-gm.
inline constexpr const char* kDefaultSoundfont = "/usr/share/sounds/sf2/FluidR3_GM.sf2";

struct WavOptions {
  std::filesystem::path soundfont = kDefaultSoundfont;
  int sample_rate = 44100;
  // Release after the last note (the piano's decay and reverb); its last fade_seconds fade to
  // silence, so the file never stops on a sounding note.
  double tail_seconds = 1.5;
  double fade_seconds = 0.3;
  double gain = 0.8;          // FluidSynth's synth.gain (0.8 keeps dense piano chords below clipping)
};

// Interleaved stereo samples; frames = round((total_time + tail) * rate). IoError naming the
// soundfont (and the Debian package) when it is missing or unreadable.
std::vector<int16_t> render_audio(const NoteSequence& seq, const WavOptions& options = {});
// render_audio written atomically as a RIFF/WAVE file.
void render_wav(const NoteSequence& seq, const std::filesystem::path& out, const WavOptions& options = {});

}  // namespace etude
