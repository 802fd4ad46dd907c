// vec_dot_k_q8k (K-quant weights x Q8_K activations, ggml's integer arithmetic) against the double
// sum of dequantize_row(w)_i * x.d * x.qs_i: the integer math must be the same math as dequantize,
// to within a bound derived from the float steps of ggml's generic code. Hand-built rows then pin
// the order of those float steps, where a different order gives a different float.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <random>
#include <string>
#include <vector>

#include "core/error.h"
#include "quant/blocks.h"
#include "quant/dequantize.h"
#include "quant/float16.h"
#include "quant/quantize.h"
#include "quant/tensor_type.h"
#include "quant/vec_dot_k.h"

namespace infera {
namespace {

// Byte offsets of the fp16 fields of each K-quant block (blocks.h): d, then dmin where present.
std::vector<int> d_offsets(TensorType type) {
  switch (type) {
    case TensorType::Q2_K:
      return {80, 82};
    case TensorType::Q3_K:
      return {108};
    case TensorType::Q4_K:
    case TensorType::Q5_K:
      return {0, 2};
    case TensorType::Q6_K:
      return {208};
    default:
      return {};
  }
}

enum class Fill { kRandom, kAllOnes, kAll0x80 };

// A weight row of n elements: every byte from `fill` (random, or one byte value to push the
// integer sums to their extremes), then finite random fp16 d/dmin.
std::vector<uint8_t> make_weight_row(TensorType type, int64_t n, Fill fill, std::mt19937& rng) {
  uint64_t bytes = 0;
  EXPECT_TRUE(tensor_row_bytes(type, static_cast<uint64_t>(n), &bytes));
  std::vector<uint8_t> row(bytes);
  std::uniform_int_distribution<int> byte(0, 255);
  for (uint8_t& b : row) {
    b = fill == Fill::kRandom    ? static_cast<uint8_t>(byte(rng))
        : fill == Fill::kAllOnes ? 0xff
                                 : 0x80;
  }
  std::normal_distribution<float> normal(0.0f, 1.0f);
  const uint64_t block_bytes = traits_of(type).block_bytes;
  for (uint64_t blk = 0; blk < bytes / block_bytes; ++blk) {
    for (int off : d_offsets(type)) {
      const uint16_t h = fp32_to_fp16(normal(rng) * 0.05f);
      std::memcpy(row.data() + blk * block_bytes + off, &h, 2);
    }
  }
  return row;
}

std::vector<block_q8_K> make_activations(int64_t n, bool one_sign, std::mt19937& rng) {
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> f(static_cast<size_t>(n));
  for (float& v : f) v = one_sign ? std::fabs(normal(rng)) + 0.5f : normal(rng) * 3.0f;
  std::vector<block_q8_K> x(static_cast<size_t>(n / QK_K));
  quantize_row(TensorType::Q8_K, f.data(), x.data(), n);
  return x;
}

// The row with the fp16 field at byte offset `off` of every block set to zero.
std::vector<uint8_t> zero_field(TensorType type, std::vector<uint8_t> row, int off) {
  const uint64_t block_bytes = traits_of(type).block_bytes;
  for (uint64_t at = off; at < row.size(); at += block_bytes) {
    row[at] = 0;
    row[at + 1] = 0;
  }
  return row;
}

std::vector<float> dequantized(TensorType type, const std::vector<uint8_t>& row, int64_t n) {
  std::vector<float> w(static_cast<size_t>(n));
  dequantize_row(type, row.data(), w.data(), n);
  return w;
}

class VecDotK : public testing::TestWithParam<TensorType> {};

// Error analysis. Per element the weight is a_i + b_i with a_i = d*sc*q and b_i = -dmin*m, both
// exact in float (11 + 8 + 6 significant bits at most); the integer sums are exact. So the only
// roundings are the float steps: for any block, the integer to float (past 2^24), 2 products
// (d(w)*d(x), then times the integer) and the subtraction of the min term, then at most
// nb / 8 - 1 adds into its lane and 3 in the lane tree: at most nb / 8 + 6 <= nb + 9 roundings.
// With M = sum_i (|a_i| + |b_i|) |x_i|, |got - exact| <= gamma(nb + 9) M. The reference
// itself is off by u (|a_i| + |b_i|) |x_i| per element from dequantize's rounded a_i + b_i and by
// n 2^-53 M from the double sum. Both magnitudes come from dequantize_row on the row with dmin
// zeroed (a_i) and with d zeroed (b_i), so the bound does not depend on the code under test.
TEST_P(VecDotK, MatchesDequantizedDoubleDotWithinDerivedBound) {
  const TensorType type = GetParam();
  const std::vector<int> offs = d_offsets(type);
  std::mt19937 rng(1234 + static_cast<unsigned>(type));
  for (const int64_t n : {int64_t{256}, int64_t{512}, int64_t{256 * 11}}) {
    for (const Fill fill : {Fill::kRandom, Fill::kAllOnes, Fill::kAll0x80}) {
      for (const bool one_sign : {false, true}) {
        const std::vector<uint8_t> row = make_weight_row(type, n, fill, rng);
        const std::vector<block_q8_K> x = make_activations(n, one_sign, rng);
        const std::vector<float> w = dequantized(type, row, n);
        std::vector<float> a = dequantized(type, zero_field(type, row, offs.back()), n);
        std::vector<float> b(static_cast<size_t>(n), 0.0f);
        if (offs.size() == 2) b = dequantized(type, zero_field(type, row, offs[0]), n);
        if (offs.size() == 1) a = w;  // no min: a_i is the weight itself

        double exact = 0.0, magnitude = 0.0;
        for (int64_t i = 0; i < n; ++i) {
          const block_q8_K& blk = x[static_cast<size_t>(i / QK_K)];
          const double xi = static_cast<double>(blk.d) * blk.qs[i % QK_K];  // exact in double
          exact += static_cast<double>(w[i]) * xi;
          magnitude +=
              (std::fabs(static_cast<double>(a[i])) + std::fabs(static_cast<double>(b[i]))) *
              std::fabs(xi);
        }
        const double u = std::ldexp(1.0, -24);
        const double k = static_cast<double>(n / QK_K + 9);
        const double bound = (k * u / (1 - k * u) + u + n * std::ldexp(1.0, -53)) * magnitude;

        const float got = vec_dot_k_q8k(type, row.data(), x.data(), n);
        ASSERT_TRUE(std::isfinite(got));
        EXPECT_LE(std::fabs(got - exact), bound)
            << tensor_type_name(type) << " n=" << n << " fill=" << static_cast<int>(fill)
            << " one_sign=" << one_sign << " got=" << got << " exact=" << exact
            << " magnitude=" << magnitude;
      }
    }
  }
}

TEST_P(VecDotK, ExactlyReproducibleAndAlignmentFree) {
  const TensorType type = GetParam();
  std::mt19937 rng(77 + static_cast<unsigned>(type));
  const int64_t n = 256 * 11;
  const std::vector<uint8_t> row = make_weight_row(type, n, Fill::kRandom, rng);
  const std::vector<block_q8_K> x = make_activations(n, false, rng);
  const float first = vec_dot_k_q8k(type, row.data(), x.data(), n);
  std::vector<uint8_t> shifted(row.size() + 1);
  std::memcpy(shifted.data() + 1, row.data(), row.size());
  for (int rep = 0; rep < 3; ++rep) {
    EXPECT_EQ(std::bit_cast<uint32_t>(vec_dot_k_q8k(type, row.data(), x.data(), n)),
              std::bit_cast<uint32_t>(first));
    EXPECT_EQ(std::bit_cast<uint32_t>(vec_dot_k_q8k(type, shifted.data() + 1, x.data(), n)),
              std::bit_cast<uint32_t>(first));
  }
}

INSTANTIATE_TEST_SUITE_P(Types, VecDotK,
                         testing::Values(TensorType::Q2_K, TensorType::Q3_K, TensorType::Q4_K,
                                         TensorType::Q5_K, TensorType::Q6_K),
                         [](const testing::TestParamInfo<TensorType>& info) {
                           return std::string(tensor_type_name(info.param));
                         });

constexpr uint16_t kHalfOne = 0x3c00;     // 1.0
constexpr uint16_t kHalf2Pow15 = 0x7800;  // 32768.0
constexpr float k2Pow24 = 16777216.0f;

// An activation block of zeros but for qs[i] = v at the given elements, with consistent bsums.
block_q8_K activation(float d, std::initializer_list<int> elements, int8_t v) {
  block_q8_K b{};
  b.d = d;
  for (int i : elements) {
    b.qs[i] = v;
    b.bsums[i / 16] = static_cast<int16_t>(b.bsums[i / 16] + v);
  }
  return b;
}

// A Q6_K row of nb blocks whose every quant is 0 (ql 0, high bits 2: 32 - 32), scales 1.
std::vector<block_q6_K> zero_q6_k_row(int nb) {
  std::vector<block_q6_K> w(static_cast<size_t>(nb));
  for (block_q6_K& b : w) {
    std::memset(b.ql, 0, sizeof b.ql);
    std::memset(b.qh, 0xaa, sizeof b.qh);
    for (int8_t& s : b.scales) s = 1;
    b.d = kHalfOne;
  }
  return w;
}

// Block 0's term is 2^24 (lane 0), blocks 1 … 7 each give 1 (lanes 1 … 7). The lanes join in the
// tree ((l0 + l4) + (l1 + l5)) + ((l2 + l6) + (l3 + l7)) = (2^24 + 2) + 4 = 2^24 + 6; one running
// sum would lose every 1: 2^24.
TEST(VecDotKOrder, BlockTermsGoToEightLanesJoinedInATree) {
  std::vector<block_q6_K> w = zero_q6_k_row(8);
  w[0].d = kHalf2Pow15;
  std::vector<block_q8_K> x;
  for (int i = 0; i < 8; ++i) {
    w[static_cast<size_t>(i)].ql[0] = 1;  // element 0: q = 1
    x.push_back(activation(i == 0 ? 512.0f : 1.0f, {0}, 1));
  }
  EXPECT_EQ(vec_dot_k_q8k(TensorType::Q6_K, w.data(), x.data(), 8 * 256), k2Pow24 + 6.0f);
}

// Block 8 shares lane 0 with block 0: 2^24 + 1 -> 2^24 there, and the other lanes hold 0.
TEST(VecDotKOrder, BlockEightSharesLaneZero) {
  std::vector<block_q6_K> w = zero_q6_k_row(9);
  w[0].d = kHalf2Pow15;
  w[0].ql[0] = w[8].ql[0] = 1;
  std::vector<block_q8_K> x(9, activation(1.0f, {}, 0));
  x[0] = activation(512.0f, {0}, 1);
  x[8] = activation(1.0f, {0}, 1);
  EXPECT_EQ(vec_dot_k_q8k(TensorType::Q6_K, w.data(), x.data(), 9 * 256), k2Pow24);
}

// A block's integer sum is one integer before any float step: elements 0, 1, 2 and 0, 4, 8 both
// give isum 3, and with block 0's 2^24 in lane 0, (2^24 + 0) + (3 + 0) rounds to 2^24 + 4.
TEST(VecDotKOrder, Q6KBlockSumIsOneInteger) {
  for (const std::initializer_list<int> elements :
       {std::initializer_list<int>{0, 1, 2}, {0, 4, 8}}) {
    std::vector<block_q6_K> w = zero_q6_k_row(2);
    w[0].d = kHalf2Pow15;
    w[0].ql[0] = 1;
    for (int e : elements) w[1].ql[e] = 1;
    const block_q8_K x[2] = {activation(512.0f, {0}, 1), activation(1.0f, elements, 1)};
    EXPECT_EQ(vec_dot_k_q8k(TensorType::Q6_K, w.data(), x, 512), k2Pow24 + 4.0f);
  }
}

// Block 0's min term is -2^24 (its term +2^24, lane 0), block 1 gives 2 (lane 1): 2^24 + 2, exact.
// ggml's generic code subtracts the min terms from one sum and adds the element lanes (1 and 1)
// last, which gives 2^24.
TEST(VecDotKOrder, Q4KMinTermIsPartOfItsBlockTerm) {
  block_q4_K w[2] = {};
  w[0].d = 0;
  w[0].dmin = kHalf2Pow15;
  w[0].scales[4] = 1;  // min of sub-block 0 (scale 0)
  w[1].d = kHalfOne;
  w[1].dmin = 0;
  w[1].scales[0] = 1;              // scale of sub-block 0 (min 0)
  w[1].qs[0] = w[1].qs[4] = 0x01;  // elements 0 and 4: q = 1
  const block_q8_K x[2] = {activation(512.0f, {0}, -1), activation(1.0f, {0, 4}, 1)};
  EXPECT_EQ(vec_dot_k_q8k(TensorType::Q4_K, w, x, 512), k2Pow24 + 2.0f);
}

// Block A gives 1; block B gives dall * isum - dmin * summs = 2^24 - 2^24 = 0, formed before it is
// added: 1 + 0 = 1. Adding the two products to one sum one at a time would give
// (1 + 2^24) - 2^24 = 0.
TEST(VecDotKOrder, Q2KFormsEachBlockBeforeAccumulating) {
  block_q2_K w[2] = {};
  w[0].d = kHalfOne;
  w[0].scales[0] = 0x01;  // scale 1, min 0
  w[0].qs[0] = 0x01;      // element 0: q = 1
  w[1].d = kHalf2Pow15;
  w[1].dmin = kHalf2Pow15;
  w[1].scales[0] = 0x11;  // scale 1, min 1
  w[1].qs[0] = 0x01;
  const block_q8_K x[2] = {activation(1.0f, {0}, 1), activation(512.0f, {0}, 1)};
  EXPECT_EQ(vec_dot_k_q8k(TensorType::Q2_K, w, x, 512), 1.0f);
}

TEST(VecDotKErrors, RejectsOtherTypesAndBadLengths) {
  std::vector<uint8_t> row(256 * 4, 0);
  const std::vector<block_q8_K> x(2, block_q8_K{});
  for (const TensorType t : {TensorType::F32, TensorType::F16, TensorType::Q4_0, TensorType::Q8_0,
                             TensorType::Q8_K, static_cast<TensorType>(9999)}) {
    try {
      vec_dot_k_q8k(t, row.data(), x.data(), 256);
      ADD_FAILURE() << "no throw for type id " << static_cast<uint32_t>(t);
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument);
    }
  }
  for (const int64_t n : {int64_t{-256}, int64_t{1}, int64_t{255}, int64_t{257}, int64_t{384}}) {
    try {
      vec_dot_k_q8k(TensorType::Q4_K, row.data(), x.data(), n);
      ADD_FAILURE() << "no throw for n=" << n;
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument);
    }
  }
  EXPECT_EQ(vec_dot_k_q8k(TensorType::Q6_K, row.data(), x.data(), 0), 0.0f);
}

}  // namespace
}  // namespace infera
