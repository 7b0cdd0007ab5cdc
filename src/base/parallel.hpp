// parallel_for: runs fn(i) for i in [0, n) on a pool of std::threads that take the next index
// from an atomic counter (balances files of very different sizes). The first exception is rethrown.
#pragma once
#include <cstddef>
#include <functional>

namespace etude {

// threads = 0: one per hardware thread. fn must be safe to call concurrently for distinct i.
void parallel_for(size_t n, unsigned threads, const std::function<void(size_t)>& fn);

}  // namespace etude
