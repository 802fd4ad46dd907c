// CacheAlignedVector: every allocation, whatever its size and element type, starts on a line.
#include "core/cache_aligned.h"

#include <gtest/gtest.h>

#include <cstdint>

namespace infera {
namespace {

TEST(CacheAligned, BlocksStartOnACacheLine) {
  for (size_t n : {1u, 3u, 17u, 4096u, 1u << 20}) {
    CacheAlignedVector<uint8_t> bytes(n);
    CacheAlignedVector<float> floats(n);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(bytes.data()) % kCacheLineBytes, 0u) << n;
    EXPECT_EQ(reinterpret_cast<uintptr_t>(floats.data()) % kCacheLineBytes, 0u) << n;
    floats.resize(3 * n + 1);  // a reallocation keeps the alignment
    EXPECT_EQ(reinterpret_cast<uintptr_t>(floats.data()) % kCacheLineBytes, 0u) << n;
  }
}

}  // namespace
}  // namespace infera
