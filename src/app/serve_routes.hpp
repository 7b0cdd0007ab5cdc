// What `etude serve` answers, apart from binding and listening: the API routes, the page, the
// checks made before a body is read (size, Host, Origin) and a JSON body for every error. Set up on
// any httplib::Server, so the fuzzer (fuzz/fuzz_serve.cpp) drives the same handlers without a socket.
#pragma once
#include <filesystem>
#include <string>

#include <httplib.h>

#include "app/serve_compose.hpp"
#include "app/serve_runs.hpp"
#include "app/serve_styles.hpp"

namespace etude::app::serve {

bool is_loopback(const std::string& host);  // 127.0.0.1, localhost or ::1

// Registers every route and handler on s; web: serve the page from this folder ("" = built in);
// loopback: refuse requests whose Host is not a loopback name, and cross-site POSTs.
void set_up_routes(httplib::Server& s, StyleCatalog& styles, ComposeService& composer, RunManager& runs,
                   const std::filesystem::path& web, bool loopback);

}  // namespace etude::app::serve
