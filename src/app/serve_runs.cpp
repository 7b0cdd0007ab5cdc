// Training runs for `etude serve`; see serve_runs.hpp. A run folder holds what `etude train`
// writes plus serve.json (how the server started it: preset, budget, source, its last state).
#include "app/serve_runs.hpp"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <sstream>

#include "app/serve_http.hpp"
#include "app/serve_pieces.hpp"
#include "app/serve_styles.hpp"
#include "base/error.hpp"
#include "base/file_io.hpp"
#include "base/json_text.hpp"
#include "music/scan.hpp"
#include "nn/model_spec.hpp"
#include "tokenize/tokenizer.hpp"
#include "train/history.hpp"
#include "train/run_state.hpp"
#include "train/train_run.hpp"

namespace etude::app::serve {
namespace fs = std::filesystem;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

struct RunManager::Live {
  std::string name;
  std::atomic<bool> stop{false};
  std::thread thread;
  // Guarded by RunManager::m_:
  std::string state = "queued", message;
  std::vector<train::EpochRow> history;
  json progress;
  uint64_t progress_seq = 0;
  bool done = false;
};

struct RunManager::Snapshot {
  std::vector<train::EpochRow> history;
  std::string state, message;
  json progress;
  uint64_t progress_seq = 0;
};

struct RunManager::Cursor {
  size_t rows = 0;
  std::string state, message;
  uint64_t changes = 0, progress_seq = 0;
  bool first = true;
  Clock::time_point last_write = Clock::now();
};

namespace {
json read_json(const fs::path& path) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) return json::object();
  try {
    json j = json::parse(read_file_text(path), nullptr, false);
    return j.is_object() ? j : json::object();
  } catch (const Error&) {
    return json::object();
  }
}

// history.csv, read by its header (train/history.hpp).
std::vector<train::EpochRow> read_history(const fs::path& path) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) return {};
  return train::read_history_csv(read_file_text(path));
}

// The API state and message of a run that ended with this stop reason.
std::pair<std::string, std::string> outcome(const std::string& stop_reason, int epochs) {
  const std::string n = std::to_string(epochs) + (epochs == 1 ? " epoch" : " epochs");
  if (stop_reason == "interrupted") return {"stopped", "stopped after " + n + "; resume to continue"};
  if (stop_reason == "time limit") return {"finished", "time budget used after " + n + "; resume to train more"};
  if (stop_reason == "completed") return {"finished", "completed " + n};
  if (stop_reason == "early stop") return {"finished", "early stop after " + n + ": validation loss stopped improving"};
  if (stop_reason == "diverged") return {"failed", "training diverged after " + n};
  return {"stopped", "interrupted after " + n + " (the trainer ended while it ran); resume to continue"};
}

bool final_state(const std::string& s) { return s == "finished" || s == "failed" || s == "stopped"; }

std::string sse(const char* event, const json& data) {
  return std::string("event: ") + event + "\ndata: " + utf8_dump(data) + "\n\n";
}

// The RUN object from the files of a run folder (no live overlay).
json disk_run(const fs::path& dir, const std::string& name) {
  const json serve = read_json(dir / "serve.json"), summary = read_json(dir / "summary.json");
  const json config = summary.value("config", json::object());
  const std::vector<train::EpochRow> history = read_history(dir / "history.csv");
  // A fine-tuned run has the base's network and tokenizer (its summary names the tokenizer).
  const json from = serve.value("from", json());
  auto setting = [&](const char* key) {
    const std::string v = serve.value(key, std::string());
    return !v.empty() ? v : from.is_string() && std::string(key) == "preset" ? "" : config.value(key, std::string());
  };
  json run{{"name", name},
           {"preset", setting("preset")},
           {"tokenizer", setting("tokenizer")},
           {"from", from.is_string() ? from : json(nullptr)},
           {"minutes", serve.value("minutes", json())},
           {"history", history}};
  std::error_code ec;
  if (serve.contains("started")) run["started"] = serve["started"];
  else run["started"] = iso_time(std::chrono::file_clock::to_sys(fs::last_write_time(dir, ec)));
  std::string state = serve.value("state", std::string()), message = serve.value("message", std::string());
  if (state.empty() || !final_state(state)) {
    if (summary.contains("stop_reason")) std::tie(state, message) = outcome(summary["stop_reason"], summary.value("epochs_done", 0));
    else if (state.empty()) state = "failed", message = "no epoch was saved";
    else state = "stopped", message = "the server ended before the first epoch was saved";
  }
  run["state"] = state;
  run["message"] = message;
  json checkpoints = json::array();
  for (const auto& [cp, path] : run_checkpoints(dir)) checkpoints.push_back(cp);
  run["checkpoints"] = checkpoints;
  json plots = json::object();
  for (const char* kind : {"loss", "accuracy"})
    if (fs::is_regular_file(dir / "plots" / (std::string(kind) + ".png"), ec))
      plots[kind] = "/api/runs/" + name + "/plots/" + kind + ".png";
  run["plots"] = plots;
  return run;
}

