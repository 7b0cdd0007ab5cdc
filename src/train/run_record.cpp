// A run folder's record, read back typed; see run_record.hpp.
#include "train/run_record.hpp"

#include <nlohmann/json.hpp>

#include "base/error.hpp"
#include "base/file_io.hpp"
#include "train/history.hpp"

namespace etude::train {

void RunRecord::add(const EpochRow& row) {
  if (row.events.has(EpochEvent::best)) best_epoch = row.epoch, best_val_loss = row.val_loss;
  if (row.events.has(EpochEvent::checkpoint)) checkpoints.push_back(row.epoch);
  history.push_back(row);
}

RunRecord run_record(std::vector<EpochRow> history) {
  RunRecord r;
  for (const EpochRow& row : history) r.add(row);
  return r;
}

RunRecord read_run_record(const std::filesystem::path& run_dir) {
  RunRecord r = run_record(read_history(run_dir));
  std::error_code ec;
  if (!std::filesystem::is_regular_file(run_dir / kSummaryFile, ec)) return r;
  nlohmann::json summary;
  try {
    summary = nlohmann::json::parse(read_file_text(run_dir / kSummaryFile), nullptr, false);
  } catch (const Error&) {
    return r;
  }
  if (!summary.is_object()) return r;
  if (summary.contains("config") && summary["config"].is_object()) r.config = summary["config"];
  if (!summary.contains("stop_reason") || !summary["stop_reason"].is_string()) return r;
  r.summarized = true;
  r.stop = parse_stop_reason(summary["stop_reason"].get<std::string>());
  const auto epochs = summary.find("epochs_done");
  r.epochs_done = epochs != summary.end() && epochs->is_number_integer() ? epochs->get<int>() : 0;
  return r;
}

}  // namespace etude::train
