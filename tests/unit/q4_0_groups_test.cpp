// Q4_0 rows regrouped at load (quant/q4_0_groups.h, WeightLayout::kQ4_0Groups): the bytes sit
// where the header says, restoring gives the stored row back, and matmul and the embedding lookup
// give the same bits on either layout on every ISA this CPU runs (the AVX2 and AVX-512 kernels
// read the regrouped rows; the scalar reference restores them first). Which layout a model's
// matrices get: interleaved_rows_test.cpp.
#include "quant/q4_0_groups.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <vector>

#include "core/thread_pool.h"
#include "kernels/cpu_features.h"
#include "kernels/matmul.h"
#include "kernels/weight_regroup.h"
#include "quant/float16.h"

namespace infera {
namespace {

// nb random blocks: any quants, scales of either sign and several magnitudes.
std::vector<block_q4_0> random_blocks(int64_t nb, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> scale(-0.05f, 0.05f);
  std::vector<block_q4_0> b(static_cast<size_t>(nb));
  for (auto& blk : b) {
    blk.d = fp32_to_fp16(scale(rng));
    for (auto& q : blk.qs) q = static_cast<uint8_t>(rng());
  }
  return b;
}

const uint8_t* bytes(const std::vector<block_q4_0>& b) {
  return reinterpret_cast<const uint8_t*>(b.data());
}

TEST(Q4_0Groups, BytesSitWhereTheLayoutSays) {
  const int64_t nb = 19;  // two whole groups and 3 blocks as stored
  const auto row = random_blocks(nb, 1);
  std::vector<uint8_t> out(static_cast<size_t>(nb) * sizeof(block_q4_0), 0xee);
  q4_0_regroup_row(row.data(), nb, out.data());
  for (int64_t g = 0; g < 2; ++g) {
    const uint8_t* group = out.data() + g * kQ4_0GroupBytes;
    for (int64_t k = 0; k < kQ4_0GroupBlocks; ++k) {
      const block_q4_0& b = row[static_cast<size_t>(g * kQ4_0GroupBlocks + k)];
      EXPECT_EQ(std::memcmp(group + 16 * k, b.qs, 16), 0) << "group " << g << " block " << k;
      EXPECT_EQ(std::memcmp(group + 128 + 2 * k, &b.d, 2), 0) << "group " << g << " block " << k;
    }
  }
  EXPECT_EQ(std::memcmp(out.data() + 2 * kQ4_0GroupBytes, row.data() + 16, 3 * sizeof(block_q4_0)),
            0);
}

TEST(Q4_0Groups, ALastGroupOfFourBlocksIsAHalfGroup) {
  const int64_t nb = 12;  // a whole group and a half group
  const auto row = random_blocks(nb, 2);
  std::vector<uint8_t> out(static_cast<size_t>(nb) * sizeof(block_q4_0), 0xee);
  q4_0_regroup_row(row.data(), nb, out.data());
  const uint8_t* half = out.data() + kQ4_0GroupBytes;
  for (int64_t k = 0; k < 4; ++k) {
    const block_q4_0& b = row[static_cast<size_t>(8 + k)];
    EXPECT_EQ(std::memcmp(half + 16 * k, b.qs, 16), 0) << "block " << k;
    EXPECT_EQ(std::memcmp(half + 64 + 2 * k, &b.d, 2), 0) << "block " << k;
  }
  EXPECT_TRUE(q4_0_half_group(28));
  EXPECT_FALSE(q4_0_half_group(27));
  EXPECT_FALSE(q4_0_half_group(29));
  EXPECT_FALSE(q4_0_half_group(24));
}

TEST(Q4_0Groups, RestoreGivesTheStoredRowBack) {
  for (const int64_t nb : {1, 4, 7, 8, 9, 12, 15, 16, 28, 29, 64}) {
    SCOPED_TRACE(nb);
    const auto row = random_blocks(nb, static_cast<uint32_t>(nb));
    std::vector<uint8_t> grouped(static_cast<size_t>(nb) * sizeof(block_q4_0));
    q4_0_regroup_row(row.data(), nb, grouped.data());
    if (nb >= kQ4_0GroupBlocks || q4_0_half_group(nb))
      EXPECT_NE(std::memcmp(grouped.data(), bytes(row), 18), 0);
    std::vector<block_q4_0> back(static_cast<size_t>(nb));
    q4_0_restore_row(grouped.data(), nb, back.data());
    EXPECT_EQ(std::memcmp(back.data(), row.data(), grouped.size()), 0);
  }
}

// A rows × cols Q4_0 matrix as stored, and a regrouped copy of it.
struct Matrices {
  std::vector<block_q4_0> stored_blocks;
  std::vector<uint8_t> grouped_bytes;
  WeightMatrix stored, grouped;
};

Matrices make_matrices(int64_t rows, int64_t cols, uint32_t seed) {
  Matrices m;
  const int64_t nb = cols / QK4_0;
  m.stored_blocks = random_blocks(rows * nb, seed);
  m.grouped_bytes.assign(bytes(m.stored_blocks),
                         bytes(m.stored_blocks) + m.stored_blocks.size() * sizeof(block_q4_0));
  m.stored = {TensorType::Q4_0, cols, rows, static_cast<uint64_t>(nb) * sizeof(block_q4_0),
              bytes(m.stored_blocks)};
  m.grouped = m.stored;
  m.grouped.data = m.grouped_bytes.data();
  regroup_in_place(m.grouped, m.grouped_bytes.data(), WeightLayout::kQ4_0Groups);
  return m;
}

class Q4_0GroupsOnIsa : public ::testing::TestWithParam<Isa> {
 protected:
  void SetUp() override {
    if (!isa_supported(GetParam())) GTEST_SKIP() << "this CPU cannot run " << isa_name(GetParam());
    set_isa_override(GetParam());
  }
  void TearDown() override { clear_isa_override(); }
};

TEST_P(Q4_0GroupsOnIsa, MatmulGivesTheSameBitsOnEitherLayout) {
  ThreadPool pool(2);
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  // Columns: whole groups only; groups and 1 or 7 blocks as stored; groups and a half group
  // (384; 896: Qwen2.5-0.5B); a half group alone. Rows: one, a few, a decode group of 16, and past
  // it. Tokens: decode, a few (token by token), and enough for the panel kernels.
  for (const int64_t cols : {128, 256, 288, 384, 480, 896, 1024}) {
    for (const int64_t rows : {1, 3, 16, 37}) {
      const Matrices m = make_matrices(rows, cols, static_cast<uint32_t>(cols + rows));
      EXPECT_EQ(m.grouped.layout, WeightLayout::kQ4_0Groups);
      for (const int64_t n_tokens : {1, 2, 9, 33}) {
        SCOPED_TRACE(::testing::Message()
                     << cols << " cols, " << rows << " rows, " << n_tokens << " tokens");
        std::vector<float> x(static_cast<size_t>(n_tokens * cols));
        for (float& v : x) v = normal(rng);
        std::vector<float> want(static_cast<size_t>(n_tokens * rows));
        std::vector<float> got(want.size(), -1.0f);
        matmul(m.stored, x.data(), n_tokens, want.data(), pool);
        matmul(m.grouped, x.data(), n_tokens, got.data(), pool);
        ASSERT_EQ(std::memcmp(want.data(), got.data(), want.size() * sizeof(float)), 0);
      }
    }
  }
}

TEST_P(Q4_0GroupsOnIsa, EmbeddingRowsAreTheSameOnEitherLayout) {
  const Matrices m = make_matrices(5, 896, 3);
  std::vector<float> want(896), got(896);
  for (int64_t r = 0; r < 5; ++r) {
    dequantize_matrix_row(m.stored, r, want.data());
    dequantize_matrix_row(m.grouped, r, got.data());
    ASSERT_EQ(std::memcmp(want.data(), got.data(), want.size() * sizeof(float)), 0) << "row " << r;
  }
}

INSTANTIATE_TEST_SUITE_P(Isas, Q4_0GroupsOnIsa,
                         ::testing::Values(Isa::kScalar, Isa::kAvx2, Isa::kAvx512),
                         [](const ::testing::TestParamInfo<Isa>& info) {
                           return std::string(isa_name(info.param));
                         });

}  // namespace
}  // namespace infera
