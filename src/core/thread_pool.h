#pragma once
// A persistent pool of worker threads (created once, reused by every op).
//
// parallel_for splits [0, n) into one contiguous chunk per thread, the same way for the same n and
// thread count, so each output element is always computed by the same sequential code: results do
// not depend on scheduling. Kernels that reduce across chunks must combine in a fixed order.
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace infera {

class ThreadPool {
 public:
  // n_threads <= 0 picks the number of hardware threads.
  explicit ThreadPool(int n_threads = 0);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return n_threads_; }

  // Calls fn(begin, end) for disjoint chunks covering [0, n); the calling thread takes chunk 0.
  // Blocks until every chunk is done. Not re-entrant: fn must not call parallel_for.
  using RangeFn = std::function<void(int64_t begin, int64_t end)>;
  void parallel_for(int64_t n, const RangeFn& fn);

 private:
  void worker_loop(int index);

  int n_threads_;
  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable done_;
  const RangeFn* job_ = nullptr;
  int64_t job_n_ = 0;
  uint64_t generation_ = 0;
  int pending_ = 0;
  bool stopping_ = false;
};

}  // namespace infera
