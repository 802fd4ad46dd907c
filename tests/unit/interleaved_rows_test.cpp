// Q4_0 … Q8_0, Q4_K and Q6_K rows interleaved 8 at a time at load (quant/interleaved_rows.h,
// WeightLayout::kInterleaved8): the bytes sit where the header says, restoring gives the stored
// rows back, matmul and the embedding lookup give the same bits on either layout on every ISA
// this CPU runs (AVX2's decode and prompt kernels read the interleaved rows; the other ISAs
// restore them first), and the layout each matrix gets at load.
#include "quant/interleaved_rows.h"

#include <gtest/gtest.h>

#include <cstddef>
#include <cstring>
#include <random>
#include <vector>

#include "core/thread_pool.h"
#include "kernels/cpu_features.h"
#include "kernels/matmul.h"
#include "kernels/weight_regroup.h"
#include "quant/blocks.h"
#include "quant/float16.h"

namespace infera {
namespace {

constexpr TensorType kTypes[] = {TensorType::Q4_0, TensorType::Q4_1, TensorType::Q5_0,
                                 TensorType::Q5_1, TensorType::Q8_0, TensorType::Q4_K,
                                 TensorType::Q6_K};

bool k_quant(TensorType type) { return type == TensorType::Q4_K || type == TensorType::Q6_K; }
int64_t block_elements(TensorType type) { return traits_of(type).block_elements; }

uint64_t block_bytes(TensorType type) { return traits_of(type).block_bytes; }

// rows × nb random blocks of `type`: any quants (and fifth bits, sub-block scales), scales (and
// mins) of either sign and several magnitudes. Every block type but Q6_K starts with its d; Q4_1,
// Q5_1 and Q4_K follow it with m (dmin); Q6_K ends with its d.
std::vector<uint8_t> random_rows(TensorType type, int64_t rows, int64_t nb, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> scale(-0.05f, 0.05f);
  const bool with_min =
      type == TensorType::Q4_1 || type == TensorType::Q5_1 || type == TensorType::Q4_K;
  const uint64_t d_at = type == TensorType::Q6_K ? offsetof(block_q6_K, d) : 0;
  std::vector<uint8_t> bytes(static_cast<size_t>(rows * nb) * block_bytes(type));
  for (uint8_t& v : bytes) v = static_cast<uint8_t>(rng());
  for (int64_t i = 0; i < rows * nb; ++i) {
    uint8_t* block = bytes.data() + i * block_bytes(type);
    const uint16_t d = fp32_to_fp16(scale(rng));
    const uint16_t m = fp32_to_fp16(scale(rng));
    std::memcpy(block + d_at, &d, sizeof d);
    if (with_min) std::memcpy(block + sizeof d, &m, sizeof m);
  }
  return bytes;
}

TEST(InterleavedRows, BytesSitWhereTheLayoutSays) {
  const int64_t nb = 3;
  const uint64_t row_bytes = nb * sizeof(block_q4_1);
  const auto rows = random_rows(TensorType::Q4_1, kInterleavedRows, nb, 1);
  std::vector<uint8_t> out(rows.size(), 0xee);
  interleave_rows(TensorType::Q4_1, rows.data(), row_bytes, nb, out.data());
  ASSERT_EQ(interleaved_tile_bytes(TensorType::Q4_1), 160u);
  ASSERT_EQ(interleaved_tile_bytes(TensorType::Q4_0), 144u);
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* tile = out.data() + b * 160;
    for (int r = 0; r < kInterleavedRows; ++r) {
      block_q4_1 blk;
      std::memcpy(&blk, rows.data() + r * row_bytes + b * sizeof blk, sizeof blk);
      for (int k = 0; k < 4; ++k)
        EXPECT_EQ(std::memcmp(tile + 32 * k + 4 * r, blk.qs + 4 * k, 4), 0)
            << "block " << b << " row " << r << " dword " << k;
      EXPECT_EQ(std::memcmp(tile + 128 + 2 * r, &blk.d, 2), 0) << "block " << b << " row " << r;
      EXPECT_EQ(std::memcmp(tile + 144 + 2 * r, &blk.m, 2), 0) << "block " << b << " row " << r;
    }
  }
}

TEST(InterleavedRows, FifthBitsAndEightBitQuantsSitWhereTheLayoutSays) {
  const int64_t nb = 2;
  ASSERT_EQ(interleaved_tile_bytes(TensorType::Q5_0), 176u);
  ASSERT_EQ(interleaved_tile_bytes(TensorType::Q5_1), 192u);
  ASSERT_EQ(interleaved_tile_bytes(TensorType::Q8_0), 272u);
  const uint64_t q5_bytes = nb * sizeof(block_q5_1);
  const auto q5 = random_rows(TensorType::Q5_1, kInterleavedRows, nb, 4);
  std::vector<uint8_t> out(q5.size());
  interleave_rows(TensorType::Q5_1, q5.data(), q5_bytes, nb, out.data());
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* tile = out.data() + b * 192;
    for (int r = 0; r < kInterleavedRows; ++r) {
      block_q5_1 blk;
      std::memcpy(&blk, q5.data() + r * q5_bytes + b * sizeof blk, sizeof blk);
      for (int k = 0; k < 4; ++k)
        EXPECT_EQ(std::memcmp(tile + 32 * k + 4 * r, blk.qs + 4 * k, 4), 0);
      EXPECT_EQ(std::memcmp(tile + 128 + 2 * r, &blk.d, 2), 0);
      EXPECT_EQ(std::memcmp(tile + 144 + 2 * r, &blk.m, 2), 0);
      // The fifth bits as bit planes: bit k of byte j the element quant vector k has in byte j.
      uint32_t qh;
      std::memcpy(&qh, blk.qh, sizeof qh);
      for (int j = 0; j < 4; ++j) {
        for (int k = 0; k < 8; ++k) {
          const int element = k < 4 ? 4 * k + j : 16 + 4 * (k - 4) + j;
          EXPECT_EQ((tile[160 + 4 * r + j] >> k) & 1, (qh >> element) & 1)
              << "block " << b << " row " << r << " byte " << j << " bit " << k;
        }
      }
    }
  }
  const uint64_t q8_bytes = nb * sizeof(block_q8_0);
  const auto q8 = random_rows(TensorType::Q8_0, kInterleavedRows, nb, 5);
  out.assign(q8.size(), 0);
  interleave_rows(TensorType::Q8_0, q8.data(), q8_bytes, nb, out.data());
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* tile = out.data() + b * 272;
    for (int r = 0; r < kInterleavedRows; ++r) {
      block_q8_0 blk;
      std::memcpy(&blk, q8.data() + r * q8_bytes + b * sizeof blk, sizeof blk);
      for (int k = 0; k < 8; ++k)
        EXPECT_EQ(std::memcmp(tile + 32 * k + 4 * r, blk.qs + 4 * k, 4), 0);
      EXPECT_EQ(std::memcmp(tile + 256 + 2 * r, &blk.d, 2), 0);
    }
  }
}

