// The page assets (web/*) built into the binary by cmake/embed_assets.cmake, so the server needs
// no files beside it and no network. Paths start with '/', e.g. "/index.html".
#pragma once
#include <span>
#include <string_view>

namespace etude {

struct WebAsset {
  std::string_view path;  // "/index.html", "/app.js", ...
  std::string_view mime;  // Content-Type to send
  std::string_view body;  // the file's bytes
};

// Every embedded asset, sorted by path.
std::span<const WebAsset> web_assets();

}  // namespace etude
