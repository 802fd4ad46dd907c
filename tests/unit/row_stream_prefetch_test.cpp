// RowStreamPrefetch: the lines a decode kernel requests while it reads groups of rows side by side
// must each be requested once, about `ahead` bytes of their row's stream before the kernel reads
// them, and none may be skipped once the stream is under way.
#include "kernels/row_stream_prefetch.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <map>

namespace infera {
namespace {

struct Shape {
  uint64_t row_bytes;
  uint64_t piece;  // bytes the kernel reads of each row in turn (a block, a group of blocks)
  int n_rows;
};

// Simulates a thread reading n_groups groups of s.n_rows consecutive rows from `base`: per group,
// piece by piece, each row's piece in turn, requesting before it reads. Returns, for every
// requested line, when it was requested (bytes read so far); fails on a line requested twice.
std::map<uintptr_t, uint64_t> requests(const Shape& s, uintptr_t base, int n_groups,
                                       uint64_t ahead) {
  const RowStreamPrefetch prefetch(s.row_bytes, s.n_rows, ahead);
  std::map<uintptr_t, uint64_t> requested;
  uint64_t read = 0;
  for (int g = 0; g < n_groups; ++g) {
    for (uint64_t pos = 0; pos < s.row_bytes; pos += s.piece) {
      const uint64_t bytes = std::min(s.piece, s.row_bytes - pos);
      for (int r = 0; r < s.n_rows; ++r) {
        const uintptr_t row = base + (static_cast<uint64_t>(g) * s.n_rows + r) * s.row_bytes;
        prefetch.for_each_line(reinterpret_cast<const void*>(row), pos, bytes, [&](uintptr_t line) {
          EXPECT_EQ(line % 64, 0u);
          EXPECT_TRUE(requested.emplace(line, read).second) << "line requested twice: " << line;
        });
        read += bytes;
      }
    }
  }
  return requested;
}

// When the simulated thread reads the byte at `address` (bytes read before it), as requests().
uint64_t read_at(const Shape& s, uintptr_t base, uintptr_t address) {
  const uint64_t offset = address - base;
  const uint64_t row = offset / s.row_bytes;
  const uint64_t pos = offset % s.row_bytes;
  const uint64_t group = row / s.n_rows;
  const uint64_t piece_start = pos / s.piece * s.piece;
  const uint64_t piece_bytes = std::min(s.piece, s.row_bytes - piece_start);
  return group * s.n_rows * s.row_bytes + piece_start * s.n_rows + (row % s.n_rows) * piece_bytes;
}

TEST(RowStreamPrefetch, RequestsEachLineOnceAheadOfItsRowStream) {
  constexpr uint64_t kAhead = 4096;
  const Shape shapes[] = {
      {2304, 144, 4},  // Q4_K at 4096 columns, block by block
      {1152, 144, 4},  // Q4_K at 2048 columns
      {1680, 210, 4},  // Q6_K at 2048 columns: rows not a whole number of lines
      {4096, 64, 4},   // F16 at 2048 columns, a line at a time
      {2304, 144, 2},  // the passes of 2 and 1 rows
      {2304, 144, 1},  //
      {272, 272, 4},   // Q8_0 at 256 columns: several rows within `ahead`
      {1000, 64, 3},   // a short last piece per row
      {5000, 160, 4},  // rows longer than `ahead`
  };
  for (const Shape& s : shapes) {
    SCOPED_TRACE(testing::Message()
                 << "row_bytes " << s.row_bytes << ", piece " << s.piece << ", rows " << s.n_rows);
    const uintptr_t base = 0x100000 + 8;  // weights need not start on a line
    constexpr int kGroups = 24;
    const auto requested = requests(s, base, kGroups, kAhead);
    const uint64_t lead = kAhead * s.n_rows;
    const uint64_t slack = s.n_rows * (s.piece + 64);
    const uint64_t total = static_cast<uint64_t>(kGroups) * s.n_rows * s.row_bytes;
    int checked = 0;
    for (uintptr_t line = (base + 63) & ~uintptr_t{63}; line < base + total; line += 64) {
      const uint64_t when_read = read_at(s, base, line);
      // Lines read before the streams are `ahead` along were never meant to be requested.
      if (when_read < lead + slack) continue;
      const auto it = requested.find(line);
      ASSERT_NE(it, requested.end()) << "line at offset " << line - base << " never requested";
      const uint64_t early = when_read - it->second;
      EXPECT_GE(early + slack, lead) << "line at offset " << line - base;
      EXPECT_LE(early, lead + slack) << "line at offset " << line - base;
      ++checked;
    }
    EXPECT_GT(checked, 0);
  }
}

TEST(RowStreamPrefetch, ZeroRowBytesFollowsOneRowInAddresses) {
  const RowStreamPrefetch prefetch(0, 1, 4096);
  const uintptr_t base = 0x200000 + 40;
  std::map<uintptr_t, int> seen;
  for (uint64_t pos = 0; pos < 10 * 144; pos += 144) {
    prefetch.for_each_line(reinterpret_cast<const void*>(base), pos, 144, [&](uintptr_t line) {
      EXPECT_GE(line, base + pos + 4096);
      EXPECT_LT(line, base + pos + 144 + 4096);
      EXPECT_EQ(++seen[line], 1);
    });
  }
  // Every line that starts within [base + 4096, base + 4096 + 1440).
  EXPECT_EQ(seen.size(), ((base + 4096 + 1440 - 1) / 64) - ((base + 4096 + 63) / 64) + 1);
}

}  // namespace
}  // namespace infera
