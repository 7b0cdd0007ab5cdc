// The event stream of a run; see serve_run_events.hpp.
#include "app/serve_run_events.hpp"

#include <chrono>
#include <memory>

#include "app/serve_http.hpp"
#include "base/json_text.hpp"

namespace etude::app::serve {
using nlohmann::json;
using Clock = std::chrono::steady_clock;

struct RunEvents::Cursor {
  size_t rows = 0;
  RunStatus status;
  uint64_t changes = 0, progress_seq = 0;
  bool first = true;
  Clock::time_point last_write = Clock::now();
};

namespace {
std::string sse(const char* event, const json& data) {
  return std::string("event: ") + event + "\ndata: " + utf8_dump(data) + "\n\n";
}
}  // namespace

void RunEvents::changed() {
  {
    std::lock_guard lock(m_);
    ++changes_;
  }
  changed_.notify_all();
}

void RunEvents::close() {
  {
    std::lock_guard lock(m_);
    closing_ = true;
    ++changes_;
  }
  changed_.notify_all();
}

void RunEvents::open(const std::string& name, httplib::Response& res) {
  if (++streams_ > kStreamsMax) {
    --streams_;
    throw HttpError(503, "too many open event streams; close one and try again");
  }
  auto cursor = std::make_shared<Cursor>();
  res.set_header("Cache-Control", "no-cache");
  res.set_chunked_content_provider(
      "text/event-stream",
      [this, name, cursor](size_t, httplib::DataSink& sink) { return pump(name, *cursor, sink); },
      [this](bool) { --streams_; });
}

// One turn of an event stream: waits for an epoch or state change (at most half a second, so
// progress goes out at most twice a second), then writes what is new; ends after a final state.
bool RunEvents::pump(const std::string& name, Cursor& c, httplib::DataSink& sink) {
  bool closing;
  {
    std::unique_lock lock(m_);
    if (!c.first) changed_.wait_for(lock, std::chrono::milliseconds(500), [&] { return changes_ != c.changes || closing_; });
    c.changes = changes_;
    closing = closing_;
  }
  const LiveRun s = snapshot_(name);
  const std::vector<train::EpochRow>& history = s.record.history;
  std::string out;
  for (; c.rows < history.size(); ++c.rows) out += sse("epoch", history[c.rows]);
  if (c.first || s.status != c.status) {
    out += sse("state", {{"state", std::string(phase_text(s.status.phase))}, {"message", s.status.message}});
    c.status = s.status;
  }
  if (!s.progress.is_null() && s.progress_seq != c.progress_seq) {
    out += sse("progress", s.progress);
    c.progress_seq = s.progress_seq;
  }
  c.first = false;
  const auto now = Clock::now();
  if (out.empty() && now - c.last_write > std::chrono::seconds(3)) out = ": keep-alive\n\n";  // finds closed clients
  if (!out.empty()) {
    if (!sink.write(out.data(), out.size())) return false;
    c.last_write = now;
  }
  if (final_phase(s.status.phase) || closing) sink.done();
  return true;
}

}  // namespace etude::app::serve
