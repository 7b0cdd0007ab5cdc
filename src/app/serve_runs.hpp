// Training runs for `etude serve`: one run at a time on a background thread (others refused with
// 409), started from uploaded MIDI files (serve_uploads.hpp) or a folder under the data root;
// stopped through its stop token and resumed. The run folders and their state are the run store's
// (serve_run_store.hpp), the event streams the run events' (serve_run_events.hpp).
#pragma once
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>

#include <httplib.h>

#include <nlohmann/json.hpp>

#include "app/serve_run_events.hpp"
#include "app/serve_run_store.hpp"
#include "app/serve_styles.hpp"
#include "app/serve_uploads.hpp"
#include "train/train_config.hpp"

namespace etude::app::serve {

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
  train::TrainConfig config_from_form(const httplib::Request& req, const std::string& name, std::string& base);
  void refuse_if_busy(const std::string& name) const;  // m_ held
  LiveRun snapshot(const std::string& name);
  nlohmann::json run_json(const std::string& name);  // RUN, the run in progress over its files
  void launch(const std::string& name, train::TrainConfig config);  // m_ held
  void train_main(Live& live, train::TrainConfig config);

  StyleCatalog& catalog_;
  RunStore store_;
  UploadStore uploads_;
  std::filesystem::path cache_, data_;
  int threads_;
  std::string device_;
  mutable std::mutex m_;
  bool closing_ = false;
  std::unique_ptr<Live> live_;  // the run in progress, or the last one this server ran
  RunEvents events_;            // last: its streams read the others
};

}  // namespace etude::app::serve
