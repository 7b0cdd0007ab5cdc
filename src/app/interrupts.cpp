// Ctrl-C and SIGTERM through a pipe to a watcher thread; see interrupts.hpp.
#include "app/interrupts.hpp"

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>

#include "base/error.hpp"

namespace etude::app {
namespace {

// The one piece of global state: a signal handler can reach nothing else. The handler writes a
// byte to this pipe (on whichever thread the signal lands: OpenBLAS starts threads before main,
// so signals cannot be blocked everywhere); the watcher reads it. -1: no Interrupts alive.
std::atomic<int> g_interrupt_pipe{-1};
constexpr char kSignal = 1, kClose = 0;

extern "C" void on_interrupt_signal(int) {
  const char byte = kSignal;
  if (write(g_interrupt_pipe.load(), &byte, 1) < 0) {
  }
}

}  // namespace

Interrupts::Interrupts(std::function<void()> on_interrupt) : on_interrupt_(std::move(on_interrupt)) {
  if (pipe(fds_) != 0) throw IoError("cannot create a pipe for Ctrl-C and SIGTERM");
  watcher_ = std::thread([this] {
    char byte = kClose;
    while (read(fds_[0], &byte, 1) < 0 && errno == EINTR) {
    }
    if (byte != kSignal) return;
    source_.request_stop();
    if (on_interrupt_) on_interrupt_();
  });
  g_interrupt_pipe = fds_[1];
  struct sigaction sa {};
  sa.sa_handler = on_interrupt_signal;
  sa.sa_flags = SA_RESETHAND | SA_RESTART;  // a second Ctrl-C ends the process at once
  sigemptyset(&sa.sa_mask);
  for (int sig : {SIGINT, SIGTERM}) sigaction(sig, &sa, nullptr);
}

Interrupts::~Interrupts() {
  for (int sig : {SIGINT, SIGTERM}) signal(sig, SIG_DFL);
  g_interrupt_pipe = -1;
  const char byte = kClose;  // ends a watcher still waiting; one that saw a signal has returned
  if (write(fds_[1], &byte, 1) < 0) {
  }
  watcher_.join();
  close(fds_[0]);
  close(fds_[1]);
}

}  // namespace etude::app
