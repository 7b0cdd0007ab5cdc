// The run's graphs for people, drawn by gnuplot from the history (history.hpp writes history.csv):
// plots/loss.png, plots/accuracy.png (checkpoint epochs marked, the copy measure on the accuracy
// graph) and plots/training.gif (the graphs as they stood at each checkpoint).
#pragma once
#include <filesystem>
#include <span>
#include <string>

#include "train/history.hpp"

namespace etude::train {

// Draws the three graphs into out/plots, each written atomically. Returns "" on success, else why
// not (gnuplot missing or failing): plotting never stops a run.
std::string draw_plots(const std::filesystem::path& out, std::span<const EpochRow> rows, int checkpoint_every);

}  // namespace etude::train
