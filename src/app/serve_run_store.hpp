// The run folders of `etude serve`: each holds what `etude train` writes (read back as the typed
// run record: history, best epoch, checkpoints, stop reason) plus serve.json (how the server
// started it: preset, budget, source, and the state it last saw). A run's API state is derived
// from those here, and its RUN object made, with the run in progress laid over its files.
#pragma once
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "train/run_record.hpp"

namespace etude::app::serve {

// A run's state in the API: "queued", "running", then one of the final three.
enum class RunPhase { queued, running, finished, failed, stopped };
std::string_view phase_text(RunPhase phase);
std::optional<RunPhase> parse_phase(std::string_view text);
bool final_phase(RunPhase phase);

struct RunStatus {
  RunPhase phase = RunPhase::queued;
  std::string message;
  friend bool operator==(const RunStatus&, const RunStatus&) = default;
};
// How a run that ended this way is shown (nullopt: its trainer ended while it ran);
// server_closing: it was interrupted by the server shutting down.
RunStatus outcome(const std::optional<train::StopReason>& stop, int epochs, bool server_closing = false);

// What the server knows of its run in progress, laid over the run folder's files.
struct LiveRun {
  RunStatus status;
  train::RunRecord record;
  nlohmann::json progress;    // the last step's; null before the first
  uint64_t progress_seq = 0;  // counts progress updates
};

class RunStore {
 public:
  explicit RunStore(std::filesystem::path dir);  // creates the folder
  std::vector<std::string> names() const;
  bool exists(const std::string& name) const;
  std::filesystem::path path(const std::string& name) const { return dir_ / name; }  // a valid name's
  std::filesystem::path folder(const std::string& name) const;  // HttpError 404 unless a run folder
  // A new run's folder with its serve.json; its own stored file.
  std::filesystem::path create(const std::string& name, const nlohmann::json& serve);
  // Sets these fields of serve.json, keeping the others.
  void update(const std::string& name, const nlohmann::json& fields);
  nlohmann::json serve_json(const std::string& name) const;  // {} when missing or damaged

  // The run's status and record from its files (a run not in progress).
  LiveRun read(const std::string& name) const;
  // The API's RUN object: the folder's files, with `live` over them when given.
  nlohmann::json run_json(const std::string& name, const LiveRun* live) const;
  // A graph of the run (kind "loss" or "accuracy"); HttpError 404 before it is drawn.
  std::filesystem::path plot(const std::string& name, const std::string& kind) const;

 private:
  std::filesystem::path dir_;
};

}  // namespace etude::app::serve
