// Helpers for the corpus tests: a temporary folder removed at the end, the shared corpus path
// (tests skip without it), and writing small MIDI files and broken ones.
#pragma once
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>

#include "music/midi_convert.hpp"
#include "music/sequence_ops.hpp"

namespace etude::test {

struct TempDir {
  std::filesystem::path path;
  TempDir() {
    std::random_device rd;
    path = std::filesystem::temp_directory_path() / ("etude-corpus-test-" + std::to_string(rd()) + std::to_string(rd()));
    std::filesystem::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

// The shared corpus, or an empty path (callers GTEST_SKIP).
inline std::filesystem::path corpus_dir() {
  const char* dir = std::getenv("ETUDE_CORPUS");
  if (!dir || !std::filesystem::is_directory(dir)) return {};
  return dir;
}

inline void write_text(const std::filesystem::path& p, const std::string& text) {
  std::filesystem::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << text;
}

// A short tune (pitches base, base+5, ... mod an octave) as a MIDI file; on channel 10 it is drums.
inline void write_tune(const std::filesystem::path& p, int base, int notes = 12, bool drums = false) {
  NoteSequence s;
  s.tempos = {TempoChange{}};
  for (int i = 0; i < notes; ++i) {
    Note n;
    n.pitch = base + (i * 5) % 12;
    n.start_tick = i * 240;
    n.end_tick = i * 240 + 200;
    n.channel = drums ? 9 : 0;
    n.is_drum = drums;
    s.notes.push_back(n);
  }
  sort_notes(s);
  retime_seconds(s);
  std::filesystem::create_directories(p.parent_path());
  save_note_sequence(s, p);
}

}  // namespace etude::test
