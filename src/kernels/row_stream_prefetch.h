#pragma once
// Software prefetch for the decode (one-token) kernels, which read a few weight rows side by side.
//
// A thread takes a contiguous run of rows, kRows at a time, and reads each group's rows in step
// from their first byte to their last. In the order it consumes memory, what follows byte `pos` of
// row r is byte pos + 1 of row r, and after the row's end the same row of the next group (r +
// kRows), not row r + 1, which the kernel is reading at that very moment. Asking for "the line
// 4 KiB further on" in addresses therefore requests lines already under way whenever 4 KiB
// reaches the next row: with 2304-byte rows (Q4_0/Q4_K at 4096 columns) two of every four rows
// came in unprefetched, and both kernels streamed at ~70 % of the read bandwidth instead of ~90 %.
// RowStreamPrefetch follows each row on into the rows its thread reads next.
//
// Only prefetches are issued past the end of the weights (they do not fault); the addresses are
// computed as integers, never as pointers past the end of the data.
#include <cstdint>

namespace infera {

// Requests the 64-byte line holding `address` into L1. GCC 12 at -O2 deleted every
// __builtin_prefetch of RowStreamPrefetch (the kernels streamed at ~55 % of the bandwidth with no
// prefetch at all): a prefetch is only a hint to it. An asm statement with side effects is always
// issued.
inline void prefetch_line(uintptr_t address) {
#if defined(__x86_64__) || defined(__i386__)
  __asm__ volatile("prefetcht0 (%0)" : : "r"(address));
#else
  __builtin_prefetch(reinterpret_cast<const void*>(address), 0, 3);
#endif
}

// How far ahead in its own row the decode kernels request each row's bytes, line by line as they
// read (not a burst per row, as matmul.cpp sends for the kernels of several tokens). Measured: 4
// KiB took Llama-1B Q4_0 decode from ~12 to ~14 t/s and F16 from 4.30 to 4.50 t/s on one core; 1
// and 2 KiB per row did no better with the row stream (bench/RESULTS.md).
constexpr uint64_t kDecodeRowLeadBytes = 4096;

// Requests the lines kDecodeRowLeadBytes past kBytes at `at`, for kernels whose thread reads one
// contiguous stream (rows interleaved 8 at a time: interleaved_rows.h) a small tile of kBytes at a
// time: one prefetch per 64 bytes, unrolled, without RowStreamPrefetch's line loop. Consecutive
// tiles leave no gap of a line between their requests. Measured on Q4_1 and Q8_0 tiles (160, 272
// bytes; 3072 × 576 from memory, of the read probe, best of 3: 77 → 79 %, 76 → 80 %); on Q4_K's
// 1152-byte tiles it streamed worse (median ~86 → ~73 %), which keep RowStreamPrefetch.
template <uint64_t kBytes>
inline void prefetch_stream_ahead(const void* at) {
  const uintptr_t first = reinterpret_cast<uintptr_t>(at) + kDecodeRowLeadBytes;
#pragma GCC unroll 32
  for (uint64_t off = 0; off < kBytes; off += 64) prefetch_line(first + off);
}

class RowStreamPrefetch {
 public:
  // Rows of row_bytes, read n_rows (> 0) at a time; each row's bytes are requested `ahead` bytes
  // before the kernel reads them. row_bytes 0: one row of unknown length, followed on in addresses.
  RowStreamPrefetch(uint64_t row_bytes, int n_rows, uint64_t ahead)
      : row_bytes_(row_bytes > 0 ? row_bytes : UINT64_MAX),
        group_bytes_(row_bytes * static_cast<uint64_t>(n_rows)),
        whole_rows_ahead_(ahead / row_bytes_),
        rest_ahead_(ahead % row_bytes_) {}

  // Requests what the kernel will read `ahead` bytes after bytes [pos, pos + bytes) of `row`
  // (pos + bytes <= row_bytes). Called for consecutive ranges of a row, it requests each line once.
  void operator()(const void* row, uint64_t pos, uint64_t bytes) const {
    for_each_line(row, pos, bytes, [](uintptr_t line) { prefetch(line); });
  }

  // The addresses of the lines operator() requests, in order, each passed to `line`.
  template <typename LineFn>
  void for_each_line(const void* row, uint64_t pos, uint64_t bytes, const LineFn& line) const {
    uintptr_t base = reinterpret_cast<uintptr_t>(row) + whole_rows_ahead_ * group_bytes_;
    uint64_t at = pos + rest_ahead_;
    if (at >= row_bytes_) {
      at -= row_bytes_;
      base += group_bytes_;
    }
    const uint64_t end = at + bytes;
    if (end <= row_bytes_) return lines(base + at, base + end, line);
    lines(base + at, base + row_bytes_, line);
    lines(base + group_bytes_, base + group_bytes_ + (end - row_bytes_), line);
  }

 private:
  // The lines that start in [begin, end): a line that starts before `begin` belongs to the range
  // before it.
  template <typename LineFn>
  static void lines(uintptr_t begin, uintptr_t end, const LineFn& line_fn) {
    for (uintptr_t line = (begin + 63) & ~uintptr_t{63}; line < end; line += 64) line_fn(line);
  }

  static void prefetch(uintptr_t line) { prefetch_line(line); }

  uint64_t row_bytes_;
  uint64_t group_bytes_;
  uint64_t whole_rows_ahead_;
  uint64_t rest_ahead_;
};

}  // namespace infera