// epoch, best_epoch and best_val_loss from the history (the last row marked best).
void add_bests(json& run) {
  const json& h = run["history"];
  run["epoch"] = h.empty() ? 0 : h.back().value("epoch", 0);
  run["best_epoch"] = 0;
  run["best_val_loss"] = nullptr;
  for (const json& r : h)
    if (r.value("events", std::string()).find("best") != std::string::npos)
      run["best_epoch"] = r["epoch"], run["best_val_loss"] = r["val_loss"];
}

double form_number(const httplib::Request& req, const char* field, double lo, double hi, double fallback) {
  const auto text = form_field(req, field);
  if (!text) return fallback;
  char* end = nullptr;
  const double v = std::strtod(text->c_str(), &end);
  if (text->empty() || *end != '\0' || !(v >= lo && v <= hi))
    throw HttpError(400, std::string(field) + ": \"" + text->substr(0, 40) + "\" is not a number in " +
                             [&] { std::ostringstream s; s << lo << ".." << hi; return s.str(); }());
  return v;
}

std::string one_of(const std::optional<std::string>& value, const char* field, const std::vector<std::string>& allowed,
                   const std::string& fallback) {
  if (!value) return fallback;
  if (std::find(allowed.begin(), allowed.end(), *value) != allowed.end()) return *value;
  std::string list;
  for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
  throw HttpError(400, std::string(field) + ": \"" + value->substr(0, 40) + "\" is not one of " + list);
}

void write_serve_json(const fs::path& dir, const json& update) {
  json j = read_json(dir / "serve.json");
  j.update(update);
  write_file_atomic(dir / "serve.json", utf8_dump(j, 2) + "\n");
}

size_t midi_files_in(const fs::path& dir) {
  try {
    return find_midi_files(dir).size();  // the files training will read (.mid, .midi, .kar, .rmi)
  } catch (const Error&) {
    return 0;
  }
}
}  // namespace

RunManager::RunManager(StyleCatalog& catalog, fs::path runs, fs::path state, fs::path data, int threads,
                       std::string device)
    : catalog_(catalog),
      runs_(std::move(runs)), uploads_(state / "uploads"), cache_(state / "cache"), data_(std::move(data)),
      threads_(threads), device_(std::move(device)) {
  fs::create_directories(runs_);
  fs::create_directories(uploads_);
  fs::create_directories(cache_);
}

RunManager::~RunManager() { shutdown(); }

void RunManager::shutdown() {
  std::thread t;
  {
    std::lock_guard lock(m_);
    closing_ = true;
    if (live_) {
      live_->stop = true;
      t = std::move(live_->thread);
    }
    ++changes_;
  }
  changed_.notify_all();
  if (t.joinable()) t.join();
}

json RunManager::data_folders() {
  json folders = json::array();
  for (const std::string& f : named_subfolders(data_)) folders.push_back({{"name", f}, {"files", midi_files_in(data_ / f)}});
  json base = nullptr;
  try {
    const fs::path file = catalog_.style_file(kBaseModel);
    base = {{"name", kBaseModel}, {"styles", catalog_.styles_of(file)}};
  } catch (const HttpError&) {  // not installed: the page trains from scratch
  }
  return {{"folders", folders}, {"base", base}};
}

