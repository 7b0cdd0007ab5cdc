// The tokenizer registry: one constexpr table of name -> factory, each factory building its
// tokenizer from a JSON config the same way; make_tokenizer() then loads a stored vocabulary
// through the base class (checked, or learned for notes/seed), with no per-kind special case.
#include <string>

#include "base/error.hpp"
#include "base/input_text.hpp"
#include "base/json_text.hpp"
#include "tokenize/beats_tokenizer.hpp"
#include "tokenize/events_tokenizer.hpp"
#include "tokenize/notes_tokenizer.hpp"
#include "tokenize/tokenizer.hpp"

namespace etude {
namespace {

using Factory = std::unique_ptr<Tokenizer> (*)(const nlohmann::json& config);
struct Entry {
  std::string_view name;
  Factory make;
};

template <class T, class Config>
std::unique_ptr<Tokenizer> build(const nlohmann::json& config) {
  return std::make_unique<T>(config.get<Config>());
}
template <bool seed>
std::unique_ptr<Tokenizer> build_notes(const nlohmann::json& config) {
  return std::make_unique<NotesTokenizer>(seed, config.get<NotesConfig>());
}

// In the order tokenizer_names() lists them.
constexpr Entry kRegistry[] = {{"notes", &build_notes<false>},
                               {"seed", &build_notes<true>},
                               {"events", &build<EventsTokenizer, EventsConfig>},
                               {"beats", &build<BeatsTokenizer, BeatsConfig>}};

std::unique_ptr<Tokenizer> make_from_config(std::string_view name, const nlohmann::json& config) {
  for (const Entry& e : kRegistry) {
    if (e.name != name) continue;
    try {
      return e.make(config);
    } catch (const nlohmann::json::exception& x) {
      throw FormatError("tokenizer '" + quote_input(name, 40) + "': bad config " + quote_input(utf8_dump(config), 100) +
                        " (" + json_error_text(x) + "); rebuild the corpus or model with this version of etude");
    }
  }
  std::string known;
  for (const Entry& e : kRegistry) known += (known.empty() ? "" : ", ") + std::string(e.name);
  throw InvalidArgument("unknown tokenizer '" + quote_input(name, 40) + "'; known: " + known);
}

}  // namespace

std::vector<std::string> tokenizer_names() {
  std::vector<std::string> names;
  for (const Entry& e : kRegistry) names.emplace_back(e.name);
  return names;
}

std::unique_ptr<Tokenizer> make_tokenizer(std::string_view name) {
  return make_from_config(name, nlohmann::json::object());
}

std::unique_ptr<Tokenizer> make_tokenizer(const nlohmann::json& j) {
  if (!j.is_object() || !j.contains("name") || !j["name"].is_string())
    throw FormatError("tokenizer JSON: missing \"name\"; expected {\"name\":..,\"config\":..,\"vocab\":[..]}");
  auto tok = make_from_config(j["name"].get<std::string>(), j.value("config", nlohmann::json::object()));
  if (!j.contains("vocab")) return tok;
  std::vector<std::string> vocab;
  try {
    vocab = j["vocab"].get<std::vector<std::string>>();
  } catch (const nlohmann::json::exception&) {
    throw FormatError("tokenizer JSON: \"vocab\" must be a list of token names");
  }
  tok->load_vocabulary(vocab);
  return tok;
}

}  // namespace etude
