// history.csv written and read; see history.hpp.
#include "train/history.hpp"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <sstream>

#include "base/file_io.hpp"

namespace etude::train {
namespace {
// The columns, in file order; the events cell is quoted (its own quotes become apostrophes).
const char* const kColumns[] = {"epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy",
                                "val_perplexity", "lr", "seconds", "tokens_per_second", "copied_share",
                                "events", "val_pitch_loss", "val_duration_loss", "val_velocity_loss",
                                "val_time_loss"};

std::vector<std::string> cells_of(const std::string& line) {
  std::vector<std::string> cells(1);
  bool quoted = false;
  for (char ch : line) {
    if (ch == '"') quoted = !quoted;
    else if (ch == ',' && !quoted) cells.emplace_back();
    else cells.back() += ch;
  }
  return cells;
}
}  // namespace

std::string history_number(double v) {
  if (!std::isfinite(v)) return "nan";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

std::string history_csv(std::span<const EpochRow> rows) {
  std::string out;
  for (const char* c : kColumns) {
    if (!out.empty()) out += ',';
    out += c;
  }
  out += "\n";
  auto opt = [](double v) { return v >= 0 ? history_number(v) : std::string(); };
  for (const EpochRow& r : rows) {
    std::string ev = r.events.text();
    for (char& c : ev)
      if (c == '"') c = '\'';
    out += std::to_string(r.epoch) + "," + history_number(r.train_loss) + "," + history_number(r.train_accuracy) + "," +
           history_number(r.val_loss) + "," + history_number(r.val_accuracy) + "," +
           history_number(std::exp(r.val_loss)) + "," + history_number(r.lr) + "," + history_number(r.seconds) + "," +
           history_number(r.tokens_per_second) + "," + opt(r.copied_share) + ",\"" + ev + "\"," +
           opt(r.val_pitch_loss) + "," + opt(r.val_duration_loss) + "," + opt(r.val_velocity_loss) + "," +
           opt(r.val_time_loss) + "\n";
  }
  return out;
}

std::vector<EpochRow> read_history_csv(const std::string& text) {
  std::istringstream in(text);
  std::string line;
  std::vector<EpochRow> rows;
  if (!std::getline(in, line)) return rows;
  const std::vector<std::string> header = cells_of(line);
  while (std::getline(in, line)) {
    const std::vector<std::string> cells = cells_of(line);
    if (cells.size() != header.size()) continue;
    EpochRow r;
    for (size_t i = 0; i < header.size(); ++i) {
      const std::string& h = header[i];
      if (h == "events") {
        r.events = cells[i];
        continue;
      }
      const double v = cells[i].empty() ? -1.0 : std::strtod(cells[i].c_str(), nullptr);
      if (h == "epoch") r.epoch = int(v);
      else if (h == "train_loss") r.train_loss = v;
      else if (h == "train_accuracy") r.train_accuracy = v;
      else if (h == "val_loss") r.val_loss = v;
      else if (h == "val_accuracy") r.val_accuracy = v;
      else if (h == "lr") r.lr = v;
      else if (h == "seconds") r.seconds = v;
      else if (h == "tokens_per_second") r.tokens_per_second = v;
      else if (h == "copied_share") r.copied_share = v;
      else if (h == "val_pitch_loss") r.val_pitch_loss = v;
      else if (h == "val_duration_loss") r.val_duration_loss = v;
      else if (h == "val_velocity_loss") r.val_velocity_loss = v;
      else if (h == "val_time_loss") r.val_time_loss = v;
    }
    rows.push_back(std::move(r));
  }
  return rows;
}

void write_history(const std::filesystem::path& run_dir, std::span<const EpochRow> rows) {
  write_file_atomic(run_dir / kHistoryFile, history_csv(rows));
}

std::vector<EpochRow> read_history(const std::filesystem::path& run_dir) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(run_dir / kHistoryFile, ec)) return {};
  return read_history_csv(read_file_text(run_dir / kHistoryFile));
}

}  // namespace etude::train
