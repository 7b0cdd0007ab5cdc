// The server's run folders and their state; see serve_run_store.hpp.
#include "app/serve_run_store.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <utility>

#include "app/serve_http.hpp"
#include "app/serve_styles.hpp"
#include "base/enum_words.hpp"
#include "base/error.hpp"
#include "base/file_io.hpp"
#include "base/json_text.hpp"

namespace etude::app::serve {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {
constexpr EnumWords<RunPhase, 5> kPhases{{{{RunPhase::queued, "queued"}, {RunPhase::running, "running"},
                                           {RunPhase::finished, "finished"}, {RunPhase::failed, "failed"},
                                           {RunPhase::stopped, "stopped"}}}};
constexpr const char* kServeFile = "serve.json";
constexpr std::array<const char*, 2> kPlots{"loss", "accuracy"};

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

void write_json(const fs::path& path, const json& j) { write_file_atomic(path, utf8_dump(j, 2) + "\n"); }

// The status of a run not in progress: the final state the server saved, else what the record says.
RunStatus disk_status(const json& serve, const train::RunRecord& record) {
  const std::string saved = serve.value("state", std::string());
  const std::optional<RunPhase> phase = parse_phase(saved);
  if (phase && final_phase(*phase)) return {*phase, serve.value("message", std::string())};
  if (record.summarized) return outcome(record.stop, record.epochs_done);
  if (saved.empty()) return {RunPhase::failed, "no epoch was saved"};
  return {RunPhase::stopped, "the server ended before the first epoch was saved"};
}
}  // namespace

std::string_view phase_text(RunPhase phase) { return kPhases.text(phase); }
std::optional<RunPhase> parse_phase(std::string_view text) { return kPhases.parse(text); }

bool final_phase(RunPhase phase) {
  return phase == RunPhase::finished || phase == RunPhase::failed || phase == RunPhase::stopped;
}

RunStatus outcome(const std::optional<train::StopReason>& stop, int epochs, bool server_closing) {
  using train::StopReason;
  const std::string n = std::to_string(epochs) + (epochs == 1 ? " epoch" : " epochs");
  if (!stop) return {RunPhase::stopped, "interrupted after " + n + " (the trainer ended while it ran); resume to continue"};
  switch (*stop) {
    case StopReason::interrupted:
      return {RunPhase::stopped, (server_closing ? "the server shut down after " : "stopped after ") + n +
                                     "; resume to continue"};
    case StopReason::max_minutes: return {RunPhase::finished, "time budget used after " + n + "; resume to train more"};
    case StopReason::epochs_done: return {RunPhase::finished, "completed " + n};
    case StopReason::patience: return {RunPhase::finished, "early stop after " + n + ": validation loss stopped improving"};
    case StopReason::diverged: return {RunPhase::failed, "training diverged after " + n};
  }
  return {RunPhase::failed, "ended after " + n};
}

RunStore::RunStore(fs::path dir) : dir_(std::move(dir)) { fs::create_directories(dir_); }

std::vector<std::string> RunStore::names() const { return named_subfolders(dir_); }

bool RunStore::exists(const std::string& name) const {
  std::error_code ec;
  return fs::exists(dir_ / name, ec);
}

fs::path RunStore::folder(const std::string& name) const {
  const auto runs = names();
  if (!valid_name(name) || std::find(runs.begin(), runs.end(), name) == runs.end())
    throw HttpError(404, "no run \"" + name.substr(0, 64) + "\" in the runs folder");
  return dir_ / name;
}

fs::path RunStore::create(const std::string& name, const json& serve) {
  fs::create_directories(dir_ / name);
  update(name, serve);
  return dir_ / name;
}

void RunStore::update(const std::string& name, const json& fields) {
  json j = read_json(dir_ / name / kServeFile);
  j.update(fields);
  write_json(dir_ / name / kServeFile, j);
}

json RunStore::serve_json(const std::string& name) const { return read_json(dir_ / name / kServeFile); }

LiveRun RunStore::read(const std::string& name) const {
  LiveRun r;
  r.record = train::read_run_record(dir_ / name);
  r.status = disk_status(serve_json(name), r.record);
  return r;
}

json RunStore::run_json(const std::string& name, const LiveRun* live) const {
  const fs::path dir = dir_ / name;
  const json serve = serve_json(name);
  const LiveRun disk = read(name);
  const LiveRun& shown = live ? *live : disk;
  const json config = disk.record.config.is_object() ? disk.record.config : json::object();
  // A fine-tuned run has the base's network and tokenizer (its summary names the tokenizer).
  const json from = serve.value("from", json());
  auto setting = [&](const char* key) {
    const std::string v = serve.value(key, std::string());
    return !v.empty() ? v : from.is_string() && std::string(key) == "preset" ? "" : config.value(key, std::string());
  };
  const train::RunRecord& record = shown.record;
  json run{{"name", name},
           {"preset", setting("preset")},
           {"tokenizer", setting("tokenizer")},
           {"from", from.is_string() ? from : json(nullptr)},
           {"minutes", serve.value("minutes", json())},
           {"history", record.history},
           {"state", std::string(phase_text(shown.status.phase))},
           {"message", shown.status.message},
           {"epoch", record.history.empty() ? 0 : record.history.back().epoch},
           {"best_epoch", record.best_epoch},
           {"best_val_loss", record.best_epoch ? json(record.best_val_loss) : json(nullptr)}};
  std::error_code ec;
  if (serve.contains("started")) run["started"] = serve["started"];
  else run["started"] = iso_time(std::chrono::file_clock::to_sys(fs::last_write_time(dir, ec)));
  if (live && !live->progress.is_null()) run["progress"] = live->progress;
  json checkpoints = json::array();
  for (const auto& [cp, path] : run_checkpoints(dir)) checkpoints.push_back(cp);
  run["checkpoints"] = checkpoints;
  json plots = json::object();
  for (const char* kind : kPlots)
    if (fs::is_regular_file(dir / "plots" / (std::string(kind) + ".png"), ec))
      plots[kind] = "/api/runs/" + name + "/plots/" + kind + ".png";
  run["plots"] = plots;
  return run;
}

fs::path RunStore::plot(const std::string& name, const std::string& kind) const {
  const fs::path dir = folder(name);
  std::error_code ec;
  if ((kind == kPlots[0] || kind == kPlots[1]) && fs::is_regular_file(dir / "plots" / (kind + ".png"), ec))
    return dir / "plots" / (kind + ".png");
  throw HttpError(404, "run " + name + " has no " + kind.substr(0, 20) + " plot yet (plots are drawn at checkpoints)");
}

}  // namespace etude::app::serve
