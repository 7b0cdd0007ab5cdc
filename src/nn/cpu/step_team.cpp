// The step team (see step_team.hpp): a sense-counting barrier and a job generation counter, each
// waited on by spinning for kSpin, then futex sleep.
#include "nn/cpu/step_team.hpp"

namespace etude::nn {
namespace {

void pause() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

// Returns once a != v: spins up to kSpin (a partner that is running arrives within microseconds),
// then sleeps until notified.
void wait_while(const std::atomic<uint32_t>& a, uint32_t v) {
  const auto until = std::chrono::steady_clock::now() + StepTeam::kSpin;
  for (int i = 1;; ++i) {
    if (a.load(std::memory_order_acquire) != v) return;
    pause();
    if (i % 16 == 0 && std::chrono::steady_clock::now() > until) break;
  }
  while (a.load(std::memory_order_acquire) == v) a.wait(v, std::memory_order_acquire);
}

}  // namespace

StepTeam::StepTeam(int threads) : size_(threads < 1 ? 1 : threads) {
  for (int m = 1; m < size_; ++m) threads_.emplace_back([this, m] { work(m); });
}

StepTeam::~StepTeam() {
  stop_.store(true, std::memory_order_release);
  job_gen_.fetch_add(1, std::memory_order_release);
  job_gen_.notify_all();
  for (std::thread& t : threads_) t.join();
}

void StepTeam::barrier() {
  if (size_ == 1) return;
  const uint32_t phase = phase_.load(std::memory_order_acquire);
  if (arrived_.fetch_add(1, std::memory_order_acq_rel) + 1 == size_) {
    arrived_.store(0, std::memory_order_relaxed);
    phase_.store(phase + 1, std::memory_order_release);
    phase_.notify_all();
    return;
  }
  wait_while(phase_, phase);
}

void StepTeam::work(int member) {
  uint32_t seen = 0;
  for (;;) {
    wait_while(job_gen_, seen);
    seen = job_gen_.load(std::memory_order_acquire);
    if (stop_.load(std::memory_order_acquire)) return;
    call_(job_, member, size_);
    barrier();
  }
}

}  // namespace etude::nn
