// Training runs for `etude serve`: one run at a time on a background thread (others refused with
// 409), started from uploaded MIDI files (checked, stored under the server's state folder with
// names it chooses) or a folder under the data root; stop and resume; every run folder listed
// with its history; a Server-Sent Events stream of a run's history as it grows.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <httplib.h>

#include <nlohmann/json.hpp>

#include "app/serve_styles.hpp"
#include "train/train_config.hpp"

namespace etude::app::serve {

inline constexpr size_t kRunFilesMax = 64;                 // files per upload
inline constexpr size_t kRunFileBytesMax = 2 << 20;        // bytes per file
inline constexpr size_t kRunUploadBytesMax = 32 << 20;     // bytes per upload
inline constexpr int kStreamsMax = 16;                     // open event streams

class RunManager {
 public:
  // threads: compute threads of a training run (0 = every core); device: where runs train ("cpu",
  // "cuda" or "auto", checked by the caller), whether started or resumed.
  // catalog: the models folder, where "from" (a base model to fine-tune) is looked up.
  RunManager(StyleCatalog& catalog, std::filesystem::path runs, std::filesystem::path state, std::filesystem::path data,
             int threads, std::string device);
  ~RunManager();
  // {"folders": [{"name", "files"}], "base": {"name", "styles"} or null}: the data
  // root's folders and the installed base model (kBaseModel) the page fine-tunes from by default.
  nlohmann::json data_folders();
  nlohmann::json list();                              // {"runs": [RUN, ...]}
  nlohmann::json get(const std::string& name);        // RUN; 404
  nlohmann::json start(const httplib::Request& req);  // POST /api/runs; RUN; 400 / 409 / 413
  nlohmann::json stop(const std::string& name);       // RUN; 404, 409 when it is not training
  nlohmann::json resume(const std::string& name);     // RUN; 404, 409
  // GET /api/runs/NAME/events: a text/event-stream response; 404, 503 when too many are open.
  void events(const std::string& name, httplib::Response& res);
  std::filesystem::path plot(const std::string& name, const std::string& kind);  // 404
  // Stops the run in progress (its epoch is saved), waits for it and ends every event stream.
  void shutdown();

 private:
  struct Live;
  struct Cursor;
  struct Snapshot;
  std::filesystem::path known_run(const std::string& name) const;  // 404 unless a run folder
  nlohmann::json with_live(nlohmann::json run);
  void launch(const std::string& name, train::TrainConfig config);  // m_ held
  void train_main(Live& live, train::TrainConfig config);
  Snapshot snapshot(const std::string& name);
  bool pump(const std::string& name, Cursor& cursor, httplib::DataSink& sink);

  StyleCatalog& catalog_;
  std::filesystem::path runs_, uploads_, cache_, data_;
  int threads_;
  std::string device_;
  std::mutex m_;
  std::condition_variable changed_;
  uint64_t changes_ = 0;             // epochs, states and messages (progress is not counted)
  bool closing_ = false;
  std::unique_ptr<Live> live_;       // the run in progress, or the last one this server ran
  std::atomic<int> streams_{0};
};

}  // namespace etude::app::serve
