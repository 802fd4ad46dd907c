// The paged KV cache's block accounting and its prefix cache.
#include "model/kv_cache.h"

#include <gtest/gtest.h>

#include <numeric>
#include <vector>

#include "core/error.h"

namespace infera {
namespace {

ModelConfig tiny_config() {
  ModelConfig c;
  c.n_layer = 2;
  c.n_head_kv = 1;
  c.head_dim_k = 4;
  c.head_dim_v = 4;
  return c;
}

std::vector<int32_t> iota_tokens(int n, int32_t first = 0) {
  std::vector<int32_t> t(static_cast<size_t>(n));
  std::iota(t.begin(), t.end(), first);
  return t;
}

TEST(KvCache, ReservesBlocksOnDemandAndGivesThemBack) {
  KvCache cache(tiny_config(), 4, 8);
  EXPECT_EQ(cache.capacity_tokens(), 32);
  EXPECT_EQ(cache.bytes(), 2u * 32u * 8u * 2u);
  KvSequence a, b;
  ASSERT_TRUE(cache.reserve(a, 9));  // two blocks
  EXPECT_EQ(a.blocks.size(), 2u);
  EXPECT_EQ(cache.used_blocks(), 2);
  ASSERT_TRUE(cache.reserve(a, 16));  // still two
  EXPECT_EQ(a.blocks.size(), 2u);
  EXPECT_FALSE(cache.reserve(b, 17));  // three more do not fit: nothing taken
  EXPECT_TRUE(b.blocks.empty());
  ASSERT_TRUE(cache.reserve(b, 16));
  EXPECT_EQ(cache.available_blocks(), 0);
  cache.release(a);
  EXPECT_TRUE(a.blocks.empty());
  EXPECT_EQ(cache.available_blocks(), 2);
}

TEST(KvCache, RejectsEmptySizes) {
  EXPECT_THROW(KvCache(tiny_config(), 0, 8), Error);
  EXPECT_THROW(KvCache(tiny_config(), 4, 0), Error);
}

TEST(KvCache, SharesRegisteredFullBlocksOfACommonPrefix) {
  KvCache cache(tiny_config(), 8, 4);
  const std::vector<int32_t> prompt = iota_tokens(10);  // blocks [0,4) [4,8), 2 tokens over
  KvSequence a;
  ASSERT_TRUE(cache.reserve(a, 10));
  a.n_past = 10;
  cache.register_full_blocks(a, prompt);

  // Same 8 first tokens, then different ones: the two full blocks are shared.
  std::vector<int32_t> other = prompt;
  other[9] = 99;
  KvSequence b;
  EXPECT_EQ(cache.attach_prefix(b, other), 8);
  ASSERT_EQ(b.blocks.size(), 2u);
  EXPECT_EQ(b.blocks[0], a.blocks[0]);
  EXPECT_EQ(b.blocks[1], a.blocks[1]);
  EXPECT_EQ(cache.used_blocks(), 3);  // shared blocks count once

  // A differing token inside the second block stops the match after the first.
  std::vector<int32_t> diverging = prompt;
  diverging[5] = 77;
  KvSequence c;
  EXPECT_EQ(cache.attach_prefix(c, diverging), 4);

  // The last token is always computed: an 8-token prompt reuses one block, not two.
  KvSequence d;
  EXPECT_EQ(cache.attach_prefix(d, std::vector<int32_t>(prompt.begin(), prompt.begin() + 8)), 4);
  // A prefix cannot be attached to a sequence that already has blocks.
  EXPECT_THROW(cache.attach_prefix(d, prompt), Error);
}

TEST(KvCache, ReleasedBlocksStayFindableUntilTheirMemoryIsNeeded) {
  KvCache cache(tiny_config(), 4, 4);
  const std::vector<int32_t> prompt = iota_tokens(9);
  KvSequence a;
  ASSERT_TRUE(cache.reserve(a, 9));
  a.n_past = 9;
  cache.register_full_blocks(a, prompt);
  cache.release(a);
  EXPECT_EQ(cache.available_blocks(), 4);  // cached blocks count as available

  KvSequence b;
  EXPECT_EQ(cache.attach_prefix(b, prompt), 8);
  EXPECT_EQ(cache.available_blocks(), 2);
  cache.release(b);

  // Needing every block evicts the cached ones; the prefix is then gone.
  KvSequence big;
  ASSERT_TRUE(cache.reserve(big, 16));
  cache.release(big);
  KvSequence c;
  EXPECT_EQ(cache.attach_prefix(c, prompt), 0);
}

TEST(KvCache, IdenticalBlocksComputedTwiceKeepOneFindableCopy) {
  KvCache cache(tiny_config(), 8, 4);
  const std::vector<int32_t> prompt = iota_tokens(5);
  KvSequence a, b;
  ASSERT_TRUE(cache.reserve(a, 5));
  ASSERT_TRUE(cache.reserve(b, 5));
  a.n_past = b.n_past = 5;
  cache.register_full_blocks(a, prompt);
  cache.register_full_blocks(b, prompt);
  cache.release(a);
  cache.release(b);
  // b's duplicate went back to the free list: only a's block is cached.
  KvSequence c;
  EXPECT_EQ(cache.attach_prefix(c, prompt), 4);
  EXPECT_EQ(c.blocks[0], 0);
}

TEST(KvCache, TruncateKeepsWholeBlocksAndRefusesToSplitASharedOne) {
  KvCache cache(tiny_config(), 8, 4);
  const std::vector<int32_t> prompt = iota_tokens(13);
  KvSequence a;
  ASSERT_TRUE(cache.reserve(a, 13));
  a.n_past = 13;
  cache.register_full_blocks(a, prompt);
  cache.truncate(a, 8);
  EXPECT_EQ(a.blocks.size(), 2u);
  EXPECT_EQ(a.n_past, 8);
  // The block given back still holds [8, 12): it stays findable.
  KvSequence b;
  EXPECT_EQ(cache.attach_prefix(b, prompt), 12);
  EXPECT_THROW(cache.truncate(a, 6), Error);  // block [4,8) is b's too
  cache.release(b);
  cache.truncate(a, 6);  // now a's alone: it is unregistered, then rewritten
  EXPECT_EQ(a.n_past, 6);
  KvSequence c;
  EXPECT_EQ(cache.attach_prefix(c, prompt), 4);
  EXPECT_THROW(cache.truncate(a, 7), Error);  // beyond n_past
}

}  // namespace
}  // namespace infera