fs::path RunManager::known_run(const std::string& name) const {
  const auto runs = named_subfolders(runs_);
  if (!valid_name(name) || std::find(runs.begin(), runs.end(), name) == runs.end())
    throw HttpError(404, "no run \"" + name.substr(0, 64) + "\" in the runs folder");
  return runs_ / name;
}

json RunManager::with_live(json run) {
  {
    std::lock_guard lock(m_);
    if (live_ && live_->name == run["name"] && !live_->done) {
      run["state"] = live_->state;
      run["message"] = live_->message;
      run["history"] = live_->history;
      if (!live_->progress.is_null()) run["progress"] = live_->progress;
    }
  }
  add_bests(run);
  return run;
}

json RunManager::list() {
  json runs = json::array();
  for (const std::string& name : named_subfolders(runs_)) runs.push_back(with_live(disk_run(runs_ / name, name)));
  return {{"runs", runs}};
}

json RunManager::get(const std::string& name) { return with_live(disk_run(known_run(name), name)); }

json RunManager::start(const httplib::Request& req) {
  if (request_bytes(req) > kRunUploadBytesMax + (1 << 20))
    throw HttpError(413, "a training upload is at most 32 MiB of MIDI files (this request has " +
                             std::to_string(request_bytes(req)) + " bytes)");
  const auto name_field = form_field(req, "name");
  if (!name_field) throw HttpError(400, "name: give the run a name (it becomes the style's name)");
  const std::string name = check_name(*name_field, "name");
  train::TrainConfig c;
  // "from": an installed model to fine-tune (the data's styles become new rows of it); absent or
  // empty: a new model from random weights, of the preset and tokenizer asked for.
  const auto from = form_field(req, "from");
  std::string base;
  if (from && !from->empty()) {
    base = check_name(*from, "from");
    c.from = catalog_.style_file(base);  // 404 naming the installed models
    if (form_field(req, "preset") || form_field(req, "tokenizer"))
      throw HttpError(400, "preset, tokenizer: a run fine-tuned from " + base + " keeps its network and tokenizer; "
                           "leave them out, or train from scratch (no \"from\")");
    if (const std::string error = catalog_.error_of(c.from); !error.empty())  // before anything is stored
      throw HttpError(400, "from: the model " + base + " cannot be read: " + error);
  }
  c.preset = one_of(form_field(req, "preset"), "preset", nn::preset_names(), "small");
  c.tokenizer = one_of(form_field(req, "tokenizer"), "tokenizer", tokenizer_names(), "beats");
  c.max_minutes = form_number(req, "minutes", 0.1, 120, 5);
  c.epochs = int(form_number(req, "epochs", 1, 100000, c.epochs));
  // Activation memory grows with batch x seq: bounded so one form cannot take gigabytes.
  c.batch = int(form_number(req, "batch", 1, 256, 0));
  c.seq = int(form_number(req, "seq", 2, 512, 0));
  if (int64_t(c.batch) * c.seq > 16384) throw HttpError(400, "batch x seq is at most 16384 tokens");
  c.threads = threads_;
  c.device = device_;
  const auto folder = form_field(req, "folder");
  const auto files = form_files(req, "files");
  if (folder.has_value() == !files.empty())
    throw HttpError(400, "give either \"folder\" (a folder from /api/data) or one or more \"files\" (MIDI uploads)");
  auto refuse_if_busy = [&] {
    if (live_ && !live_->done) throw HttpError(409, "a run is already training: " + live_->name + "; stop it or wait");
    std::error_code ec;
    if (fs::exists(runs_ / name, ec)) throw HttpError(409, "a run named " + name + " already exists; pick another name");
  };
  {
    std::lock_guard lock(m_);
    refuse_if_busy();  // before storing any upload
  }
  json source;
  if (folder) {
    const auto folders = named_subfolders(data_);
    if (std::find(folders.begin(), folders.end(), *folder) == folders.end())
      throw HttpError(400, "folder: \"" + folder->substr(0, 64) + "\" is not a folder under the data root (see /api/data)");
    c.corpus_dir = fs::absolute(data_ / *folder);
    source = {{"folder", *folder}};
  } else {
    if (files.size() > kRunFilesMax) throw HttpError(400, "files: at most 64 MIDI files per run (got " + std::to_string(files.size()) + ")");
    size_t total = 0;
    for (size_t i = 0; i < files.size(); ++i) {
      total += files[i]->content.size();
      if (files[i]->content.size() > kRunFileBytesMax)
        throw HttpError(413, "files: " + files[i]->filename.substr(0, 100) + " is larger than 2 MiB");
      parse_midi_upload(files[i]->content, "files[" + std::to_string(i) + "] (" + files[i]->filename.substr(0, 100) + ")");
    }
    if (total > kRunUploadBytesMax) throw HttpError(413, "files: at most 32 MiB in all");
    // Server-chosen names: uploads/up-<random>/<name>/001.mid ... (the folder's name is the style).
    c.corpus_dir = fs::absolute(uploads_ / make_id("up") / name);
    fs::create_directories(c.corpus_dir);
    for (size_t i = 0; i < files.size(); ++i) {
      char file[32];
      std::snprintf(file, sizeof file, "%03zu.mid", i + 1);
      write_file_atomic(c.corpus_dir / file, std::string_view(files[i]->content));
    }
    source = {{"files", files.size()}};
  }
  c.out = runs_ / name;
  c.cache = cache_ / (name + ".bin");
  {
    std::lock_guard lock(m_);
    try {
      refuse_if_busy();
    } catch (const HttpError&) {
      if (files.size()) fs::remove_all(c.corpus_dir.parent_path());
      throw;
    }
    fs::create_directories(c.out);
    json record{{"preset", c.preset}, {"tokenizer", c.tokenizer}, {"minutes", c.max_minutes},
                {"started", iso_time(std::chrono::system_clock::now())}, {"source", source},
                {"from", base.empty() ? json(nullptr) : json(base)}, {"state", "queued"}, {"message", ""}};
    if (!base.empty()) record["preset"] = record["tokenizer"] = "";  // the base's: filled from the run's summary
    write_serve_json(c.out, record);
    launch(name, c);
  }
  return get(name);
}

