// The HTTP plumbing shared by `etude serve`'s parts: the error handlers throw (a status and one
// clear sentence), JSON replies, name and id checks (no path from a request reaches the
// filesystem), JSON and multipart body access with size bounds, server-made ids and timestamps.
#pragma once
#include <chrono>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <httplib.h>

#include <nlohmann/json.hpp>

namespace etude::app::serve {

// Thrown by handlers; becomes {"error": message} with this status.
struct HttpError : std::runtime_error {
  int status;
  HttpError(int status, const std::string& message) : std::runtime_error(message), status(status) {}
};

inline constexpr const char* kJson = "application/json";
inline constexpr const char* kVersion = "0.1.0";

void reply_json(httplib::Response& res, const nlohmann::json& body, int status = 200);
void reply_error(httplib::Response& res, int status, const std::string& message);

// Style and run names: ^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$.
bool valid_name(std::string_view s);
// The name, or HttpError 400 naming the field.
const std::string& check_name(const std::string& s, const std::string& field);

// prefix + "-" + 16 random hex digits ("pc-3f9a..."), and its check.
std::string make_id(std::string_view prefix);
bool valid_id(std::string_view id, std::string_view prefix);

std::string iso_time(std::chrono::system_clock::time_point t);  // "2026-11-25T06:30:00Z"

// The body as a JSON object: 413 over max_bytes, 400 for anything that is not a JSON object.
nlohmann::json json_body(const httplib::Request& req, size_t max_bytes);
// Bytes the request carried: its Content-Length, else the body and multipart parts together.
size_t request_bytes(const httplib::Request& req);
// A multipart text field (absent: nullopt); 400 when it is longer than max_bytes.
std::optional<std::string> form_field(const httplib::Request& req, const std::string& name, size_t max_bytes = 256);
// Every part named `name` (file uploads), in the order sent.
std::vector<const httplib::MultipartFormData*> form_files(const httplib::Request& req, const std::string& name);

// JSON fields of a request: absent or null -> nullopt; wrong type or out of [lo, hi] -> 400
// naming the field and the range.
std::optional<double> number_field(const nlohmann::json& body, const char* key, double lo, double hi);
std::optional<int64_t> integer_field(const nlohmann::json& body, const char* key, int64_t lo, int64_t hi);
std::optional<std::string> string_field(const nlohmann::json& body, const char* key);

}  // namespace etude::app::serve
