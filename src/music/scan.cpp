// Parallel folder scan: workers take the next file index from an atomic counter, so the load
// balances across files of very different sizes. See scan.hpp.
#include "music/scan.hpp"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <thread>

#include "base/error.hpp"
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
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t i = next++; i < files.size(); i = next++) {
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
    }
  };
  unsigned threads = options.threads ? options.threads : std::max(1u, std::thread::hardware_concurrency());
  threads = static_cast<unsigned>(std::min<size_t>(threads, std::max<size_t>(files.size(), 1)));
  std::vector<std::jthread> pool;
  for (unsigned t = 1; t < threads; ++t) pool.emplace_back(work);
  work();
  pool.clear();  // joins the workers before the results leave
  return results;
}

}  // namespace etude
