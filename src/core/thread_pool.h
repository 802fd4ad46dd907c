#pragma once
// A persistent pool of worker threads (created once, reused by every op).
//
// parallel_for splits [0, n) into a fixed set of contiguous chunks, the same way for the same n and
// thread count, so each output element is always computed by the same sequential code: results do
// not depend on scheduling. Kernels that reduce across chunks must combine in a fixed order.
//
// Which thread runs a chunk is not fixed. Each thread owns a contiguous share of the chunks (a
// lane) and claims them one by one from its own lane; when that is empty it takes the next
// unclaimed chunks of the other lanes. A decode step makes ~150 calls of a few tens of µs each, so
// a hand-off must cost far less than a futex wake-up: idle workers spin on an atomic for a while
// before they sleep. And a claim should not move a cache line between cores: with one claim
// counter and one done counter shared by all threads, updated per chunk (16 chunks a matrix),
// SmolLM2 decoded ~15 % slower on 2 cores (interleaved runs, median 209 vs 243 t/s). Claiming
// keeps the pool safe on a loaded machine: the caller never waits for a worker that has not
// started (it empties that worker's lane itself), only for chunks already under way.
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
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
  // A thread's share of the chunks. Bits 32..63: job number; 16..31: the end of the lane's
  // chunks; 0..15: its next chunk to claim. On a cache line of its own.
  struct alignas(64) Lane {
    std::atomic<uint64_t> claim{0};
  };

  void worker_loop(int lane);
  // Claims and runs chunks of job `job`, from lane `own` first, then from the others, until none
  // is left; returns how many it ran.
  int run_chunks(uint64_t job, int own);

  int n_threads_;
  std::vector<std::thread> workers_;
  std::unique_ptr<Lane[]> lanes_;

  // The job: written before the lanes that publish it (release), read after a claim from them.
  const RangeFn* job_ = nullptr;
  int64_t job_n_ = 0;
  int64_t job_chunks_ = 0;
  // The number of the job published last: what idle workers watch.
  alignas(64) std::atomic<uint64_t> job_number_{0};
  // Chunks of the current job run to the end, added by each thread once it finds none left.
  alignas(64) std::atomic<int64_t> chunks_done_{0};

  // Sleeping, once spinning has gone on too long. Whoever changes what a sleeper waits for checks
  // its counter after the change (both seq_cst), and takes the mutex before notifying.
  alignas(64) std::mutex mutex_;
  std::condition_variable work_cv_;
  std::condition_variable done_cv_;
  std::atomic<int> sleeping_workers_{0};
  std::atomic<bool> caller_sleeping_{false};
  std::atomic<bool> stopping_{false};
};

}  // namespace infera
