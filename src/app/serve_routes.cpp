// The routes of `etude serve`; see serve_routes.hpp.
#include "app/serve_routes.hpp"

#include <cstdio>
#include <map>
#include <optional>
#include <string_view>
#include <utility>

#include "app/serve_http.hpp"
#include "app/web_assets.hpp"
#include "base/error.hpp"
#include "base/file_io.hpp"

namespace etude::app::serve {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;
using httplib::Request;
using httplib::Response;

std::string mime_of(const fs::path& file) {
  static const std::map<std::string, std::string> types{
      {".html", "text/html; charset=utf-8"}, {".js", "text/javascript; charset=utf-8"},
      {".mjs", "text/javascript; charset=utf-8"}, {".css", "text/css; charset=utf-8"}, {".svg", "image/svg+xml"},
      {".png", "image/png"}, {".ico", "image/x-icon"}, {".json", "application/json"}, {".mid", "audio/midi"},
      {".wav", "audio/wav"}, {".pdf", "application/pdf"}, {".musicxml", "application/vnd.recordare.musicxml+xml"}};
  auto it = types.find(file.extension().string());
  return it == types.end() ? "application/octet-stream" : it->second;
}

// The page: from --web DIR (found by listing it, so no request path reaches the filesystem) or
// from the copy built into the binary.
void serve_asset(const fs::path& web, const Request& req, Response& res) {
  const std::string path = req.path == "/" ? "/index.html" : req.path;
  if (!web.empty()) {
    std::error_code ec;
    const std::string_view wanted = path.starts_with('/') ? std::string_view(path).substr(1) : std::string_view();
    for (fs::recursive_directory_iterator it(web, ec), end; !ec && it != end; it.increment(ec))
      if (!wanted.empty() && it->path().lexically_relative(web).generic_string() == wanted && it->is_regular_file(ec))
        return res.set_content(read_file_text(it->path()), mime_of(it->path()));
  } else {
    for (const WebAsset& a : web_assets())
      if (a.path == path) return res.set_content(std::string(a.body), std::string(a.mime));
  }
  throw HttpError(404, "no such page or file: " + path.substr(0, 100));
}

void fail(Response& res, int status, const std::string& message) {
  reply_error(res, status, message);
  if (status == 503) res.set_header("Retry-After", "1");
}

// Checks made before a body is read: a request too large for its endpoint (by Content-Length) is
// refused with 413 at once; on a loopback server, a Host other than loopback (DNS rebinding) or a
// POST from another page's Origin (cross-site request) is refused with 403.
std::optional<std::pair<int, std::string>> refuse_before_body(const Request& req, bool loopback) {
  const std::string host = req.get_header_value("Host");
  const std::string host_name = host.starts_with("[") ? host.substr(0, host.find(']') + 1) : host.substr(0, host.find(':'));
  if (loopback && host_name != "127.0.0.1" && host_name != "localhost" && host_name != "[::1]")
    return std::pair{403, "this server answers only requests for 127.0.0.1 or localhost"};
  const std::string origin = req.get_header_value("Origin");
  if (req.method == "POST" && !origin.empty() && origin != "http://" + host)
    return std::pair{403, "requests from another site's page are refused (Origin " + origin.substr(0, 100) + ")"};
  const size_t limit = req.path == "/api/runs" ? kRunUploadBytesMax + (1 << 20)
                       : req.path == "/api/primers" ? kPrimerMax + (64 << 10)
                                                     : kComposeBodyMax;
  const std::string length = req.get_header_value("Content-Length");
  const bool digits = !length.empty() && length.size() <= 12 && length.find_first_not_of("0123456789") == std::string::npos;
  if (!length.empty() && (!digits || std::stoull(length) > limit))
    return std::pair{413, "the request body is too large (compose: 64 KiB of JSON; a primer 1 MiB; a training upload 32 MiB)"};
  return std::nullopt;
}

// A handler whose errors become {"error": ...} with their status.
template <class F>
httplib::Server::Handler api(F f) {
  return [f](const Request& req, Response& res) {
    try {
      f(req, res);
    } catch (const HttpError& e) {
      fail(res, e.status, e.what());
    } catch (const InvalidArgument& e) {
      fail(res, 400, e.what());
    } catch (const FormatError& e) {
      fail(res, 400, e.what());
    } catch (const std::exception& e) {
      fail(res, 500, std::string("internal error: ") + e.what());
    }
  };
}

void send_file(Response& res, const fs::path& file, const std::string& attachment = "") {
  res.set_content(read_file_text(file), mime_of(file));
  if (!attachment.empty()) res.set_header("Content-Disposition", "attachment; filename=\"" + attachment + "\"");
}

}  // namespace

