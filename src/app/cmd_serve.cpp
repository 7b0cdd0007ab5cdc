// Registers `etude serve`: the local web app (the page built into the binary and its JSON API,
// see serve_*.hpp) on cpp-httplib, bound to 127.0.0.1 unless told otherwise. SIGINT or SIGTERM
// stops a training run cleanly (its epoch saved), then the server, and the command exits 0.
#include <malloc.h>
#include <sys/socket.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <optional>
#include <utility>
#include <string>

#include <httplib.h>

#include "app/commands.hpp"
#include "app/interrupts.hpp"
#include "app/serve_compose.hpp"
#include "app/serve_http.hpp"
#include "app/serve_routes.hpp"
#include "app/serve_runs.hpp"
#include "app/serve_styles.hpp"
#include "base/error.hpp"
#include "base/file_io.hpp"
#include "nn/device.hpp"

namespace etude::app {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;
using namespace serve;
using httplib::Request;
using httplib::Response;

struct ServeArgs {
  std::string models, runs, data, state = "etude-server", host = "127.0.0.1", web;
  std::string device = "auto";  // of training runs; composing stays on the CPU
  int port = 8080, threads = 1;
  ComposeLimits limits;
};

void run_serve(const ServeArgs& a) {
  // Blocks of 1 MiB and more are mapped and unmapped (glibc would otherwise raise this threshold
  // after the first large free and keep every compose's large buffers in per-thread heaps:
  // measured +40 MiB per 200 requests; with it the server's memory stays flat).
  mallopt(M_MMAP_THRESHOLD, 1 << 20);
  nn::choose_device(nn::parse_device(a.device), nn::Precision::f32);  // bad value or no GPU for cuda: exit 2 now
  const fs::path state = a.state;
  fs::create_directories(state);
  if (!a.web.empty() && !fs::is_directory(a.web)) throw IoError("--web " + a.web + ": no such folder");
  if (!a.data.empty() && !fs::is_directory(a.data)) throw IoError("--data " + a.data + ": no such folder");
  if (!a.models.empty() && !fs::is_directory(a.models))  // a folder made later is read then
    std::fprintf(stderr, "etude serve: --models %s: no such folder (yet); no shipped styles until it exists\n",
                 a.models.c_str());
  const fs::path runs_dir = a.runs.empty() ? state / "runs" : fs::path(a.runs);
  StyleCatalog styles(models_dir(a.models), runs_dir);
  ComposeService composer(styles, state, a.limits);
  RunManager runs(styles, runs_dir, state, a.data, a.threads, a.device);

  httplib::Server server;
  // Enough HTTP threads for every compose and render slot (each pool: workers + queue), every
  // event stream and a few quick requests besides.
  const size_t threads = size_t(2 * (a.limits.workers + a.limits.queue) + kStreamsMax + 8);
  server.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  // SO_REUSEADDR only: httplib's default adds SO_REUSEPORT, which would let a second server
  // share the port silently instead of failing to listen.
  socket_t listening = -1;
  server.set_socket_options([&listening](socket_t sock) {
    const int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    listening = sock;
  });
  set_up_routes(server, styles, composer, runs, a.web, is_loopback(a.host));
  int port = a.port;
  if (port == 0) port = server.bind_to_any_port(a.host);
  else if (!server.bind_to_port(a.host, port)) port = -1;
  if (port <= 0)
    throw IoError("cannot listen on " + a.host + ":" + std::to_string(a.port) + " (in use? try another --port, or 0)");
  if (listening >= 0) ::listen(listening, SOMAXCONN);  // httplib listens with a backlog of 5: bursts were reset

  const Interrupts interrupts([&] {
    runs.shutdown();  // the run in progress saves its epoch first
    server.stop();
  });
  if (!is_loopback(a.host))
    std::fprintf(stderr, "etude serve: warning: listening on %s: anyone who can reach it may compose and train "
                 "(there is no authentication)\n", a.host.c_str());
  std::printf("etude serve: listening on http://%s:%d/\n", a.host.c_str(), port);
  std::fflush(stdout);
  server.listen_after_bind();
}

}  // namespace

void add_serve_commands(CLI::App& app) {
  auto a = std::make_shared<ServeArgs>();
  CLI::App* c = app.add_subcommand("serve", "Serve the Compose page and its JSON API (compose, listen, read, train)");
  c->add_option("--models", a->models, "style models folder (default $ETUDE_MODELS, else the project's models/)");
  c->add_option("--runs", a->runs, "training runs folder (default: runs/ under --state)");
  c->add_option("--data", a->data, "data root: its subfolders of MIDI files can be trained on (default: uploads only)");
  c->add_option("--state", a->state, "the server's own folder: uploads, rendered pieces, corpus caches")->capture_default_str();
  c->add_option("--host", a->host, "address to listen on (anything but loopback exposes the server)")->capture_default_str();
  c->add_option("--port", a->port, "port (0: a free one)")->capture_default_str()->check(CLI::Range(0, 65535));
  c->add_option("--workers", a->limits.workers, "pieces composed at once")->capture_default_str()->check(CLI::Range(1, 64));
  c->add_option("--queue", a->limits.queue, "compose requests that may wait; beyond: 503 + Retry-After")
      ->capture_default_str()->check(CLI::Range(0, 256));
  c->add_option("--max-tokens", a->limits.tokens, "the most tokens one piece may take (bounds each compose request's work)")
      ->capture_default_str()
      ->check(CLI::Range(16, 100000));
  c->add_option("--web", a->web, "serve the page from this folder instead of the copy built in");
  c->add_option("--threads", a->threads, "compute threads of a training run (0 = every core; 1 keeps composing responsive)")
      ->capture_default_str()->check(CLI::Range(0, 1024));
  c->add_option("--device", a->device, "where training runs train: cpu, cuda or auto (cuda when usable); composing "
                "stays on the CPU")->capture_default_str();
  c->footer("Prints `etude serve: listening on http://HOST:PORT/` once ready. Ctrl-C or SIGTERM stops a training run "
            "cleanly, then exits 0. Exit codes: 1 usage error, 2 cannot listen, bad folder or --device.");
  c->callback([a] { run_serve(*a); });
}

}  // namespace etude::app
