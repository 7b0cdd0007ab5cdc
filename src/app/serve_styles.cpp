// The style catalog of `etude serve`; see serve_styles.hpp.
#include "app/serve_styles.hpp"

#include <algorithm>
#include <set>

#include "app/serve_http.hpp"
#include "base/error.hpp"
#include "base/names.hpp"
#include "compose/style_blend.hpp"
#include "compose/style_model.hpp"

namespace etude::app::serve {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {
// Model files in dir by stem (valid names only), sorted.
std::vector<std::pair<std::string, fs::path>> model_files(const fs::path& dir) {
  std::vector<std::pair<std::string, fs::path>> out;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
    if (it->path().extension() == ".safetensors" && valid_name(it->path().stem().string()) && it->is_regular_file(ec))
      out.emplace_back(it->path().stem().string(), it->path());
  std::sort(out.begin(), out.end());
  return out;
}

std::string names_of(const std::vector<std::pair<std::string, fs::path>>& v) {
  std::string s;
  for (const auto& [name, path] : v) s += (s.empty() ? "" : ", ") + name;
  return s.empty() ? "none" : s;
}

std::string joined(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
  return s;
}

bool holds(const std::vector<std::string>& styles, const std::string& name) { return find_name(styles, name) >= 0; }
}  // namespace

const std::string& check_style_text(const std::string& text, const std::string& field) {
  const bool ok = !text.empty() && text.size() <= 512 && std::none_of(text.begin(), text.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u < 0x20 || u == 0x7f || c == '/' || c == '\\';
  });
  if (!ok)
    throw HttpError(400, field + ": \"" + text.substr(0, 60) + "\" is not a valid name or blend (write Chopin, or "
                         "Chopin:0.7,Pop:0.3 with styles from /api/styles)");
  return text;
}

std::vector<std::pair<std::string, fs::path>> run_checkpoints(const fs::path& run_dir) {
  std::vector<std::pair<std::string, fs::path>> out;
  std::error_code ec;
  for (const char* name : {"best", "last"})
    if (fs::is_regular_file(run_dir / (std::string(name) + ".safetensors"), ec))
      out.emplace_back(name, run_dir / (std::string(name) + ".safetensors"));
  auto epochs = model_files(run_dir / "checkpoints");
  std::erase_if(epochs, [](const auto& e) { return !e.first.starts_with("epoch-"); });
  out.insert(out.end(), epochs.begin(), epochs.end());
  return out;
}

