// The AVX2 F32/F16/BF16 row kernels against the reference (exact dequantization, then dot_f32):
// equal bit for bit, over lengths with and without tails and any number of weight and activation
// rows.
#include "kernels/float_dot.h"

#include <gtest/gtest.h>

#include <bit>
#include <random>
#include <vector>

#include "kernels/cpu_features.h"
#include "kernels/matmul.h"
#include "quant/dequantize.h"
#include "quant/quantize.h"

namespace infera {
namespace {

class FloatDot : public ::testing::TestWithParam<TensorType> {};

// `rows` random rows of n weights stored as `type`, and the same rows dequantized.
struct WeightRows {
  uint64_t row_bytes;
  std::vector<uint8_t> stored;
  std::vector<float> deq;
};

WeightRows random_weight_rows(TensorType type, int64_t n, int64_t rows, std::mt19937& rng) {
  std::normal_distribution<float> dist(0.0f, 1.0f);
  WeightRows w;
  w.row_bytes = static_cast<uint64_t>(n) * (type == TensorType::F32 ? 4 : 2);
  w.stored.resize(w.row_bytes * rows);
  w.deq.resize(static_cast<size_t>(n * rows));
  std::vector<float> wf(static_cast<size_t>(n));
  for (int64_t r = 0; r < rows; ++r) {
    for (float& v : wf) v = dist(rng);
    quantize_row(type, wf.data(), w.stored.data() + r * w.row_bytes, n);
    dequantize_row(type, w.stored.data() + r * w.row_bytes, w.deq.data() + r * n, n);
  }
  return w;
}

TEST_P(FloatDot, EqualsDequantizeThenDotBitForBit) {
  const TensorType type = GetParam();
  if (!isa_supported(Isa::kAvx2)) GTEST_SKIP() << "no AVX2 on this CPU";
  set_isa_override(Isa::kAvx2);
  ASSERT_TRUE(float_dot_simd_available(type));
  std::mt19937 rng(11);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  // 37 weight rows: a whole chunk of 32 that a tile keeps sums for, then an odd 5. Past 2048
  // columns the sums go through memory between column blocks: 4104 is three blocks, the last of
  // one vector, and 4100 ends in a tail of four columns.
  constexpr int64_t kMaxWRows = 37;
  for (int64_t n : {1, 7, 8, 9, 15, 16, 63, 64, 65, 576, 1000, 2048, 4100, 4104}) {
    const WeightRows w = random_weight_rows(type, n, kMaxWRows, rng);
    for (int64_t w_rows : {1, 2, 3, 4, 5, 6, 37}) {
      // Tiles of three activation rows, then two left together (5) or one alone (4, 70).
      for (int64_t rows : {1, 3, 4, 5, 9, 70}) {
        std::vector<float> x(static_cast<size_t>(rows * n));
        for (float& v : x) v = dist(rng);
        const int64_t y_stride = kMaxWRows + 1;
        std::vector<float> y(static_cast<size_t>(rows * y_stride), -1.0f);
        float_dot_simd_rows(type, w.stored.data(), w.row_bytes, w_rows, x.data(), n, rows, n,
                            y.data(), y_stride);
        for (int64_t t = 0; t < rows; ++t) {
          for (int64_t r = 0; r < w_rows; ++r) {
            const float want = dot_f32(w.deq.data() + r * n, x.data() + t * n, n);
            ASSERT_EQ(std::bit_cast<uint32_t>(y[t * y_stride + r]), std::bit_cast<uint32_t>(want))
                << tensor_type_name(type) << " n=" << n << " w_rows=" << w_rows << " rows=" << rows
                << " t=" << t << " r=" << r;
          }
        }
      }
    }
  }
  set_isa_override(Isa::kScalar);
  EXPECT_FALSE(float_dot_simd_available(type));
  clear_isa_override();
}

// The AVX-512 panel kernel (16 rows at a time, blocks of several panels together): the
// reference's bits per row, over lengths around its 16-wide transposes and 512-column slices and
// odd token counts.
TEST_P(FloatDot, PanelEqualsDequantizeThenDotBitForBit) {
  const TensorType type = GetParam();
  if (!isa_supported(Isa::kAvx512)) GTEST_SKIP() << "no AVX-512 on this CPU";
  set_isa_override(Isa::kAvx512);
  ASSERT_EQ(float_dot_panel_rows(type), 16);
  std::mt19937 rng(12);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  for (int64_t rows : {16, 48}) {
    // 2569: two blocks of columns (kFloatPanelColumnBlock), the second with a tail.
    for (int64_t n : {1, 7, 8, 9, 17, 255, 256, 257, 576, 1000, 2569}) {
      const WeightRows w = random_weight_rows(type, n, rows, rng);
      // 33 … 130: groups of tokens over the rewritten panels (kGroupTokens = 21), with
      // remainders.
      for (int64_t tokens : {1, 2, 3, 4, 5, 8, 15, 16, 17, 33, 40, 64, 130}) {
        std::vector<float> x(static_cast<size_t>(tokens * n));
        for (float& v : x) v = dist(rng);
        std::vector<float> y(static_cast<size_t>(tokens * rows), -1.0f);
        float_dot_panel(type, w.stored.data(), w.row_bytes, rows, x.data(), n, tokens, n, y.data(),
                        rows);
        for (int64_t t = 0; t < tokens; ++t) {
          for (int64_t r = 0; r < rows; ++r) {
            const float want = dot_f32(w.deq.data() + r * n, x.data() + t * n, n);
            ASSERT_EQ(std::bit_cast<uint32_t>(y[t * rows + r]), std::bit_cast<uint32_t>(want))
                << tensor_type_name(type) << " rows=" << rows << " n=" << n << " tokens=" << tokens
                << " t=" << t << " row=" << r;
          }
        }
      }
    }
  }
  clear_isa_override();
}

INSTANTIATE_TEST_SUITE_P(Types, FloatDot,
                         ::testing::Values(TensorType::F32, TensorType::F16, TensorType::BF16),
                         [](const auto& info) {
                           return std::string(tensor_type_name(info.param));
                         });

}  // namespace
}  // namespace infera
