// The style catalog of `etude serve`; see serve_styles.hpp.
#include "app/serve_styles.hpp"

#include <algorithm>
#include <set>

#include "app/serve_http.hpp"
#include "base/error.hpp"
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
}  // namespace

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
  const json d = e.error.empty() ? json{{"tokenizer", e.tokenizer}, {"card", e.card}} : json{{"error", e.error}};
  std::lock_guard lock(m_);
  std::erase_if(cards_, [&](const auto& e) { return e.first.starts_with(file.string() + "|"); });
  cards_[key] = d;
  return d;
}

json StyleCatalog::list() {
  json styles = json::array();
  std::set<std::string> seen;
  auto add = [&](const std::string& name, const char* source, const fs::path& file) {
    json s{{"name", name}, {"source", source}};
    s.update(describe(file));
    styles.push_back(std::move(s));
    seen.insert(file.string());
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
  throw HttpError(404, "unknown style \"" + name + "\" (installed: " + names_of(files) + ")");
}

fs::path StyleCatalog::run_file(const std::string& run, const std::string& checkpoint) const {
  const auto runs = named_subfolders(runs_);
  if (std::find(runs.begin(), runs.end(), run) == runs.end()) throw HttpError(404, "unknown run \"" + run + "\"");
  const auto files = run_checkpoints(runs_ / run);
  for (const auto& [name, path] : files)
    if (name == checkpoint) return path;
  throw HttpError(404, "run " + run + " has no checkpoint \"" + checkpoint + "\" (it has: " + names_of(files) + ")");
}

}  // namespace etude::app::serve
