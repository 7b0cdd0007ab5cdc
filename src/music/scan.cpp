// Parallel folder scan over base/parallel_for (workers take the next file index, so the load
// balances across files of very different sizes). See scan.hpp.
#include "music/scan.hpp"

#include <algorithm>
#include <cctype>

#include "base/error.hpp"
#include "base/parallel.hpp"
#include "music/midi_convert.hpp"

namespace etude {
namespace fs = std::filesystem;

std::vector<fs::path> find_midi_files(const fs::path& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw IoError(dir.string() + ": not a folder (give the folder to scan)");
  std::vector<fs::path> files;
  for (auto it = fs::recursive_directory_iterator(dir, fs::directory_options::skip_permission_denied, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (!it->is_regular_file(ec)) continue;
    std::string ext = it->path().extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
    if (ext == ".mid" || ext == ".midi" || ext == ".kar" || ext == ".rmi") files.push_back(it->path());
  }
  if (ec) throw IoError(dir.string() + ": cannot list the folder (" + ec.message() + ")");
  std::sort(files.begin(), files.end());
  return files;
}

std::vector<ScanResult> scan_midi_files(const std::vector<fs::path>& files, const ScanOptions& options) {
  std::vector<ScanResult> results(files.size());
  parallel_for(files.size(), options.threads, [&](size_t i) {
    ScanResult& r = results[i];
    r.path = files[i];
    try {
      const NoteSequence seq = load_note_sequence(files[i], options.lenient, &r.warnings);
      r.notes = seq.notes.size();
      r.seconds = seq.total_time;
      r.ok = true;
    } catch (const std::exception& e) {
      r.error = e.what();
    }
  });
  return results;
}

}  // namespace etude
