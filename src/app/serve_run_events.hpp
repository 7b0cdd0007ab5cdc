// The event stream of a run (GET /api/runs/NAME/events, Server-Sent Events): "epoch" for each
// history row, "state" when the state or message changes, "progress" at most twice a second; the
// stream ends after a final state or when the server shuts down.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>

#include <httplib.h>

#include "app/serve_run_store.hpp"

namespace etude::app::serve {

inline constexpr int kStreamsMax = 16;  // open event streams

class RunEvents {
 public:
  // snapshot: the run's state now (the run in progress, else its folder's).
  explicit RunEvents(std::function<LiveRun(const std::string&)> snapshot) : snapshot_(std::move(snapshot)) {}
  void changed();  // an epoch, a state or a message changed (progress is not counted): wakes every stream
  void close();    // the server shuts down: every stream ends
  // A text/event-stream response for the run; HttpError 503 when too many are open.
  void open(const std::string& name, httplib::Response& res);

 private:
  struct Cursor;
  bool pump(const std::string& name, Cursor& cursor, httplib::DataSink& sink);

  std::function<LiveRun(const std::string&)> snapshot_;
  std::mutex m_;
  std::condition_variable changed_;
  uint64_t changes_ = 0;
  bool closing_ = false;
  std::atomic<int> streams_{0};
};

}  // namespace etude::app::serve
