// Q8_K (the activation block of the K-quant dot products) against a direct statement of ggml's
// quantize_row_q8_K_ref definition: the first value of largest magnitude, max, sets
// iscale = -127/max; q = min(127, round_half_even(iscale * x)); bsums = sums of 16 q's;
// d = 1/iscale (fp32). All-zero blocks: d = 0, q = 0 (and here bsums = 0).
#include <gtest/gtest.h>

#include <bit>
#include <cfenv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "quant/blocks.h"
#include "quant/dequantize.h"
#include "quant/quantize.h"

namespace infera {
namespace {

block_q8_K q8k_by_definition(const float* x) {
  block_q8_K b{};
  int imax = 0;
  for (int j = 1; j < QK_K; ++j) {
    if (std::fabs(x[j]) > std::fabs(x[imax])) imax = j;
  }
  if (x[imax] == 0.0f) return b;
  const float iscale = -127.0f / x[imax];
  for (int j = 0; j < QK_K; ++j) {
    // std::nearbyint rounds half to even in the default rounding mode.
    const float r = std::nearbyint(iscale * x[j]);
    b.qs[j] = static_cast<int8_t>(r > 127.0f ? 127.0f : r);
  }
  for (int g = 0; g < QK_K / 16; ++g) {
    int s = 0;
    for (int l = 0; l < 16; ++l) s += b.qs[16 * g + l];
    b.bsums[g] = static_cast<int16_t>(s);
  }
  b.d = 1.0f / iscale;
  return b;
}

void expect_same(const block_q8_K& got, const block_q8_K& want, const char* what) {
  EXPECT_EQ(std::bit_cast<uint32_t>(got.d), std::bit_cast<uint32_t>(want.d)) << what;
  for (int j = 0; j < QK_K; ++j) ASSERT_EQ(got.qs[j], want.qs[j]) << what << " q" << j;
  for (int g = 0; g < QK_K / 16; ++g) ASSERT_EQ(got.bsums[g], want.bsums[g]) << what << " bsum";
}

TEST(Q8K, MatchesDefinitionOnRandomBlocks) {
  ASSERT_EQ(std::fegetround(), FE_TONEAREST);
  std::mt19937 rng(99);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::uniform_real_distribution<float> exponent(-6.0f, 6.0f);
  for (int rep = 0; rep < 200; ++rep) {
    std::vector<float> x(QK_K);
    const float scale = std::pow(10.0f, exponent(rng));
    for (float& v : x) v = normal(rng) * scale;
    block_q8_K got;
    quantize_block(x.data(), &got);
    expect_same(got, q8k_by_definition(x.data()), "random");
  }
}

TEST(Q8K, EdgeBlocks) {
  std::vector<float> x(QK_K, 0.0f);
  block_q8_K got;
  std::memset(&got, 0x5a, sizeof(got));
  quantize_block(x.data(), &got);
  expect_same(got, block_q8_K{}, "zeros");  // bsums zeroed too (ggml leaves them as they were)

  // Rounding ties: max = -127 gives iscale = 1 exactly, so x = k + 0.5 is a tie, to even.
  x.assign(QK_K, 0.0f);
  x[0] = -127.0f;
  x[1] = 2.5f;    // -> 2
  x[2] = 3.5f;    // -> 4
  x[3] = -2.5f;   // -> -2
  x[4] = 126.5f;  // -> 126
  x[5] = 127.0f;  // same magnitude as max but later: does not set the scale
  quantize_block(x.data(), &got);
  expect_same(got, q8k_by_definition(x.data()), "ties");
  EXPECT_EQ(got.qs[0], -127);
  EXPECT_EQ(got.qs[1], 2);
  EXPECT_EQ(got.qs[2], 4);
  EXPECT_EQ(got.qs[3], -2);
  EXPECT_EQ(got.qs[4], 126);
  EXPECT_EQ(got.qs[5], 127);
  EXPECT_EQ(got.d, 1.0f);  // 1 / (-127 / -127)

  // A single positive outlier: it maps to -127 (the scale is negative), others near zero.
  x.assign(QK_K, 0.001f);
  x[200] = 50.0f;
  quantize_block(x.data(), &got);
  expect_same(got, q8k_by_definition(x.data()), "outlier");
  EXPECT_EQ(got.qs[200], -127);
  EXPECT_LT(got.d, 0.0f);

  // All equal.
  x.assign(QK_K, -0.75f);
  quantize_block(x.data(), &got);
  expect_same(got, q8k_by_definition(x.data()), "constant");
  for (int j = 0; j < QK_K; ++j) ASSERT_EQ(got.qs[j], -127);
  for (int g = 0; g < QK_K / 16; ++g) ASSERT_EQ(got.bsums[g], -127 * 16);
}

TEST(Q8K, RowDequantizesToDTimesQ) {
  std::mt19937 rng(5);
  std::normal_distribution<float> normal(0.0f, 3.0f);
  std::vector<float> x(3 * QK_K);
  for (float& v : x) v = normal(rng);
  std::vector<block_q8_K> blocks(3);
  quantize_row(TensorType::Q8_K, x.data(), blocks.data(), 3 * QK_K);
  std::vector<float> y(3 * QK_K);
  dequantize_row(TensorType::Q8_K, blocks.data(), y.data(), 3 * QK_K);
  for (int i = 0; i < 3 * QK_K; ++i) {
    const block_q8_K& b = blocks[i / QK_K];
    ASSERT_EQ(y[i], b.d * static_cast<float>(b.qs[i % QK_K]));
    ASSERT_LE(std::fabs(y[i] - x[i]), std::fabs(b.d) * 0.5f * (1 + 1e-5f) + 1e-6f);
  }
}

}  // namespace
}  // namespace infera