TEST(InterleavedRows, RestoreGivesTheStoredRowsBack) {
  for (const TensorType type : kTypes) {
    for (const int64_t nb : {1, 3, 8, 9, 18}) {
      SCOPED_TRACE(::testing::Message() << tensor_type_name(type) << ", " << nb << " blocks");
      const uint64_t row_bytes = static_cast<uint64_t>(nb) * block_bytes(type);
      const auto rows = random_rows(type, kInterleavedRows, nb, static_cast<uint32_t>(nb));
      std::vector<uint8_t> run(rows.size());
      interleave_rows(type, rows.data(), row_bytes, nb, run.data());
      EXPECT_NE(std::memcmp(run.data(), rows.data(), run.size()), 0);
      std::vector<uint8_t> back(row_bytes);
      for (int r = 0; r < kInterleavedRows; ++r) {
        restore_interleaved_row(type, run.data(), nb, r, back.data());
        EXPECT_EQ(std::memcmp(back.data(), rows.data() + r * row_bytes, row_bytes), 0)
            << "row " << r;
      }
    }
  }
}

// A rows × cols matrix as stored, and an interleaved copy of it.
struct Matrices {
  std::vector<uint8_t> stored_bytes, interleaved_bytes;
  WeightMatrix stored, interleaved;
};

Matrices make_matrices(TensorType type, int64_t rows, int64_t cols, uint32_t seed) {
  Matrices m;
  const int64_t nb = cols / block_elements(type);
  m.stored_bytes = random_rows(type, rows, nb, seed);
  m.interleaved_bytes = m.stored_bytes;
  m.stored = {type, cols, rows, static_cast<uint64_t>(nb) * block_bytes(type),
              m.stored_bytes.data()};
  m.interleaved = m.stored;
  regroup_in_place(m.interleaved, m.interleaved_bytes.data(), WeightLayout::kInterleaved8);
  return m;
}

class InterleavedOnIsa : public ::testing::TestWithParam<Isa> {
 protected:
  void SetUp() override {
    if (!isa_supported(GetParam())) GTEST_SKIP() << "this CPU cannot run " << isa_name(GetParam());
    set_isa_override(GetParam());
  }
  void TearDown() override { clear_isa_override(); }
};