bool is_loopback(const std::string& host) { return host == "127.0.0.1" || host == "localhost" || host == "::1"; }

void set_up_routes(httplib::Server& s, StyleCatalog& styles, ComposeService& composer, RunManager& runs,
                   const fs::path& web, bool loopback) {
  s.set_payload_max_length(kRunUploadBytesMax + (8 << 20));
  s.set_pre_routing_handler([loopback](const Request& req, Response& res) {
    if (auto refusal = refuse_before_body(req, loopback)) {
      fail(res, refusal->first, refusal->second);
      return httplib::Server::HandlerResponse::Handled;
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });
  s.Get("/api/health", api([](const Request&, Response& res) { reply_json(res, {{"ok", true}, {"version", kVersion}}); }));
  s.Get("/api/styles", api([&](const Request&, Response& res) { reply_json(res, styles.list()); }));
  s.Post("/api/primers", api([&](const Request& req, Response& res) { reply_json(res, composer.add_primer(req), 201); }));
  s.Get("/api/compose", api([&](const Request&, Response& res) { reply_json(res, request_numbers_json(composer.max_tokens())); }));
  s.Post("/api/compose", api([&](const Request& req, Response& res) {
    reply_json(res, composer.compose(json_body(req, kComposeBodyMax)));
  }));
  s.Get(R"(/api/pieces/([^/]+))", api([&](const Request& req, Response& res) {
    reply_json(res, composer.piece(req.matches[1])->info);
  }));
  s.Get(R"(/api/pieces/([^/]+)/([^/]+))", api([&](const Request& req, Response& res) {
    const auto piece = composer.piece(req.matches[1]);
    const std::string name = req.matches[2];
    if (name == "report.json") return reply_json(res, piece->info["report"]);
    send_file(res, composer.file(*piece, name), name == "piece.mid" ? piece->download_name + ".mid" : "");
  }));
  s.Get("/api/data", api([&](const Request&, Response& res) { reply_json(res, runs.data_folders()); }));
  s.Get("/api/runs", api([&](const Request&, Response& res) { reply_json(res, runs.list()); }));
  s.Post("/api/runs", api([&](const Request& req, Response& res) { reply_json(res, {{"run", runs.start(req)}}, 202); }));
  s.Get(R"(/api/runs/([^/]+))", api([&](const Request& req, Response& res) { reply_json(res, runs.get(req.matches[1])); }));
  s.Post(R"(/api/runs/([^/]+)/stop)", api([&](const Request& req, Response& res) {
    reply_json(res, runs.stop(req.matches[1]));
  }));
  s.Post(R"(/api/runs/([^/]+)/resume)", api([&](const Request& req, Response& res) {
    reply_json(res, runs.resume(req.matches[1]), 202);
  }));
  s.Get(R"(/api/runs/([^/]+)/plots/([^/]+)\.png)", api([&](const Request& req, Response& res) {
    send_file(res, runs.plot(req.matches[1], req.matches[2]));
  }));
  s.Get(R"(/api/runs/([^/]+)/events)", api([&](const Request& req, Response& res) { runs.events(req.matches[1], res); }));
  s.Get(R"(/api/.*)", api([](const Request& req, Response&) {
    throw HttpError(404, "no such endpoint: GET " + req.path.substr(0, 100));
  }));
  s.Post(R"(/.*)", api([](const Request& req, Response&) {
    throw HttpError(404, "no such endpoint: POST " + req.path.substr(0, 100));
  }));
  s.Get(R"(/.*)", api([web](const Request& req, Response& res) { serve_asset(web, req, res); }));
  // Whatever httplib answers by itself (unknown routes, 413 over the body limit, bad requests)
  // gets a JSON error body too.
  s.set_error_handler([](const Request& req, Response& res) {
    if (!res.body.empty()) return;
    const std::string what = res.status == 413 ? "the request body is too large (compose: 64 KiB of JSON sent as "
                                                 "application/json; a primer 1 MiB; a training upload 32 MiB)"
                             : res.status == 404 ? "no such endpoint: " + req.method + " " + req.path.substr(0, 100)
                                                 : "the request could not be handled (HTTP " + std::to_string(res.status) + ")";
    reply_error(res, res.status, what);
  });
  s.set_logger([](const Request& req, const Response& res) {
    if (res.status >= 500) std::fprintf(stderr, "etude serve: %s %s -> %d %s\n", req.method.c_str(), req.path.c_str(), res.status, res.body.c_str());
  });
}

}  // namespace etude::app::serve
