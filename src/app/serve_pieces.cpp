// The bounded pool and caches of `etude serve`; see serve_pieces.hpp.
#include "app/serve_pieces.hpp"

#include <algorithm>
#include <cstdio>

#include "app/serve_http.hpp"
#include "base/error.hpp"
#include "base/file_io.hpp"
#include "midi/midi_file.hpp"
#include "music/midi_convert.hpp"
#include "nn/trainer.hpp"

namespace etude::app::serve {
namespace fs = std::filesystem;
using nlohmann::json;

WorkPool::WorkPool(int workers, int queue) : limit_(size_t(workers + queue)) {
  for (int i = 0; i < workers; ++i) threads_.emplace_back([this] { work(); });
}

WorkPool::~WorkPool() {
  {
    std::lock_guard lock(m_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (std::thread& t : threads_) t.join();
}

void WorkPool::work() {
  nn::set_compute_threads(1);  // the workers are the parallelism
  std::unique_lock lock(m_);
  for (;;) {
    cv_.wait(lock, [&] { return stopping_ || !jobs_.empty(); });
    if (jobs_.empty()) return;  // stopping, nothing left
    std::function<void()> job = std::move(jobs_.front());
    jobs_.pop_front();
    ++busy_;
    lock.unlock();
    job();
    lock.lock();
    --busy_;
  }
}

bool WorkPool::run(const std::function<void()>& job) {
  auto task = std::make_shared<std::packaged_task<void()>>(job);
  std::future<void> done = task->get_future();
  {
    std::lock_guard lock(m_);
    if (stopping_ || busy_ + jobs_.size() >= limit_) return false;
    jobs_.emplace_back([task] { (*task)(); });
  }
  cv_.notify_one();
  done.get();
  return true;
}

std::shared_ptr<const StyleModel> ModelCache::get(const fs::path& path) {
  std::error_code ec;
  const auto size = fs::file_size(path, ec);
  const auto time = fs::last_write_time(path, ec).time_since_epoch().count();
  const std::string key = path.string() + "|" + std::to_string(size) + "|" + std::to_string(time);
  Future future;
  std::optional<std::promise<std::shared_ptr<const StyleModel>>> loader;
  {
    std::lock_guard lock(m_);
    auto it = std::find_if(lru_.begin(), lru_.end(), [&](const auto& e) { return e.first == key; });
    if (it != lru_.end()) {
      lru_.splice(lru_.begin(), lru_, it);
      future = it->second;
    } else {
      // An older version of the same file goes; then the least recently used beyond capacity.
      std::erase_if(lru_, [&](const auto& e) { return e.first.starts_with(path.string() + "|"); });
      loader.emplace();
      future = loader->get_future().share();
      lru_.emplace_front(key, future);
      while (lru_.size() > capacity_) lru_.pop_back();
    }
  }
  if (loader) {
    try {
      auto style = std::make_shared<const StyleModel>(load_style_model(path));
      for (const std::string& w : style->warnings) std::fprintf(stderr, "etude serve: warning: %s\n", w.c_str());
      loader->set_value(std::move(style));
    } catch (...) {
      loader->set_exception(std::current_exception());
      std::lock_guard lock(m_);  // a failed load is not kept: the file may be fixed
      std::erase_if(lru_, [&](const auto& e) { return e.first == key; });
    }
  }
  return future.get();
}

PrimerStore::PrimerStore(fs::path dir, size_t capacity) : dir_(std::move(dir)), capacity_(capacity) {
  fresh_folder(dir_);
}

json PrimerStore::add(const std::string& bytes, const std::string& filename) {
  const NoteSequence seq =
      parse_midi_upload(bytes, "primer " + (filename.empty() ? std::string("upload") : filename.substr(0, 100)));
  const std::string id = make_id("pr");
  write_file_atomic(dir_ / (id + ".mid"), std::string_view(bytes));
  std::lock_guard lock(m_);
  ids_.push_back(id);
  while (ids_.size() > capacity_) {
    std::error_code ec;
    fs::remove(dir_ / (ids_.front() + ".mid"), ec);
    ids_.pop_front();
  }
  return {{"id", id}, {"notes", seq.notes.size()}, {"seconds", seq.total_time}};
}

std::optional<NoteSequence> PrimerStore::load(const std::string& id) {
  {
    std::lock_guard lock(m_);
    if (std::find(ids_.begin(), ids_.end(), id) == ids_.end()) return std::nullopt;
  }
  try {
    return load_note_sequence(dir_ / (id + ".mid"));
  } catch (const IoError&) {
    return std::nullopt;  // evicted meanwhile
  }
}

Piece::~Piece() {
  std::error_code ec;
  if (!dir.empty()) fs::remove_all(dir, ec);
}

PieceStore::PieceStore(fs::path dir, size_t capacity) : dir_(std::move(dir)), capacity_(capacity) {
  fresh_folder(dir_);
}

void PieceStore::add(std::shared_ptr<Piece> piece) {
  std::shared_ptr<Piece> evicted;  // its files go when the last request using it ends, outside the lock
  std::lock_guard lock(m_);
  pieces_.push_back(std::move(piece));
  while (pieces_.size() > capacity_) {
    evicted = std::move(pieces_.front());
    pieces_.pop_front();
  }
}

std::shared_ptr<Piece> PieceStore::find(const std::string& id) {
  std::lock_guard lock(m_);
  for (const auto& p : pieces_)
    if (p->id == id) return p;
  return nullptr;
}

NoteSequence parse_midi_upload(const std::string& bytes, const std::string& what) {
  NoteSequence seq;
  try {
    const auto* data = reinterpret_cast<const uint8_t*>(bytes.data());
    seq = note_sequence_from_midi(read_midi({data, bytes.size()}, what), what);
  } catch (const Error& e) {
    throw HttpError(400, what + " is not a MIDI file: " + e.what());
  }
  if (seq.notes.empty()) throw HttpError(400, what + " holds no notes");
  // A few bytes of MIDI can hold a rest of days (one delta time); its tokens would fill the memory.
  if (seq.total_time > kUploadSecondsMax)
    throw HttpError(400, what + " lasts " + std::to_string(int64_t(seq.total_time)) + " s; uploads are at most " +
                             std::to_string(int(kUploadSecondsMax)) + " s of music");
  return seq;
}

void fresh_folder(const fs::path& dir) {
  std::error_code ec;
  fs::remove_all(dir, ec);
  fs::create_directories(dir);
}

}  // namespace etude::app::serve
