#pragma once
// How fast this machine streams memory into the cores: the ceiling on token generation, which
// reads every weight once per token. Measured, not looked up: a multi-threaded read of a buffer
// much larger than the last-level cache, summing it as 64-bit integers (AVX2 loads where the CPU
// has them), so that every byte is really loaded and the sum cannot be optimised away.
#include <cstdint>
#include <memory>
#include <string_view>

#include "core/thread_pool.h"

namespace infera {

struct MemBwResult {
  double gb_per_s = 0.0;        // best run: bytes read / seconds, in 1e9 bytes per second
  double worst_gb_per_s = 0.0;  // slowest run, to show the spread
  uint64_t buffer_bytes = 0;    // bytes read per run
  int runs = 0;
  int threads = 0;
  std::string_view loop;  // "avx2" or "scalar": the read loop that ran
  uint64_t checksum = 0;  // Σ of the buffer's 64-bit words (mod 2^64): proves the reads happened
};

// The probe's buffer, kept to be read again: a caller that compares a kernel's streaming rate with
// the machine's reads it right before each of its own timings, so that both see the same state of
// a shared host whose bandwidth drifts by tens of percent within seconds (bench-kernels).
class ReadBandwidthProbe {
 public:
  // Fills a buffer of `buffer_bytes` (rounded down to a multiple of 32, at least 32) with word
  // i = i, each thread of `pool` first touching the pages it will read. Throws infera::Error
  // (kInvalidArgument) for a buffer under 32 bytes, and lets std::bad_alloc through when memory is
  // short.
  ReadBandwidthProbe(ThreadPool& pool, uint64_t buffer_bytes);
  ReadBandwidthProbe(const ReadBandwidthProbe&) = delete;
  ReadBandwidthProbe& operator=(const ReadBandwidthProbe&) = delete;

  // Reads the whole buffer once with every thread of the pool, one contiguous slice each; returns
  // bytes read / seconds in 1e9 bytes per second.
  double read_once();

  uint64_t buffer_bytes() const;
  std::string_view loop() const;                   // "avx2" or "scalar"
  uint64_t checksum() const { return checksum_; }  // Σ of the words at the last read

 private:
  struct AlignedFree {
    void operator()(uint64_t* p) const;
  };
  ThreadPool& pool_;
  uint64_t n_units_;
  std::unique_ptr<uint64_t[], AlignedFree> words_;
  uint64_t checksum_ = 0;
};

// A ReadBandwidthProbe read `runs` times (≥ 1): the best and slowest rates. Throws
// infera::Error (kInvalidArgument) for a buffer under 32 bytes or runs < 1.
MemBwResult measure_read_bandwidth(ThreadPool& pool, uint64_t buffer_bytes, int runs);

// Σ_{i<n} i mod 2^64: what checksum must be for a buffer of n words.
uint64_t expected_membw_checksum(uint64_t n_words);

}  // namespace infera
