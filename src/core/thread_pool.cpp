#include "core/thread_pool.h"

#include <algorithm>
#include <chrono>

namespace infera {

namespace {
// Chunks per thread: several, so that the last chunk under way when the other threads run out is a
// small share of the job. Chunks are equal in count, not in cost: a decode step's Q, K and V rows
// share one job though V's Q6_K rows cost more than the Q4_K ones, and a thread descheduled by
// another process falls behind mid-chunk. With 2 chunks per thread the caller of a Llama-1B
// Q4_K_M decode step waited ~10 % of its time for the last chunk, with 8 ~6 %, and generation ran
// ~9 % faster (interleaved runs). Claiming, one compare-exchange per chunk, stays negligible.
constexpr int64_t kChunksPerThread = 8;
// How long an idle worker spins for the next job before it sleeps: longer than the serial gaps
// between the passes of a forward step (norms, rope, a small quantization: a few µs), short
// enough that a worker left spinning between requests, or on a machine with more runnable threads
// than cores, wastes little.
constexpr std::chrono::microseconds kWorkerSpin{200};
// How long the caller spins for the chunks other threads are finishing before it sleeps: a chunk
// under way usually ends within a few tens of µs, unless its thread was descheduled, which sleep
// handles.
constexpr std::chrono::microseconds kCallerSpin{200};

// How long a waiting thread spins with pause alone before it also yields: a hand-off within a
// forward step usually lands in this time.
constexpr std::chrono::microseconds kPauseOnly{3};

constexpr uint64_t kChunkMask = 0xffff;
constexpr uint64_t kJobMask = 0xffffffff;

// Chunk `index` of `count` equal-as-possible chunks of [0, n).
void chunk_bounds(int64_t n, int64_t count, int64_t index, int64_t* begin, int64_t* end) {
  const int64_t base = n / count;
  const int64_t extra = n % count;
  *begin = index * base + std::min<int64_t>(index, extra);
  *end = *begin + base + (index < extra ? 1 : 0);
}

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

// Spins until done() holds or `budget` has passed; returns done(). After the first few µs it
// yields the core at each turn, so that on a machine with more runnable threads than cores a
// waiting thread hands its core to one with work (perhaps the very thread it waits for) instead of
// burning it; with nothing else runnable, the yield returns at once.
template <class Done>
bool spin_until(const Done& done, std::chrono::microseconds budget) {
  const auto start = std::chrono::steady_clock::now();
  for (;;) {
    for (int i = 0; i < 64; ++i) {
      if (done()) return true;
      cpu_relax();
    }
    const auto waited = std::chrono::steady_clock::now() - start;
    if (waited > budget) return done();
    if (waited > kPauseOnly) std::this_thread::yield();
  }
}
}  // namespace

ThreadPool::ThreadPool(int n_threads) {
  if (n_threads <= 0)
    n_threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  n_threads_ = n_threads;
  lanes_ = std::make_unique<Lane[]>(static_cast<size_t>(n_threads_));
  for (int i = 1; i < n_threads_; ++i) workers_.emplace_back([this, i] { worker_loop(i); });
}

ThreadPool::~ThreadPool() {
  stopping_.store(true);
  { std::lock_guard<std::mutex> lock(mutex_); }
  work_cv_.notify_all();
  for (auto& w : workers_) w.join();
}

void ThreadPool::parallel_for(int64_t n, const RangeFn& fn) {
  if (n <= 0) return;
  if (n_threads_ == 1 || n == 1) {
    fn(0, n);
    return;
  }
  const auto chunks = static_cast<uint64_t>(
      std::min<int64_t>({n, kChunksPerThread * n_threads_, static_cast<int64_t>(kChunkMask)}));
  // No thread touches these now: every chunk of the previous job is done.
  job_ = &fn;
  job_n_ = n;
  job_chunks_ = static_cast<int64_t>(chunks);
  chunks_done_.store(0, std::memory_order_relaxed);
  const uint64_t job = job_number_.load(std::memory_order_relaxed) + 1;
  const uint64_t threads = static_cast<uint64_t>(n_threads_);
  for (uint64_t l = 0; l < threads; ++l) {
    const uint64_t begin = l * chunks / threads, end = (l + 1) * chunks / threads;
    lanes_[l].claim.store((job & kJobMask) << 32 | end << 16 | begin, std::memory_order_release);
  }
  job_number_.store(job);
  if (sleeping_workers_.load() > 0) {
    { std::lock_guard<std::mutex> lock(mutex_); }
    work_cv_.notify_all();
  }
  run_chunks(job, 0);
  // seq_cst loads (plain loads on x86) here and in `changed`: with the seq_cst counter updates,
  // either the sleeper sees the change or the changer sees the sleeper.
  auto all_done = [&] { return chunks_done_.load() == static_cast<int64_t>(chunks); };
  if (spin_until(all_done, kCallerSpin)) return;
  std::unique_lock<std::mutex> lock(mutex_);
  caller_sleeping_.store(true);
  done_cv_.wait(lock, all_done);
  caller_sleeping_.store(false);
}

int ThreadPool::run_chunks(uint64_t job, int own) {
  int ran = 0;
  // The job's chunk count, read while this thread still holds one of them: once its last one is
  // counted, the caller may publish the next job.
  int64_t chunks = 0;
  for (int k = 0; k < n_threads_; ++k) {
    Lane& lane = lanes_[static_cast<size_t>((own + k) % n_threads_)];
    uint64_t s = lane.claim.load(std::memory_order_acquire);
    for (;;) {
      // A lane of a later job: every chunk of this one was claimed.
      if (s >> 32 != (job & kJobMask)) break;
      const uint64_t next = s & kChunkMask;
      if (next >= ((s >> 16) & kChunkMask)) break;
      // A stale `s` (another thread claimed from this lane) fails and is reloaded.
      if (!lane.claim.compare_exchange_weak(s, s + 1, std::memory_order_acq_rel,
                                            std::memory_order_acquire)) {
        continue;
      }
      chunks = job_chunks_;
      int64_t begin, end;
      chunk_bounds(job_n_, chunks, static_cast<int64_t>(next), &begin, &end);
      if (begin < end) (*job_)(begin, end);
      ++ran;
      ++s;
    }
  }
  // One update of the shared counter per thread and job, not per chunk.
  if (ran > 0 && chunks_done_.fetch_add(ran) + ran == chunks && caller_sleeping_.load()) {
    { std::lock_guard<std::mutex> lock(mutex_); }
    done_cv_.notify_one();
  }
  return ran;
}

void ThreadPool::worker_loop(int lane) {
  uint64_t seen = job_number_.load(std::memory_order_acquire);
  auto changed = [&] { return stopping_.load() || job_number_.load() != seen; };
  for (;;) {
    if (!spin_until(changed, kWorkerSpin)) {
      std::unique_lock<std::mutex> lock(mutex_);
      sleeping_workers_.fetch_add(1);
      work_cv_.wait(lock, changed);
      sleeping_workers_.fetch_sub(1);
    }
    if (stopping_.load()) return;
    seen = job_number_.load(std::memory_order_acquire);
    run_chunks(seen, lane);
  }
}

}  // namespace infera
