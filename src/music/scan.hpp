// Scanning a folder of MIDI files in parallel (a std::thread pool over all cores): per file ok
// or the error, notes and duration. What a user runs on a folder before training.
#pragma once
#include <cstddef>
#include <filesystem>
#include <string>
#include <vector>

namespace etude {

struct ScanOptions {
  bool lenient = false;   // read damaged files leniently and report what was skipped
  unsigned threads = 0;   // 0: one per hardware thread
};

struct ScanResult {
  std::filesystem::path path;
  bool ok = false;
  std::string error;                  // the reader's message when !ok
  std::vector<std::string> warnings;  // what lenient reading skipped
  size_t notes = 0;
  double seconds = 0.0;               // duration (end of the last event)
};

// Every .mid/.midi/.kar/.rmi (any case) below dir, sorted; IoError if dir is not a folder.
std::vector<std::filesystem::path> find_midi_files(const std::filesystem::path& dir);

// Reads and converts each file; results in the order of `files`. Never throws for a bad file.
std::vector<ScanResult> scan_midi_files(const std::vector<std::filesystem::path>& files, const ScanOptions& options = {});

}  // namespace etude
