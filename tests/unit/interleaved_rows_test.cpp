// Q4_0 and Q4_1 rows interleaved 8 at a time at load (quant/interleaved_rows.h,
// WeightLayout::kInterleaved8): the bytes sit where the header says, restoring gives the stored
// rows back, matmul and the embedding lookup give the same bits on either layout on every ISA
// this CPU runs (AVX2's decode and prompt kernels read the interleaved rows; the other ISAs
// restore them first), and the layout each matrix gets at load.
#include "quant/interleaved_rows.h"

#include <gtest/gtest.h>

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

uint64_t block_bytes(TensorType type) {
  return type == TensorType::Q4_1 ? sizeof(block_q4_1) : sizeof(block_q4_0);
}

// rows × nb random blocks of `type`: any quants, scales (and mins) of either sign and several
// magnitudes.
std::vector<uint8_t> random_rows(TensorType type, int64_t rows, int64_t nb, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> scale(-0.05f, 0.05f);
  std::vector<uint8_t> bytes(static_cast<size_t>(rows * nb) * block_bytes(type));
  for (int64_t i = 0; i < rows * nb; ++i) {
    uint8_t* block = bytes.data() + i * block_bytes(type);
    if (type == TensorType::Q4_1) {
      block_q4_1 b;
      b.d = fp32_to_fp16(scale(rng));
      b.m = fp32_to_fp16(scale(rng));
      for (auto& q : b.qs) q = static_cast<uint8_t>(rng());
      std::memcpy(block, &b, sizeof b);
    } else {
      block_q4_0 b;
      b.d = fp32_to_fp16(scale(rng));
      for (auto& q : b.qs) q = static_cast<uint8_t>(rng());
      std::memcpy(block, &b, sizeof b);
    }
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

TEST(InterleavedRows, RestoreGivesTheStoredRowsBack) {
  for (const TensorType type : {TensorType::Q4_0, TensorType::Q4_1}) {
    for (const int64_t nb : {1, 3, 8, 9, 18, 28}) {
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
  const int64_t nb = cols / 32;
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
  // SmolLM2; 896: Qwen2.5-0.5B). Rows: one run, a decode group of 16, and runs past it. Tokens:
  // decode, a few (token by token), and enough for the panel kernels (with rows left over).
  for (const TensorType type : {TensorType::Q4_0, TensorType::Q4_1}) {
    for (const int64_t cols : {32, 96, 256, 288, 576, 896}) {
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
  for (const TensorType type : {TensorType::Q4_0, TensorType::Q4_1}) {
    const Matrices m = make_matrices(type, 16, 576, 3);
    std::vector<float> want(576), got(576);
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
  other.type = TensorType::Q8_0;
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
