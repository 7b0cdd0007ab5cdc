// The styles `etude serve` can compose with: every model file in the models folder, then every
// run in the runs folder with a best.safetensors; a conditioned model (style rows, etude.styles)
// is listed with each of its rows. Requests name them, and only names found by listing those
// folders ever become paths: a style or blend text is matched against the rows read from the
// listed files, never joined to a folder.
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

// The installed base model the Train tab fine-tunes from by default (models folder).
inline constexpr const char* kBaseModel = "piano";

// What a compose request composes with: a model file and the style (or blend) inside it.
struct StyleTarget {
  std::filesystem::path file;
  std::string model;                // the model's name (file stem) or the run's name
  std::vector<std::string> styles;  // the model's style rows; empty: not conditioned
  std::string blend;                // the style text asked of those rows ("": every row equally)
};

class StyleCatalog {
 public:
  StyleCatalog(std::filesystem::path models, std::filesystem::path runs)
      : models_(std::move(models)), runs_(std::move(runs)) {}
  // {"styles": [ENTRY, ...]}: per model file {"name", "kind": "model", "source", "tokenizer",
  // "card", "styles_of_model"} (or {"name", "kind", "source", "error"}), followed by one
  // {"name", "kind": "style", "model", "source", "tokenizer", "styles_of_model"} per style row
  // (and "run" for a run's rows); the card is the model entry's.
  nlohmann::json list();
  // The file of a models-folder model / a run's checkpoint; HttpError 404 naming what exists.
  std::filesystem::path style_file(const std::string& name) const;
  std::filesystem::path run_file(const std::string& run, const std::string& checkpoint) const;
  // {"style": TEXT} on its own, as `etude compose --style TEXT` finds it (resolve_style's rule): a
  // model file named TEXT (its row of that name, if it has one), else the first model (by name)
  // whose rows hold every name of the blend. Over this catalog's cached listing rather than by
  // calling resolve_style, which loads every model file per call and joins the text to the folder.
  // HttpError 400 naming the installed styles for a malformed text or an unknown style.
  StyleTarget resolve(const std::string& text);
  // The style rows of a model file (cached; empty when it has none or cannot be read).
  std::vector<std::string> styles_of(const std::filesystem::path& file);
  // Why a model file cannot be read ("" when it can; cached).
  std::string error_of(const std::filesystem::path& file);
  // "Chopin, Mozart (in piano); chopin, mozart (model files)": for error messages.
  std::string known_styles();
  const std::filesystem::path& models_dir() const { return models_; }

 private:
  nlohmann::json describe(const std::filesystem::path& file);  // cached by path, size and time
  std::filesystem::path models_, runs_;
  std::mutex m_;
  std::map<std::string, nlohmann::json> cards_;
};

// A style text from a request: at most 512 characters, no control characters, no / or \;
// HttpError 400 naming the field otherwise.
const std::string& check_style_text(const std::string& text, const std::string& field);

}  // namespace etude::app::serve
