// What `etude serve` keeps while composing, each bounded: the worker pool (a job beyond its
// workers and queue is refused, never piled up), the loaded style models (least recently used
// dropped), uploaded primers and composed pieces (oldest evicted, their files deleted with them).
#pragma once
#include <condition_variable>
#include <deque>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <future>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "compose/style_model.hpp"
#include "music/note_sequence.hpp"

namespace etude::app::serve {

// `workers` threads of its own run jobs; at most `queue` more jobs wait for one. Per-thread state
// (malloc arenas, OpenMP teams) stays bounded by the worker count, not the HTTP thread count.
class WorkPool {
 public:
  WorkPool(int workers, int queue);
  ~WorkPool();  // finishes the waiting jobs, then joins the workers
  // Runs job on a worker and waits for it (its exception is rethrown here); false, without
  // running it, when every worker is busy and the queue is full.
  bool run(const std::function<void()>& job);

 private:
  void work();
  std::mutex m_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;
  std::vector<std::thread> threads_;
  size_t limit_, busy_ = 0;
  bool stopping_ = false;
};

// Loaded style models by file (path, size and modification time: a retrained file loads anew).
class ModelCache {
 public:
  explicit ModelCache(size_t capacity) : capacity_(capacity) {}
  // Loads once even when asked from several threads at once; rethrows the load's error.
  std::shared_ptr<const StyleModel> get(const std::filesystem::path& path);

 private:
  using Future = std::shared_future<std::shared_ptr<const StyleModel>>;
  std::mutex m_;
  std::list<std::pair<std::string, Future>> lru_;  // most recently used first
  size_t capacity_;
};

// Uploaded primer MIDI files: checked, stored as DIR/<id>.mid, oldest deleted beyond capacity.
class PrimerStore {
 public:
  PrimerStore(std::filesystem::path dir, size_t capacity);
  // 400 when the bytes are not a MIDI file with notes; returns {"id", "notes", "seconds"}.
  nlohmann::json add(const std::string& bytes, const std::string& filename);
  std::optional<NoteSequence> load(const std::string& id);  // nullopt: unknown or evicted

 private:
  std::filesystem::path dir_;
  size_t capacity_;
  std::mutex m_;
  std::list<std::string> ids_;  // oldest first
};

// One composed piece: its folder DIR/<id>/ (piece.mid; piece.wav, score.pdf, score.svg once
// asked for), deleted when the last holder lets go after eviction.
struct Piece {
  std::string id;
  std::filesystem::path dir;
  nlohmann::json info;        // the PIECE object of the API
  std::string download_name;  // "etude-<style>-<seed>"
  std::mutex render;          // one rendering of a file at a time
  ~Piece();
};

class PieceStore {
 public:
  PieceStore(std::filesystem::path dir, size_t capacity);
  std::filesystem::path dir() const { return dir_; }
  void add(std::shared_ptr<Piece> piece);          // evicts the oldest beyond capacity
  std::shared_ptr<Piece> find(const std::string& id);  // null: unknown or evicted

 private:
  std::filesystem::path dir_;
  size_t capacity_;
  std::mutex m_;
  std::list<std::shared_ptr<Piece>> pieces_;  // oldest first
};

// Uploaded music lasts at most this long (a few bytes of MIDI can hold a rest of days).
inline constexpr double kUploadSecondsMax = 3600;
// Uploaded bytes as music: HttpError 400 naming `what` unless they are a MIDI file with notes
// lasting at most kUploadSecondsMax.
NoteSequence parse_midi_upload(const std::string& bytes, const std::string& what);

// A folder emptied of what an earlier server left (pieces and primers do not outlive it).
void fresh_folder(const std::filesystem::path& dir);

}  // namespace etude::app::serve
