// A style model: one model file (safetensors) opened for composing, with everything that travels
// inside it (network, tokenizer and vocabulary, n-gram index of the training pieces, model card),
// and the models folder where `--style NAME` finds NAME.safetensors.
#pragma once
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "corpus/ngram_index.hpp"
#include "nn/network.hpp"
#include "tokenize/tokenizer.hpp"

namespace etude {

// The model card of a shipped model (JSON written by `etude export`: source and license, epoch
// chosen and why, validation loss of the stored weights, copy measure, reproduce command).
inline constexpr const char* kMetaCard = "etude.card";

struct StyleModel {
  std::filesystem::path path;
  std::unique_ptr<nn::Model> model;      // heap-held: an inference stepper keeps a reference to it
  std::unique_ptr<Tokenizer> tokenizer;  // from etude.tokenizer; its vocabulary matches the model's
  std::optional<NgramIndex> ngrams;      // from etude.ngrams; absent in files saved without one
  nlohmann::json card = nlohmann::json::object();  // etude.training (epoch, val_loss, seconds, ...)
  nlohmann::json model_card = nlohmann::json::object();  // etude.card; {} when the file has none
  std::vector<std::string> styles;       // etude.styles: the names of a conditioned model's style rows
  std::vector<float> pitch_temperatures;       // etude.pitch_temperatures: one per style row, 0 where none was calibrated
  std::vector<std::string> warnings;     // one line each from loading (a file without checksums)
};

// IoError for a missing file; FormatError naming the file for anything corrupt or missing inside
// (not safetensors, no tokenizer, vocabulary size different from the model's, bad n-gram index).
StyleModel load_style_model(const std::filesystem::path& path);

// NAME.safetensors in dir; InvalidArgument naming the folder and the installed styles otherwise.
std::filesystem::path find_style(const std::filesystem::path& dir, const std::string& name);

struct StyleEntry {
  std::string name;  // file stem
  std::filesystem::path path;
  std::string tokenizer;                           // empty when the file could not be read
  std::vector<std::string> styles;                 // a conditioned model's style rows
  nlohmann::json card = nlohmann::json::object();  // etude.training, plus "model_card": etude.card when present
  std::string error;                               // why the file could not be read, else empty
};
// One model file described for a listing; a file that cannot be read gets its error instead.
StyleEntry describe_style(const std::filesystem::path& path);
// Every *.safetensors in dir, sorted by name; a broken file is listed with its error. IoError
// when dir is not a folder.
std::vector<StyleEntry> list_styles(const std::filesystem::path& dir);

}  // namespace etude
