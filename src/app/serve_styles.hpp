// The styles `etude serve` can compose with: every model file in the models folder, then every
// run in the runs folder with a best.safetensors; requests name them, and only names found by
// listing those folders ever become paths.
#pragma once
#include <filesystem>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace etude::app::serve {

// A run's model files by checkpoint name: "best", "last", then "epoch-0010", ... in order.
std::vector<std::pair<std::string, std::filesystem::path>> run_checkpoints(const std::filesystem::path& run_dir);

// Subfolders of dir whose names are valid request names, sorted.
std::vector<std::string> named_subfolders(const std::filesystem::path& dir);

class StyleCatalog {
 public:
  StyleCatalog(std::filesystem::path models, std::filesystem::path runs)
      : models_(std::move(models)), runs_(std::move(runs)) {}
  // {"styles": [{"name", "source", "tokenizer", "card"} or {"name", "source", "error"}]}
  nlohmann::json list();
  // The file of a models-folder style / a run's checkpoint; HttpError 404 naming what exists.
  std::filesystem::path style_file(const std::string& name) const;
  std::filesystem::path run_file(const std::string& run, const std::string& checkpoint) const;

 private:
  nlohmann::json describe(const std::filesystem::path& file);  // cached by path, size and time
  std::filesystem::path models_, runs_;
  std::mutex m_;
  std::map<std::string, nlohmann::json> cards_;
};

}  // namespace etude::app::serve
