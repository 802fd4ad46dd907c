// ThreadPool (core/thread_pool.h): every index is covered exactly once, by chunks that depend only
// on n and the thread count; back-to-back jobs and jobs after a pause (workers asleep) both
// complete; nothing runs for an empty range.
#include "core/thread_pool.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

namespace infera {
namespace {

// Runs one job of n and returns its chunks, sorted; fails if an index is covered twice or never.
std::vector<std::pair<int64_t, int64_t>> chunks_of(ThreadPool& pool, int64_t n) {
  std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
  std::mutex mutex;
  std::vector<std::pair<int64_t, int64_t>> chunks;
  pool.parallel_for(n, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) hits[static_cast<size_t>(i)].fetch_add(1);
    std::lock_guard<std::mutex> lock(mutex);
    chunks.emplace_back(begin, end);
  });
  for (int64_t i = 0; i < n; ++i)
    EXPECT_EQ(hits[static_cast<size_t>(i)].load(), 1) << "index " << i;
  std::sort(chunks.begin(), chunks.end());
  return chunks;
}

TEST(ThreadPool, CoversEveryIndexOnceWithFixedChunks) {
  for (int threads : {1, 2, 3, 4, 8}) {
    ThreadPool pool(threads);
    EXPECT_EQ(pool.size(), threads);
    for (int64_t n : {1, 2, 3, 7, 8, 9, 100, 1001}) {
      const auto first = chunks_of(pool, n);
      ASSERT_FALSE(first.empty());
      EXPECT_EQ(first.front().first, 0);
      EXPECT_EQ(first.back().second, n);
      for (int rep = 0; rep < 5; ++rep)
        EXPECT_EQ(chunks_of(pool, n), first) << threads << " threads, n " << n;
    }
  }
}

TEST(ThreadPool, EmptyRangeCallsNothing) {
  ThreadPool pool(2);
  int calls = 0;
  pool.parallel_for(0, [&](int64_t, int64_t) { ++calls; });
  pool.parallel_for(-3, [&](int64_t, int64_t) { ++calls; });
  EXPECT_EQ(calls, 0);
}

// Many short jobs in a row (workers spinning), then jobs after pauses longer than the spin (workers
// asleep): each must see the previous job's writes and complete.
TEST(ThreadPool, BackToBackAndAfterSleep) {
  ThreadPool pool(3);
  std::vector<int64_t> data(64, 0);
  for (int job = 0; job < 20000; ++job) {
    pool.parallel_for(static_cast<int64_t>(data.size()), [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) ++data[static_cast<size_t>(i)];
    });
  }
  for (int pause = 0; pause < 5; ++pause) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    pool.parallel_for(static_cast<int64_t>(data.size()), [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) ++data[static_cast<size_t>(i)];
    });
  }
  for (int64_t v : data) EXPECT_EQ(v, 20005);
}

// A chunk that outlasts the caller's spin makes the caller sleep until it is done.
TEST(ThreadPool, WaitsForASlowChunk) {
  ThreadPool pool(2);
  std::atomic<int> done{0};
  pool.parallel_for(4, [&](int64_t begin, int64_t end) {
    if (begin == 0) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    done.fetch_add(static_cast<int>(end - begin));
  });
  EXPECT_EQ(done.load(), 4);
}

}  // namespace
}  // namespace infera
