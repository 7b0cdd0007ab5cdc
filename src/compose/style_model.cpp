// Opening model files for composing (see style_model.hpp): the network through nn/model_io, the
// tokenizer and n-gram index from the metadata, each failure a FormatError naming the file.
#include "compose/style_model.hpp"

#include <algorithm>

#include "base/error.hpp"
#include "base/input_text.hpp"
#include "compose/style_temperature.hpp"
#include "nn/model_io.hpp"

namespace etude {
namespace fs = std::filesystem;

StyleModel load_style_model(const fs::path& path) {
  if (!fs::is_regular_file(path))
    throw IoError(path.string() + ": no such model file (train one with `etude train`, or see `etude styles`)");
  nn::LoadedModel loaded = nn::load_model(path);
  const std::string what = path.string();
  StyleModel out;
  out.path = path;
  out.model = std::make_unique<nn::Model>(std::move(loaded.model));
  out.warnings = std::move(loaded.warnings);
  auto meta = [&](const char* key) -> const std::string* {
    auto it = loaded.metadata.find(key);
    return it == loaded.metadata.end() ? nullptr : &it->second;
  };
  const std::string* tok = meta(nn::kMetaTokenizer);
  if (!tok) throw FormatError(what + ": no \"etude.tokenizer\" in the metadata (save it with `etude train`)");
  try {
    out.tokenizer = make_tokenizer(nlohmann::json::parse(*tok));
    if (const std::string* card = meta(nn::kMetaTraining)) out.card = nlohmann::json::parse(*card);
    if (const std::string* card = meta(kMetaCard)) out.model_card = nlohmann::json::parse(*card);
    if (const std::string* styles = meta(nn::kMetaStyles)) out.styles = nlohmann::json::parse(*styles).get<std::vector<std::string>>();
  } catch (const nlohmann::json::exception& e) {
    throw FormatError(what + ": metadata is not valid JSON or of the wrong shape (" + json_error_text(e) + "); re-save the model");
  } catch (const InvalidArgument& e) {
    throw FormatError(what + ": etude.tokenizer: " + quote_input(e.what(), 150));
  }
  if (int(out.styles.size()) != out.model->spec().styles)
    throw FormatError(what + ": the model has " + std::to_string(out.model->spec().styles) + " style rows but etude.styles names " +
                      std::to_string(out.styles.size()));
  if (out.tokenizer->vocab_size() != out.model->spec().vocab)
    throw FormatError(what + ": the tokenizer has " + std::to_string(out.tokenizer->vocab_size()) +
                      " tokens but the model's vocabulary is " + std::to_string(out.model->spec().vocab) +
                      " (tokenizer and model from different runs)");
  out.pitch_temperatures.assign(out.styles.size(), 0.0f);
  if (const std::string* t = meta(kMetaPitchTemperatures)) out.pitch_temperatures = parse_pitch_temperatures(*t, out.styles, what);
  if (const std::string* grams = meta(kMetaNgrams)) out.ngrams = NgramIndex::from_metadata(*grams, what + " (etude.ngrams)");
  return out;
}

StyleEntry describe_style(const fs::path& path) {
  StyleEntry s;
  s.name = path.stem().string(), s.path = path;
  try {
    StyleModel m = load_style_model(path);
    s.tokenizer = m.tokenizer->name();
    s.styles = m.styles;
    s.card = std::move(m.card);
    if (!m.model_card.empty()) s.card["model_card"] = std::move(m.model_card);
  } catch (const Error& err) {
    s.error = err.what();
  }
  return s;
}

std::vector<StyleEntry> list_styles(const fs::path& dir) {
  if (!fs::is_directory(dir))
    throw IoError(dir.string() + ": models folder not found (use --models DIR or set ETUDE_MODELS)");
  std::vector<StyleEntry> out;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_regular_file() && e.path().extension() == ".safetensors") out.push_back(describe_style(e.path()));
  std::sort(out.begin(), out.end(), [](const StyleEntry& a, const StyleEntry& b) { return a.name < b.name; });
  return out;
}

fs::path find_style(const fs::path& dir, const std::string& name) {
  const fs::path p = dir / (name + ".safetensors");
  if (name.find('/') == std::string::npos && fs::is_regular_file(p)) return p;
  std::string known;
  if (fs::is_directory(dir))
    for (const auto& e : fs::directory_iterator(dir))
      if (e.path().extension() == ".safetensors") known += (known.empty() ? "" : ", ") + e.path().stem().string();
  throw InvalidArgument("unknown style '" + name + "': no " + p.string() +
                        (known.empty() ? " (no models installed there; train one with `etude train`)"
                                       : " (installed: " + known + "; see `etude styles`)"));
}

}  // namespace etude