std::vector<std::string> named_subfolders(const fs::path& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  if (dir.empty()) return out;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
    if (valid_name(it->path().filename().string()) && it->is_directory(ec)) out.push_back(it->path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

json StyleCatalog::describe(const fs::path& file) {
  std::error_code ec;
  const std::string key = file.string() + "|" + std::to_string(fs::file_size(file, ec)) + "|" +
                          std::to_string(fs::last_write_time(file, ec).time_since_epoch().count());
  {
    std::lock_guard lock(m_);
    if (auto it = cards_.find(key); it != cards_.end()) return it->second;
  }
  const StyleEntry e = describe_style(file);
  const json d = e.error.empty() ? json{{"tokenizer", e.tokenizer}, {"card", e.card}, {"styles_of_model", e.styles}}
                                 : json{{"error", e.error}};
  std::lock_guard lock(m_);
  std::erase_if(cards_, [&](const auto& e) { return e.first.starts_with(file.string() + "|"); });
  cards_[key] = d;
  return d;
}

json StyleCatalog::list() {
  json styles = json::array();
  std::set<std::string> seen;
  auto add = [&](const std::string& name, const char* source, const fs::path& file) {
    json s{{"name", name}, {"kind", "model"}, {"source", source}};
    s.update(describe(file));
    const json rows = s.value("styles_of_model", json::array());
    styles.push_back(s);
    seen.insert(file.string());
    for (const json& row : rows) {  // the rows of a conditioned model, each a style of its own
      json r{{"name", row}, {"kind", "style"}, {"model", name}, {"source", source}, {"tokenizer", s["tokenizer"]},
             {"styles_of_model", rows}};
      if (std::string(source) == "run") r["run"] = name;
      styles.push_back(std::move(r));
    }
  };
  for (const auto& [name, file] : model_files(models_)) add(name, "models", file);
  for (const std::string& run : named_subfolders(runs_))
    if (fs::path best = runs_ / run / "best.safetensors"; fs::is_regular_file(best)) add(run, "run", best);
  std::lock_guard lock(m_);  // forget files that are gone
  std::erase_if(cards_, [&](const auto& e) { return !seen.count(e.first.substr(0, e.first.find('|'))); });
  return {{"styles", styles}};
}

fs::path StyleCatalog::style_file(const std::string& name) const {
  const auto files = model_files(models_);
  for (const auto& [stem, path] : files)
    if (stem == name) return path;
  throw HttpError(404, "no model \"" + name + "\" in the models folder (installed: " + names_of(files) + ")");
}

fs::path StyleCatalog::run_file(const std::string& run, const std::string& checkpoint) const {
  const auto runs = named_subfolders(runs_);
  if (std::find(runs.begin(), runs.end(), run) == runs.end()) throw HttpError(404, "unknown run \"" + run + "\"");
  const auto files = run_checkpoints(runs_ / run);
  for (const auto& [name, path] : files)
    if (name == checkpoint) return path;
  throw HttpError(404, "run " + run + " has no checkpoint \"" + checkpoint + "\" (it has: " + names_of(files) + ")");
}

std::vector<std::string> StyleCatalog::styles_of(const fs::path& file) {
  const json d = describe(file);
  return d.value("styles_of_model", std::vector<std::string>{});
}

std::string StyleCatalog::error_of(const fs::path& file) { return describe(file).value("error", std::string()); }

std::string StyleCatalog::known_styles() {
  std::string rows, files;
  for (const auto& [name, file] : model_files(models_)) {
    if (!error_of(file).empty()) continue;  // unreadable: nothing to compose with
    const auto styles = styles_of(file);
    if (!styles.empty()) rows += (rows.empty() ? "" : "; ") + joined(styles) + " (in " + name + ")";
    else files += (files.empty() ? "" : ", ") + name;
  }
  if (rows.empty() && files.empty()) return "none installed (train one on the Train tab)";
  return rows + (rows.empty() || files.empty() ? "" : "; ") + (files.empty() ? "" : files + " (model files)");
}

StyleTarget StyleCatalog::resolve(const std::string& text) {
  check_style_text(text, "style");
  std::vector<std::string> names;
  try {
    names = blend_names(text);
  } catch (const InvalidArgument& e) {
    throw HttpError(400, std::string(e.what()) + "; known styles: " + known_styles());
  }
  const auto files = model_files(models_);
  if (names.size() == 1 && text.find(':') == std::string::npos)  // a model file by its name first
    for (const auto& [stem, path] : files)
      if (stem == names[0]) {
        // With a row of that name (a fine-tuned style exported under its own name): that row.
        auto styles = styles_of(path);
        const std::string blend = holds(styles, stem) ? stem : "";
        return {path, stem, std::move(styles), blend};
      }
  for (const auto& [stem, path] : files) {
    auto styles = styles_of(path);
    if (!styles.empty() && std::all_of(names.begin(), names.end(), [&](const auto& n) { return holds(styles, n); }))
      return {path, stem, std::move(styles), text};
  }
  std::string missing;
  for (const auto& n : names) {
    bool found = false;
    for (const auto& [stem, path] : files) found = found || holds(styles_of(path), n) || (names.size() == 1 && stem == n);
    if (!found) missing += (missing.empty() ? "" : ", ") + n.substr(0, 60);
  }
  if (missing.empty())  // each name is somewhere, but no one model holds them all
    throw HttpError(400, "no installed model holds every style of the blend \"" + text.substr(0, 200) +
                             "\" (a blend mixes the rows of one model); known styles: " + known_styles());
  throw HttpError(400, "unknown style " + missing + "; known styles: " + known_styles());
}

}  // namespace etude::app::serve
