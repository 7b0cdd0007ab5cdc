// The HTTP plumbing of `etude serve`; see serve_http.hpp.
#include "app/serve_http.hpp"

#include <cmath>
#include <cstdio>
#include <ctime>
#include <random>

#include "base/input_text.hpp"
#include "base/json_text.hpp"

namespace etude::app::serve {
using nlohmann::json;

namespace {
std::string range_text(double lo, double hi) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%g..%g", lo, hi);
  return buf;
}
}  // namespace

void reply_json(httplib::Response& res, const json& body, int status) {
  res.status = status;
  res.set_content(utf8_dump(body), kJson);
}

void reply_error(httplib::Response& res, int status, const std::string& message) {
  reply_json(res, {{"error", message}}, status);
}

bool valid_name(std::string_view s) {
  auto word = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); };
  if (s.empty() || s.size() > 64 || !word(s[0])) return false;
  for (char c : s)
    if (!word(c) && c != '_' && c != '-') return false;
  return true;
}

const std::string& check_name(const std::string& s, const std::string& field) {
  if (!valid_name(s))
    throw HttpError(400, field + ": \"" + s.substr(0, 80) +
                             "\" is not a valid name (1 to 64 letters, digits, _ or -, starting with a letter or digit)");
  return s;
}

std::string make_id(std::string_view prefix) {
  std::random_device rd;
  const uint64_t v = (uint64_t(rd()) << 32) ^ rd();
  char buf[32];
  std::snprintf(buf, sizeof buf, "-%016llx", static_cast<unsigned long long>(v));
  return std::string(prefix) + buf;
}

bool valid_id(std::string_view id, std::string_view prefix) {
  if (id.size() != prefix.size() + 17 || id.substr(0, prefix.size()) != prefix || id[prefix.size()] != '-') return false;
  for (char c : id.substr(prefix.size() + 1))
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

std::string iso_time(std::chrono::system_clock::time_point t) {
  const std::time_t s = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&s, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

json json_body(const httplib::Request& req, size_t max_bytes) {
  if (req.body.size() > max_bytes)
    throw HttpError(413, "the request body is " + std::to_string(req.body.size()) + " bytes; at most " +
                             std::to_string(max_bytes) + " are accepted here");
  json j;
  try {
    j = json::parse(req.body);
  } catch (const json::exception& e) {  // where, in one short line: never the body itself
    throw HttpError(400, "the request body is not valid JSON (" + json_error_text(e) + ")");
  }
  if (!j.is_object()) throw HttpError(400, "the request body must be a JSON object");
  return j;
}

size_t request_bytes(const httplib::Request& req) {
  if (req.has_header("Content-Length")) {
    try {
      return std::stoull(req.get_header_value("Content-Length"));
    } catch (const std::exception&) {
    }
  }
  size_t n = req.body.size();
  for (const auto& [name, part] : req.files) n += part.content.size();
  return n;
}

std::optional<std::string> form_field(const httplib::Request& req, const std::string& name, size_t max_bytes) {
  auto it = req.files.find(name);
  if (it == req.files.end()) return std::nullopt;
  if (it->second.content.size() > max_bytes)
    throw HttpError(400, "field " + name + ": longer than " + std::to_string(max_bytes) + " bytes");
  return it->second.content;
}

std::vector<const httplib::MultipartFormData*> form_files(const httplib::Request& req, const std::string& name) {
  std::vector<const httplib::MultipartFormData*> out;
  auto [lo, hi] = req.files.equal_range(name);
  for (auto it = lo; it != hi; ++it) out.push_back(&it->second);
  return out;
}

std::optional<double> number_field(const json& body, const char* key, double lo, double hi) {
  auto it = body.find(key);
  if (it == body.end() || it->is_null()) return std::nullopt;
  if (!it->is_number() || !std::isfinite(it->get<double>()) || it->get<double>() < lo || it->get<double>() > hi)
    throw HttpError(400, std::string(key) + ": " + it->dump().substr(0, 40) + " is not a number in " + range_text(lo, hi));
  return it->get<double>();
}

std::optional<int64_t> integer_field(const json& body, const char* key, int64_t lo, int64_t hi) {
  auto it = body.find(key);
  if (it == body.end() || it->is_null()) return std::nullopt;
  int64_t v = 0;
  bool ok = false;
  if (it->is_number_unsigned()) {
    ok = it->get<uint64_t>() <= uint64_t(INT64_MAX);
    if (ok) v = int64_t(it->get<uint64_t>());
  } else if (it->is_number_integer()) {
    ok = true, v = it->get<int64_t>();
  } else if (it->is_number_float()) {  // 7.0 is 7
    const double d = it->get<double>();
    ok = std::isfinite(d) && d == std::nearbyint(d) && std::fabs(d) < 9e18;
    if (ok) v = int64_t(d);
  }
  if (!ok || v < lo || v > hi)
    throw HttpError(400, std::string(key) + ": " + it->dump().substr(0, 40) + " is not an integer in " +
                             std::to_string(lo) + ".." + std::to_string(hi));
  return v;
}

std::optional<std::string> string_field(const json& body, const char* key) {
  auto it = body.find(key);
  if (it == body.end() || it->is_null()) return std::nullopt;
  if (!it->is_string()) throw HttpError(400, std::string(key) + ": must be a string");
  return it->get<std::string>();
}

}  // namespace etude::app::serve
