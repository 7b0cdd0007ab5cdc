// history.csv, the run's record of its epochs: written by the training loop after every epoch and
// read back by the server (and anyone else) by its header's column names, so columns can be added.
#pragma once
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "train/train_config.hpp"

namespace etude::train {

// One header line, then a row per epoch: the numbers, the quoted events, the losses by token kind.
std::string history_csv(std::span<const EpochRow> rows);
// The rows back from history_csv's text (or an older file's: missing columns keep their defaults).
// Malformed lines are skipped; an empty cell reads as -1.
std::vector<EpochRow> read_history_csv(const std::string& text);
// RUN/history.csv written (atomically) and read back; a missing file reads as no rows.
inline constexpr const char* kHistoryFile = "history.csv";
void write_history(const std::filesystem::path& run_dir, std::span<const EpochRow> rows);
std::vector<EpochRow> read_history(const std::filesystem::path& run_dir);
// A number as the history and the graphs' data write it (%.6g; "nan" when not finite).
std::string history_number(double v);

}  // namespace etude::train