TEST_P(InterleavedOnIsa, MatmulGivesTheSameBitsOnEitherLayout) {
  ThreadPool pool(2);
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  // Columns: one block, fewer than a group of 8, whole groups, groups and a partial one (576:
  // SmolLM2; 896: Qwen2.5-0.5B; K-quants 256 … 2304). Rows: one run, a decode group of 16, and runs
  // past it. Tokens: decode, a few (token by token), and enough for the panel kernels (with rows
  // left over).
  for (const TensorType type : kTypes) {
    const std::vector<int64_t> all_cols = k_quant(type)
                                              ? std::vector<int64_t>{256, 768, 2048, 2304}
                                              : std::vector<int64_t>{32, 96, 256, 288, 576, 896};
    for (const int64_t cols : all_cols) {
      for (const int64_t rows : {8, 16, 24, 40}) {
        const Matrices m = make_matrices(type, rows, cols, static_cast<uint32_t>(cols + rows));
        EXPECT_EQ(m.interleaved.layout, WeightLayout::kInterleaved8);
        for (const int64_t n_tokens : {1, 2, 9, 33}) {
          SCOPED_TRACE(::testing::Message() << tensor_type_name(type) << ", " << cols << " cols, "
                                            << rows << " rows, " << n_tokens << " tokens");
          std::vector<float> x(static_cast<size_t>(n_tokens * cols));
          for (float& v : x) v = normal(rng);
          std::vector<float> want(static_cast<size_t>(n_tokens * rows));
          std::vector<float> got(want.size(), -1.0f);
          matmul(m.stored, x.data(), n_tokens, want.data(), pool);
          matmul(m.interleaved, x.data(), n_tokens, got.data(), pool);
          ASSERT_EQ(std::memcmp(want.data(), got.data(), want.size() * sizeof(float)), 0);
        }
      }
    }
  }
}

TEST_P(InterleavedOnIsa, EmbeddingRowsAreTheSameOnEitherLayout) {
  for (const TensorType type : kTypes) {
    const int64_t cols = k_quant(type) ? 768 : 576;
    const Matrices m = make_matrices(type, 16, cols, 3);
    std::vector<float> want(static_cast<size_t>(cols)), got(want.size());
    for (int64_t r = 0; r < 16; ++r) {
      dequantize_matrix_row(m.stored, r, want.data());
      dequantize_matrix_row(m.interleaved, r, got.data());
      ASSERT_EQ(std::memcmp(want.data(), got.data(), want.size() * sizeof(float)), 0)
          << tensor_type_name(type) << " row " << r;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Isas, InterleavedOnIsa,
                         ::testing::Values(Isa::kScalar, Isa::kAvx2, Isa::kAvx512),
                         [](const ::testing::TestParamInfo<Isa>& info) {
                           return std::string(isa_name(info.param));
                         });

TEST(InterleavedRows, EachIsaGetsTheLayoutItsKernelsReadFastest) {
  const Matrices q4_0 = make_matrices(TensorType::Q4_0, 16, 256, 1);
  const Matrices q4_1 = make_matrices(TensorType::Q4_1, 16, 256, 1);
  WeightMatrix odd_rows = q4_0.stored;
  odd_rows.rows = 15;  // not whole runs of 8
  WeightMatrix odd_rows_q4_1 = q4_1.stored;
  odd_rows_q4_1.rows = 15;
  WeightMatrix narrow = q4_0.stored;
  narrow.cols = 224;  // 7 blocks: no whole group to regroup
  narrow.rows = 15;
  WeightMatrix other = q4_0.stored;
  other.type = TensorType::Q5_K;
  WeightMatrix q8_0 = q4_0.stored;
  q8_0.type = TensorType::Q8_0;
  for (const Isa isa : {Isa::kScalar, Isa::kAvx2, Isa::kAvx512}) {
    if (!isa_supported(isa)) continue;
    set_isa_override(isa);
    SCOPED_TRACE(isa_name(isa));
    const WeightLayout q4_0_layout = isa == Isa::kAvx2     ? WeightLayout::kInterleaved8
                                     : isa == Isa::kAvx512 ? WeightLayout::kQ4_0Groups
                                                           : WeightLayout::kAsStored;
    EXPECT_EQ(layout_that_pays(q4_0.stored), q4_0_layout);
    EXPECT_EQ(layout_that_pays(q4_1.stored),
              isa == Isa::kAvx2 ? WeightLayout::kInterleaved8 : WeightLayout::kAsStored);
    EXPECT_EQ(layout_that_pays(q8_0),
              isa == Isa::kAvx2 ? WeightLayout::kInterleaved8 : WeightLayout::kAsStored);
    for (const TensorType k : {TensorType::Q4_K, TensorType::Q6_K}) {
      WeightMatrix w = q4_0.stored;
      w.type = k;
      EXPECT_EQ(layout_that_pays(w),
                isa == Isa::kAvx2 ? WeightLayout::kInterleaved8 : WeightLayout::kAsStored);
    }
    EXPECT_EQ(layout_that_pays(odd_rows),
              isa == Isa::kScalar ? WeightLayout::kAsStored : WeightLayout::kQ4_0Groups);
    EXPECT_EQ(layout_that_pays(odd_rows_q4_1), WeightLayout::kAsStored);
    EXPECT_EQ(layout_that_pays(q4_0.interleaved), WeightLayout::kAsStored);  // already rewritten
    EXPECT_EQ(layout_that_pays(narrow), WeightLayout::kAsStored);
    EXPECT_EQ(layout_that_pays(other), WeightLayout::kAsStored);
  }
  clear_isa_override();
}

}  // namespace
}  // namespace infera
