// Fine-tuning: the base model a run starts from (`etude train --from`), its tokenizer and style
// rows, and the model that starts the run: the base's weights with its style rows kept and a row
// for each new style (the mean of the base's rows, or zero when it had none).
#pragma once
#include <cstddef>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "nn/network.hpp"

namespace etude::train {

struct BaseModel {
  std::filesystem::path path;
  nn::Model model;
  nlohmann::json tokenizer;         // its etude.tokenizer
  std::vector<std::string> styles;  // its etude.styles (empty: an unconditioned model)
};

// FormatError naming the file for a corrupt or non-Etude model, or one without a tokenizer.
BaseModel load_base_model(const std::filesystem::path& path);

// The run's first model: `spec` (the base's, with styles set to the run's style count) filled from
// the base: every tensor copied, style rows 0..base.styles-1 copied, later rows the base rows' mean.
nn::Model start_from_base(const BaseModel& base, const nn::ModelSpec& spec);

// The parameter ranges [begin, end) that FineTune::styles trains: the style rows listed, sorted.
std::vector<std::pair<size_t, size_t>> style_row_ranges(const nn::Model& model, const std::vector<int>& rows);
// Zeroes every gradient outside the ranges, which must be sorted (before the optimizer step: the
// rest keeps its weights).
void keep_gradients(std::span<float> grads, const std::vector<std::pair<size_t, size_t>>& ranges);

}  // namespace etude::train
