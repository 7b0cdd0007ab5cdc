// libFuzzer target for `etude serve`'s request handling, in-process and without a socket: any
// bytes as one HTTP request (request line, headers, JSON or multipart body) through httplib's
// parser into the server's own routes (app/serve_routes.hpp), with a tiny model installed. Training
// runs are validated and stored but never started (the run manager is shut down first: 503), and
// pieces stop at 32 tokens (the server's --max-tokens), so a compose costs about a millisecond and
// the executions go to the request paths rather than to sampling (fuzz_tokenizers covers that).
// Every answer must be a JSON error or a success; a 500 (an unexpected exception) fails the target.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <unistd.h>

#include "app/serve_routes.hpp"
#include "base/file_io.hpp"
#include "fuzz_common.hpp"

namespace {
namespace fs = std::filesystem;
using namespace etude;
using namespace etude::app::serve;
using fuzz::require;

// The request bytes in, the response out.
class BufferStream : public httplib::Stream {
 public:
  BufferStream(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  bool is_readable() const override { return true; }
  bool is_writable() const override { return true; }
  ssize_t read(char* ptr, size_t size) override {
    const size_t n = std::min(size, size_ - pos_);
    std::memcpy(ptr, data_ + pos_, n);
    pos_ += n;
    return ssize_t(n);
  }
  ssize_t write(const char* ptr, size_t size) override {
    out.append(ptr, size);
    return ssize_t(size);
  }
  void get_remote_ip_and_port(std::string& ip, int& port) const override { ip = "127.0.0.1", port = 40000; }
  void get_local_ip_and_port(std::string& ip, int& port) const override { ip = "127.0.0.1", port = 8080; }
  socket_t socket() const override { return INVALID_SOCKET; }
  std::string out;

 private:
  const uint8_t* data_;
  size_t size_, pos_ = 0;
};

struct Server : httplib::Server {
  using httplib::Server::process_request;
};

struct World {
  fs::path root = fuzz::scratch_folder("etude-fuzz-serve");
  StyleCatalog catalog{root / "models", root / "state" / "runs"};
  ComposeService composer{catalog, root / "state", ComposeLimits{1, 1, 4, 1, 4, 32}};
  RunManager runs{catalog, root / "state" / "runs", root / "state", root / "data", 1, "cpu"};
  Server server;
  World() {
    fs::create_directories(root / "models");
    fs::create_directories(root / "data" / "empty");
    write_file_atomic(root / "models" / "tiny.safetensors",
                      fuzz::tiny_model_file("beats", {fuzz::phrase()}));
    runs.shutdown();  // a valid upload stops at launch (503): no training thread
    set_up_routes(server, catalog, composer, runs, "", true);
    static const fs::path where = root;  // the world outlives main; its folder goes at exit
    std::atexit([] {
      std::error_code ec;
      fs::remove_all(where, ec);
    });
  }
  // What a request left on disk (a refused run's folder and uploads) goes, so inputs stay independent.
  void tidy() {
    for (const fs::path dir : {root / "state" / "runs", root / "state" / "uploads"}) {
      std::error_code ec;
      if (fs::directory_iterator(dir, ec) != fs::directory_iterator()) {
        fs::remove_all(dir, ec);
        fs::create_directories(dir, ec);
      }
    }
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static World* world = new World;  // never destroyed: the process exits with the fuzzer
  BufferStream stream(data, size);
  bool closed = false;
  world->server.process_request(stream, true, closed, [](httplib::Request&) {});
  world->tidy();
  require(!stream.out.starts_with("HTTP/1.1 500"));
  return 0;
}
