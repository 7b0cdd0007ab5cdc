// Training runs for `etude serve`; see serve_runs.hpp. The run in progress lives here (its stop
// source, its thread, what its progress callback reported); everything on disk is the run store's.
#include "app/serve_runs.hpp"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <sstream>
#include <stop_token>
#include <thread>

#include "app/serve_http.hpp"
#include "base/error.hpp"
#include "music/scan.hpp"
#include "nn/model_spec.hpp"
#include "tokenize/tokenizer.hpp"
#include "train/history.hpp"
#include "train/run_state.hpp"
#include "train/train_run.hpp"

namespace etude::app::serve {
namespace fs = std::filesystem;
using nlohmann::json;

struct RunManager::Live {
  std::string name;
  std::stop_source stop;
  std::thread thread;
  // Guarded by RunManager::m_:
  LiveRun run;
  bool done = false;
};

namespace {
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
    : catalog_(catalog), store_(std::move(runs)), uploads_(state / "uploads"), cache_(state / "cache"),
      data_(std::move(data)), threads_(threads), device_(std::move(device)),
      events_([this](const std::string& name) { return snapshot(name); }) {
  fs::create_directories(cache_);
}

RunManager::~RunManager() { shutdown(); }

void RunManager::shutdown() {
  std::thread t;
  {
    std::lock_guard lock(m_);
    closing_ = true;
    if (live_) {
      live_->stop.request_stop();
      t = std::move(live_->thread);
    }
  }
  events_.close();
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

LiveRun RunManager::snapshot(const std::string& name) {
  {
    std::lock_guard lock(m_);
    if (live_ && live_->name == name && !live_->done) return live_->run;
  }
  return store_.read(name);
}

json RunManager::list() {
  json runs = json::array();
  for (const std::string& name : store_.names()) runs.push_back(run_json(name));
  return {{"runs", runs}};
}

json RunManager::get(const std::string& name) {
  store_.folder(name);  // 404
  return run_json(name);
}

json RunManager::run_json(const std::string& name) {
  std::optional<LiveRun> live;
  {
    std::lock_guard lock(m_);
    if (live_ && live_->name == name && !live_->done) live = live_->run;
  }
  return store_.run_json(name, live ? &*live : nullptr);
}

void RunManager::refuse_if_busy(const std::string& name) const {
  if (live_ && !live_->done) throw HttpError(409, "a run is already training: " + live_->name + "; stop it or wait");
  if (store_.exists(name)) throw HttpError(409, "a run named " + name + " already exists; pick another name");
}

// The run a POST /api/runs form asks for (its data not yet chosen); base: the model it fine-tunes.
train::TrainConfig RunManager::config_from_form(const httplib::Request& req, const std::string& name,
                                                std::string& base) {
  train::TrainConfig c;
  // "from": an installed model to fine-tune (the data's styles become new rows of it); absent or
  // empty: a new model from random weights, of the preset and tokenizer asked for.
  const auto from = form_field(req, "from");
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
  c.out = store_.path(name);
  c.cache = cache_ / (name + ".bin");
  return c;
}

json RunManager::start(const httplib::Request& req) {
  UploadStore::check_request(req);
  const auto name_field = form_field(req, "name");
  if (!name_field) throw HttpError(400, "name: give the run a name (it becomes the style's name)");
  const std::string name = check_name(*name_field, "name");
  std::string base;
  train::TrainConfig c = config_from_form(req, name, base);
  const auto folder = form_field(req, "folder");
  const auto files = form_files(req, "files");
  if (folder.has_value() == !files.empty())
    throw HttpError(400, "give either \"folder\" (a folder from /api/data) or one or more \"files\" (MIDI uploads)");
  {
    std::lock_guard lock(m_);
    refuse_if_busy(name);  // before storing any upload
  }
  json source;
  if (folder) {
    const auto folders = named_subfolders(data_);
    if (std::find(folders.begin(), folders.end(), *folder) == folders.end())
      throw HttpError(400, "folder: \"" + folder->substr(0, 64) + "\" is not a folder under the data root (see /api/data)");
    c.corpus_dir = fs::absolute(data_ / *folder);
    source = {{"folder", *folder}};
  } else {
    UploadStore::check(files);
    c.corpus_dir = uploads_.store(files, name);
    source = {{"files", files.size()}};
  }
  {
    std::lock_guard lock(m_);
    try {
      refuse_if_busy(name);
    } catch (const HttpError&) {
      if (files.size()) UploadStore::discard(c.corpus_dir);
      throw;
    }
    json record{{"preset", c.preset}, {"tokenizer", c.tokenizer}, {"minutes", c.max_minutes},
                {"started", iso_time(std::chrono::system_clock::now())}, {"source", source},
                {"from", base.empty() ? json(nullptr) : json(base)}, {"state", "queued"}, {"message", ""}};
    if (!base.empty()) record["preset"] = record["tokenizer"] = "";  // the base's: filled from the run's summary
    store_.create(name, record);
    launch(name, c);
  }
  return get(name);
}

json RunManager::resume(const std::string& name) {
  const fs::path dir = store_.folder(name);
  train::TrainConfig c;
  {
    std::lock_guard lock(m_);
    if (live_ && !live_->done) throw HttpError(409, "a run is already training: " + live_->name + "; stop it or wait");
    std::error_code ec;
    const train::RunRecord record = train::read_run_record(dir);
    if (!fs::is_regular_file(dir / train::kStateFile, ec) || !record.config.is_object())
      throw HttpError(409, "run " + name + " has no saved state to resume (no epoch was completed)");
    c.resume = true;
    c.epochs = 0;  // the run's own
    c.corpus_dir = record.config.value("corpus_dir", std::string());
    c.out = dir;
    c.cache = cache_ / (name + ".bin");
    c.threads = threads_;
    c.device = device_;
    const json minutes = store_.serve_json(name).value("minutes", json());
    c.max_minutes = minutes.is_number() ? minutes.get<double>() : 5.0;
    store_.update(name, {{"state", "queued"}, {"message", ""}, {"resumed", iso_time(std::chrono::system_clock::now())}});
    launch(name, c);
  }
  return get(name);
}

json RunManager::stop(const std::string& name) {
  store_.folder(name);
  {
    std::lock_guard lock(m_);
    if (!live_ || live_->name != name || live_->done) throw HttpError(409, "run " + name + " is not training");
    live_->stop.request_stop();
    live_->run.status.message = "stopping: the epoch in progress is being saved";
  }
  events_.changed();
  return get(name);
}

void RunManager::launch(const std::string& name, train::TrainConfig config) {
  if (closing_) throw HttpError(503, "the server is shutting down");
  if (live_ && live_->thread.joinable()) live_->thread.join();  // done: it only has to return
  live_ = std::make_unique<Live>();
  live_->name = name;
  live_->run.record = train::run_record(train::read_history(config.out));
  events_.changed();
  live_->thread = std::thread([this, l = live_.get(), config] { train_main(*l, config); });
}

void RunManager::train_main(Live& l, train::TrainConfig config) {
  auto on_progress = [&](const train::TrainProgress& p) {
    using Kind = train::TrainProgress::Kind;
    {
      std::lock_guard lock(m_);
      if (p.kind == Kind::step) {
        l.run.progress = {{"epoch", p.epoch}, {"epochs", p.epochs}, {"batch", p.batch}, {"batches", p.batches},
                          {"loss", p.loss}, {"tokens_per_second", p.tokens_per_second}, {"eta_seconds", p.eta_seconds}};
        ++l.run.progress_seq;
        if (l.run.status.phase != RunPhase::queued) return;
        l.run.status.phase = RunPhase::running;
      } else if (p.kind == Kind::epoch) {
        l.run.record.add(*p.row);
      } else {
        l.run.status.message = p.message;
      }
    }
    events_.changed();
  };
  RunStatus status;
  try {
    const train::TrainResult r = train::run_training(config, on_progress, l.stop.get_token());
    std::lock_guard lock(m_);
    status = outcome(r.stop_reason, r.epochs_done, closing_);
  } catch (const std::exception& e) {
    status = {RunPhase::failed, e.what()};
  }
  try {
    store_.update(l.name, {{"state", std::string(phase_text(status.phase))}, {"message", status.message}});
  } catch (const Error&) {
  }
  {
    std::lock_guard lock(m_);
    l.run.status = status, l.done = true;
  }
  events_.changed();
}

void RunManager::events(const std::string& name, httplib::Response& res) {
  store_.folder(name);
  events_.open(name, res);
}

fs::path RunManager::plot(const std::string& name, const std::string& kind) { return store_.plot(name, kind); }

}  // namespace etude::app::serve
