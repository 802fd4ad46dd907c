// vec_dot_ref against a double-precision dot product of the dequantized row, with the error bound
// of its documented float32 summation order, for every type and several row lengths.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "quant/dequantize.h"
#include "quant/float16.h"
#include "quant/quantize.h"
#include "quant/tensor_type.h"
#include "quant/vec_dot.h"

// The replay of the documented summation order below must round each product and sum on its own,
// like vec_dot.cpp: no FMA contraction (GCC contracts across statements under -mfma).
#include "core/fp_contract_off.h"

namespace infera {
namespace {

// Byte offsets of the fp16 scale fields of the K-quant blocks (see blocks.h).
std::vector<int> k_scale_offsets(TensorType type) {
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

// A row of n elements: quantized random floats where a quantizer exists, otherwise random block
// bytes with finite random fp16 scales.
std::vector<uint8_t> make_row(TensorType type, int64_t n, std::mt19937& rng) {
  uint64_t bytes = 0;
  EXPECT_TRUE(tensor_row_bytes(type, n, &bytes));
  std::vector<uint8_t> row(bytes);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  if (has_quantizer(type)) {
    std::vector<float> w(static_cast<size_t>(n));
    for (float& v : w) v = normal(rng);
    quantize_row(type, w.data(), row.data(), n);
    return row;
  }
  std::uniform_int_distribution<int> byte(0, 255);
  for (uint8_t& b : row) b = static_cast<uint8_t>(byte(rng));
  const TensorTypeTraits& t = traits_of(type);
  for (uint64_t blk = 0; blk < bytes / t.block_bytes; ++blk) {
    for (int off : k_scale_offsets(type)) {
      const uint16_t h = fp32_to_fp16(normal(rng) * 0.05f);
      std::memcpy(row.data() + blk * t.block_bytes + off, &h, 2);
    }
  }
  return row;
}

class VecDot : public testing::TestWithParam<TensorType> {};

TEST_P(VecDot, MatchesDoubleDotWithinSummationBound) {
  const TensorType type = GetParam();
  const int64_t qk = traits_of(type).block_elements;
  std::vector<int64_t> lengths;
  if (qk == 1) {
    lengths = {1, 31, 32, 33, 1000, 4096};
  } else {
    lengths = {qk, 7 * qk, 64 * qk};  // one block, an odd number of blocks, many blocks
  }
  std::mt19937 rng(42 + static_cast<unsigned>(type));
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (const int64_t n : lengths) {
    const std::vector<uint8_t> row = make_row(type, n, rng);
    std::vector<float> x(static_cast<size_t>(n));
    for (float& v : x) v = normal(rng);
    std::vector<float> w(static_cast<size_t>(n));
    dequantize_row(type, row.data(), w.data(), n);

    const float got = vec_dot_ref(type, row.data(), x.data(), n);

    // 1. The documented order, replayed on the full dequantized row: must agree to the bit.
    const int64_t group = qk == 1 ? 32 : qk;
    float want_order = 0.0f;
    for (int64_t s = 0; s < n; s += group) {
      float part = 0.0f;
      for (int64_t i = s; i < std::min(n, s + group); ++i) {
        part += mul_rounded(w[i], x[i]);
      }
      want_order += part;
    }
    EXPECT_EQ(got, want_order) << tensor_type_name(type) << " n=" << n;

    // 2. Against the exact value: products are exact in double (24+24 bits), the double sum is
    // off by at most n*2^-53*sum|wx|, and the float result by gamma(G + N)*sum|wx|.
    double exact = 0.0, sum_abs = 0.0;
    for (int64_t i = 0; i < n; ++i) {
      const double p = static_cast<double>(w[i]) * x[i];
      exact += p;
      sum_abs += std::fabs(p);
    }
    const double u = std::ldexp(1.0, -24);
    const double k = static_cast<double>(std::min(group, n) + (n + group - 1) / group);
    const double bound = (k * u / (1 - k * u) + n * std::ldexp(1.0, -53)) * sum_abs;
    EXPECT_LE(std::fabs(got - exact), bound)
        << tensor_type_name(type) << " n=" << n << " got=" << got << " exact=" << exact;
    EXPECT_TRUE(std::isfinite(got));
  }
}

INSTANTIATE_TEST_SUITE_P(Types, VecDot,
                         testing::Values(TensorType::F32, TensorType::F16, TensorType::BF16,
                                         TensorType::Q4_0, TensorType::Q4_1, TensorType::Q5_0,
                                         TensorType::Q5_1, TensorType::Q8_0, TensorType::Q2_K,
                                         TensorType::Q3_K, TensorType::Q4_K, TensorType::Q5_K,
                                         TensorType::Q6_K, TensorType::Q8_K),
                         [](const testing::TestParamInfo<TensorType>& info) {
                           return std::string(tensor_type_name(info.param));
                         });

TEST(VecDot, UnalignedRowGivesTheSameResult) {
  std::mt19937 rng(7);
  const std::vector<uint8_t> row = make_row(TensorType::Q4_K, 512, rng);
  std::vector<uint8_t> shifted(row.size() + 3);
  std::memcpy(shifted.data() + 3, row.data(), row.size());
  std::vector<float> x(512, 0.5f);
  EXPECT_EQ(vec_dot_ref(TensorType::Q4_K, row.data(), x.data(), 512),
            vec_dot_ref(TensorType::Q4_K, shifted.data() + 3, x.data(), 512));
}

}  // namespace
}  // namespace infera
