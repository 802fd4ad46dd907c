#include "core/membw.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <new>
#include <string>

#include "core/error.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define INFERA_MEMBW_X86 1
#endif

namespace infera {
namespace {

// The buffer is read in units of 32 bytes (four words, one AVX2 load).
constexpr uint64_t kUnitBytes = 32;
constexpr uint64_t kWordsPerUnit = kUnitBytes / sizeof(uint64_t);

// Σ words[0, n) mod 2^64 with four independent accumulators, so the adds never wait on one
// another and the loads are the only limit.
uint64_t sum_scalar(const uint64_t* words, uint64_t n) {
  uint64_t a = 0, b = 0, c = 0, d = 0;
  for (uint64_t i = 0; i + 4 <= n; i += 4) {
    a += words[i];
    b += words[i + 1];
    c += words[i + 2];
    d += words[i + 3];
  }
  return a + b + c + d;
}

#ifdef INFERA_MEMBW_X86
// The same sum with 32-byte loads, two per 64-byte cache line, into two accumulators.
__attribute__((target("avx2"))) uint64_t sum_avx2(const uint64_t* words, uint64_t n) {
  __m256i acc0 = _mm256_setzero_si256();
  __m256i acc1 = _mm256_setzero_si256();
  uint64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    acc0 = _mm256_add_epi64(acc0, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(words + i)));
    acc1 =
        _mm256_add_epi64(acc1, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(words + i + 4)));
  }
  if (i < n)  // one unit of four words left
    acc0 = _mm256_add_epi64(acc0, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(words + i)));
  alignas(32) uint64_t lanes[4];
  _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), _mm256_add_epi64(acc0, acc1));
  return lanes[0] + lanes[1] + lanes[2] + lanes[3];
}

bool have_avx2() {
  static const bool avx2 = __builtin_cpu_supports("avx2");
  return avx2;
}
#endif

// The read loop this CPU runs, and its name.
struct SumLoop {
  uint64_t (*sum)(const uint64_t*, uint64_t);
  std::string_view name;
};
SumLoop sum_loop() {
#ifdef INFERA_MEMBW_X86
  if (have_avx2()) return {sum_avx2, "avx2"};
#endif
  return {sum_scalar, "scalar"};
}

}  // namespace

uint64_t expected_membw_checksum(uint64_t n_words) {
  // n(n-1)/2 without overflow before the wrap: halve whichever factor is even.
  if (n_words == 0) return 0;
  return n_words % 2 == 0 ? (n_words / 2) * (n_words - 1) : n_words * ((n_words - 1) / 2);
}

ReadBandwidthProbe::ReadBandwidthProbe(ThreadPool& pool, uint64_t buffer_bytes)
    : pool_(pool), n_units_(buffer_bytes / kUnitBytes) {
  if (buffer_bytes < kUnitBytes)
    throw Error(ErrorKind::kInvalidArgument,
                "the bandwidth probe needs at least 32 bytes, got " + std::to_string(buffer_bytes));
  const uint64_t bytes = kUnitBytes * n_units_;
  words_.reset(static_cast<uint64_t*>(::operator new[](bytes, std::align_val_t{64})));
  uint64_t* const words = words_.get();
  // First touch by the thread that will read the slice (same split as the reads below), so on a
  // multi-socket machine each slice sits in its reader's local memory.
  pool_.parallel_for(static_cast<int64_t>(n_units_), [words](int64_t begin, int64_t end) {
    for (uint64_t i = static_cast<uint64_t>(begin) * kWordsPerUnit;
         i < static_cast<uint64_t>(end) * kWordsPerUnit; ++i)
      words[i] = i;
  });
}

void ReadBandwidthProbe::AlignedFree::operator()(uint64_t* p) const {
  ::operator delete[](p, std::align_val_t{64});
}

uint64_t ReadBandwidthProbe::buffer_bytes() const { return n_units_ * kUnitBytes; }

std::string_view ReadBandwidthProbe::loop() const { return sum_loop().name; }

double ReadBandwidthProbe::read_once() {
  const auto sum = sum_loop().sum;
  const uint64_t* const words = words_.get();
  // Wrapping addition is commutative, so the total does not depend on which slice ends first.
  std::atomic<uint64_t> total{0};
  const auto t0 = std::chrono::steady_clock::now();
  pool_.parallel_for(static_cast<int64_t>(n_units_), [&](int64_t begin, int64_t end) {
    const uint64_t first = static_cast<uint64_t>(begin) * kWordsPerUnit;
    const uint64_t count = static_cast<uint64_t>(end - begin) * kWordsPerUnit;
    total.fetch_add(sum(words + first, count), std::memory_order_relaxed);
  });
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  checksum_ = total.load();
  return static_cast<double>(buffer_bytes()) / std::max(seconds, 1e-9) * 1e-9;
}

MemBwResult measure_read_bandwidth(ThreadPool& pool, uint64_t buffer_bytes, int runs) {
  if (runs < 1)
    throw Error(ErrorKind::kInvalidArgument,
                "the bandwidth probe needs at least one run, got " + std::to_string(runs));
  ReadBandwidthProbe probe(pool, buffer_bytes);
  MemBwResult result;
  result.buffer_bytes = probe.buffer_bytes();
  result.runs = runs;
  result.threads = pool.size();
  result.loop = probe.loop();
  for (int r = 0; r < runs; ++r) {
    const double gbs = probe.read_once();
    result.gb_per_s = r == 0 ? gbs : std::max(result.gb_per_s, gbs);
    result.worst_gb_per_s = r == 0 ? gbs : std::min(result.worst_gb_per_s, gbs);
  }
  result.checksum = probe.checksum();
  return result;
}

}  // namespace infera
