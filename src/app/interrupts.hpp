// Ctrl-C and SIGTERM for the commands that run long (train, serve), one mechanism for both: the
// signal handler writes a byte to a pipe, a watcher thread reads it and requests stop on a
// std::stop_source. A training run polls the token of such a source between steps, whoever
// requests the stop: this watcher (`etude train`) or the server (its Stop button, its shutdown).
#pragma once
#include <functional>
#include <stop_token>
#include <thread>

namespace etude::app {

// One at a time. The first SIGINT or SIGTERM stops the token, then calls on_interrupt on the
// watcher thread (serve: stop the run and the server); the handlers are then the default ones
// again, so a second signal ends the process at once.
class Interrupts {
 public:
  explicit Interrupts(std::function<void()> on_interrupt = {});
  ~Interrupts();  // default handlers back, the watcher ended (on_interrupt not called)
  Interrupts(const Interrupts&) = delete;
  Interrupts& operator=(const Interrupts&) = delete;

  std::stop_token token() const { return source_.get_token(); }

 private:
  int fds_[2] = {-1, -1};
  std::stop_source source_;
  std::function<void()> on_interrupt_;
  std::thread watcher_;
};

}  // namespace etude::app
