#pragma once
// A persistent pool of worker threads (created once, reused by every op).
//
// parallel_for splits [0, n) into a fixed set of contiguous chunks, the same way for the same n and
// thread count, so each output element is always computed by the same sequential code: results do
// not depend on scheduling. Kernels that reduce across chunks must combine in a fixed order.
//
// Which thread runs a chunk is not fixed: every thread, the caller included, claims the next
// unclaimed chunk until none is left. A decode step makes ~150 calls of a few tens of µs each, so
// a hand-off must cost far less than a futex wake-up: idle workers spin on an atomic for a while
// before they sleep. Claiming keeps that safe on a loaded machine: the caller never waits for a
// worker that has not started (it runs the chunk itself), only for chunks already under way.
#include <atomic>
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

  // Calls fn(begin, end) for disjoint chunks covering [0, n), possibly on several threads at once.
  // Blocks until every chunk is done. Not re-entrant (fn must not call parallel_for), and one
  // caller at a time.
  using RangeFn = std::function<void(int64_t begin, int64_t end)>;
  void parallel_for(int64_t n, const RangeFn& fn);

 private:
  void worker_loop();
  // Claims and runs chunks of the job published as `state` (and of any job published while doing
  // so) until none is left; returns the last state seen.
  uint64_t run_chunks(uint64_t state);

  int n_threads_;
  std::vector<std::thread> workers_;

  // The job: valid from the release store of state_ that publishes it until all its chunks are
  // done (a chunk can only be claimed by a compare-exchange on that state).
  const RangeFn* job_ = nullptr;
  int64_t job_n_ = 0;
  // Bits 32..63: job number; 16..31: chunk count; 0..15: next chunk to claim.
  std::atomic<uint64_t> state_{0};
  std::atomic<int> chunks_done_{0};

  // Sleeping, once spinning has gone on too long. Whoever changes what a sleeper waits for checks
  // its counter after the change (both seq_cst), and takes the mutex before notifying.
  std::mutex mutex_;
  std::condition_variable work_cv_;
  std::condition_variable done_cv_;
  std::atomic<int> sleeping_workers_{0};
  std::atomic<bool> caller_sleeping_{false};
  std::atomic<bool> stopping_{false};
};

}  // namespace infera