json RunManager::resume(const std::string& name) {
  const fs::path dir = known_run(name);
  train::TrainConfig c;
  {
    std::lock_guard lock(m_);
    if (live_ && !live_->done) throw HttpError(409, "a run is already training: " + live_->name + "; stop it or wait");
    std::error_code ec;
    const json summary = read_json(dir / "summary.json");
    if (!fs::is_regular_file(dir / train::kStateFile, ec) || !summary.contains("config"))
      throw HttpError(409, "run " + name + " has no saved state to resume (no epoch was completed)");
    c.resume = true;
    c.epochs = 0;  // the run's own
    c.corpus_dir = summary["config"].value("corpus_dir", std::string());
    c.out = dir;
    c.cache = cache_ / (name + ".bin");
    c.threads = threads_;
    c.device = device_;
    const json minutes = read_json(dir / "serve.json").value("minutes", json());
    c.max_minutes = minutes.is_number() ? minutes.get<double>() : 5.0;
    write_serve_json(dir, {{"state", "queued"}, {"message", ""}, {"resumed", iso_time(std::chrono::system_clock::now())}});
    launch(name, c);
  }
  return get(name);
}

json RunManager::stop(const std::string& name) {
  known_run(name);
  {
    std::lock_guard lock(m_);
    if (!live_ || live_->name != name || live_->done) throw HttpError(409, "run " + name + " is not training");
    live_->stop = true;
    live_->message = "stopping: the epoch in progress is being saved";
    ++changes_;
  }
  changed_.notify_all();
  return get(name);
}

void RunManager::launch(const std::string& name, train::TrainConfig config) {
  if (closing_) throw HttpError(503, "the server is shutting down");
  if (live_ && live_->thread.joinable()) live_->thread.join();  // done: it only has to return
  live_ = std::make_unique<Live>();
  live_->name = name;
  live_->history = read_history(config.out / "history.csv");
  ++changes_;
  changed_.notify_all();
  live_->thread = std::thread([this, l = live_.get(), config] { train_main(*l, config); });
}

