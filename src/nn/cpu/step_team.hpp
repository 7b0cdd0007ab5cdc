// A small team of threads for inference steps. Members wait for jobs and at barriers by spinning
// briefly, then sleeping on a futex (C++20 atomic wait), so on a busy machine a waiting member
// gives its core away instead of burning its time slice. (OpenMP's default spinning made a
// two-thread step of `default` 4-50x slower than one thread at load 5 on two cores; passive
// waiting, which must be chosen before the program starts, fixed it.)
#pragma once
#include <atomic>
#include <chrono>
#include <cstdint>
#include <thread>
#include <vector>

namespace etude::nn {

class StepTeam {
 public:
  // How long a waiting member spins before it sleeps: about what a running partner needs to reach
  // a barrier, or the caller to sample a token between steps.
  static constexpr std::chrono::microseconds kSpin{20};
  explicit StepTeam(int threads);  // threads >= 1: the caller plus threads - 1 started here
  ~StepTeam();
  StepTeam(const StepTeam&) = delete;
  StepTeam& operator=(const StepTeam&) = delete;
  int size() const { return size_; }
  // Runs job(member, size) on every member, the caller being member 0; returns when all are done.
  // Allocates nothing.
  template <class F>
  void run(F& job) {
    call_ = [](void* f, int m, int n) { (*static_cast<F*>(f))(m, n); };
    job_ = &job;
    if (size_ > 1) {
      job_gen_.fetch_add(1, std::memory_order_release);
      job_gen_.notify_all();
    }
    job(0, size_);
    barrier();
  }
  // Inside a job: returns once every member has arrived.
  void barrier();

 private:
  void work(int member);
  int size_;
  void (*call_)(void*, int, int) = nullptr;
  void* job_ = nullptr;
  std::atomic<uint32_t> job_gen_{0}, phase_{0};
  std::atomic<int> arrived_{0};
  std::atomic<bool> stop_{false};
  std::vector<std::thread> threads_;
};

}  // namespace etude::nn