void RunManager::train_main(Live& l, train::TrainConfig config) {
  std::string state, message;
  auto on_progress = [&](const train::TrainProgress& p) {
    using Kind = train::TrainProgress::Kind;
    {
      std::lock_guard lock(m_);
      if (p.kind == Kind::step) {
        l.progress = {{"epoch", p.epoch}, {"epochs", p.epochs}, {"batch", p.batch}, {"batches", p.batches},
                      {"loss", p.loss}, {"tokens_per_second", p.tokens_per_second}, {"eta_seconds", p.eta_seconds}};
        ++l.progress_seq;
        if (l.state != "queued") return;
        l.state = "running";
      } else if (p.kind == Kind::epoch) {
        l.history.push_back(*p.row);
      } else {
        l.message = p.message;
      }
      ++changes_;
    }
    changed_.notify_all();
  };
  try {
    const train::TrainResult r = train::run_training(config, on_progress, [&l] { return l.stop.load(); });
    std::tie(state, message) = outcome(r.stop_reason, r.epochs_done);
    bool closing;
    {
      std::lock_guard lock(m_);
      closing = closing_;
    }
    if (r.stop_reason == "interrupted" && closing) message = "the server shut down after " + message.substr(14);
  } catch (const std::exception& e) {
    state = "failed", message = e.what();
  }
  try {
    write_serve_json(config.out, {{"state", state}, {"message", message}});
  } catch (const Error&) {
  }
  {
    std::lock_guard lock(m_);
    l.state = state, l.message = message, l.done = true;
    ++changes_;
  }
  changed_.notify_all();
}

fs::path RunManager::plot(const std::string& name, const std::string& kind) {
  const fs::path dir = known_run(name);
  std::error_code ec;
  if ((kind == "loss" || kind == "accuracy") && fs::is_regular_file(dir / "plots" / (kind + ".png"), ec))
    return dir / "plots" / (kind + ".png");
  throw HttpError(404, "run " + name + " has no " + kind.substr(0, 20) + " plot yet (plots are drawn at checkpoints)");
}

RunManager::Snapshot RunManager::snapshot(const std::string& name) {
  {
    std::lock_guard lock(m_);
    if (live_ && live_->name == name && !live_->done)
      return {live_->history, live_->state, live_->message, live_->progress, live_->progress_seq};
  }
  json run = disk_run(runs_ / name, name);
  return {run["history"].get<std::vector<train::EpochRow>>(), run["state"], run["message"], nullptr, 0};
}

void RunManager::events(const std::string& name, httplib::Response& res) {
  known_run(name);
  if (++streams_ > kStreamsMax) {
    --streams_;
    throw HttpError(503, "too many open event streams; close one and try again");
  }
  auto cursor = std::make_shared<Cursor>();
  res.set_header("Cache-Control", "no-cache");
  res.set_chunked_content_provider(
      "text/event-stream",
      [this, name, cursor](size_t, httplib::DataSink& sink) { return pump(name, *cursor, sink); },
      [this](bool) { --streams_; });
}

// One turn of an event stream: waits for an epoch or state change (at most half a second, so
// progress goes out at most twice a second), then writes what is new; ends after a final state.
bool RunManager::pump(const std::string& name, Cursor& c, httplib::DataSink& sink) {
  bool closing;
  {
    std::unique_lock lock(m_);
    if (!c.first) changed_.wait_for(lock, std::chrono::milliseconds(500), [&] { return changes_ != c.changes || closing_; });
    c.changes = changes_;
    closing = closing_;
  }
  const Snapshot s = snapshot(name);
  std::string out;
  for (; c.rows < s.history.size(); ++c.rows) out += sse("epoch", s.history[c.rows]);
  if (c.first || s.state != c.state || s.message != c.message) {
    out += sse("state", {{"state", s.state}, {"message", s.message}});
    c.state = s.state, c.message = s.message;
  }
  if (!s.progress.is_null() && s.progress_seq != c.progress_seq) {
    out += sse("progress", s.progress);
    c.progress_seq = s.progress_seq;
  }
  c.first = false;
  const auto now = Clock::now();
  if (out.empty() && now - c.last_write > std::chrono::seconds(3)) out = ": keep-alive\n\n";  // finds closed clients
  if (!out.empty()) {
    if (!sink.write(out.data(), out.size())) return false;
    c.last_write = now;
  }
  if (final_state(s.state) || closing) sink.done();
  return true;
}

}  // namespace etude::app::serve
