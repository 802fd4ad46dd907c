// quantize_row -> dequantize_row stays within each type's error bound, block structs agree with
// the type table, and bad arguments are errors, not crashes.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "core/error.h"
#include "quant/blocks.h"
#include "quant/dequantize.h"
#include "quant/float16.h"
#include "quant/quantize.h"
#include "quant/tensor_type.h"
#include "quant/vec_dot.h"

namespace infera {
namespace {

TEST(QuantBlocks, SizesMatchTypeTable) {
  EXPECT_EQ(sizeof(block_q4_0), traits_of(TensorType::Q4_0).block_bytes);
  EXPECT_EQ(sizeof(block_q4_1), traits_of(TensorType::Q4_1).block_bytes);
  EXPECT_EQ(sizeof(block_q5_0), traits_of(TensorType::Q5_0).block_bytes);
  EXPECT_EQ(sizeof(block_q5_1), traits_of(TensorType::Q5_1).block_bytes);
  EXPECT_EQ(sizeof(block_q8_0), traits_of(TensorType::Q8_0).block_bytes);
  EXPECT_EQ(sizeof(block_q2_K), traits_of(TensorType::Q2_K).block_bytes);
  EXPECT_EQ(sizeof(block_q3_K), traits_of(TensorType::Q3_K).block_bytes);
  EXPECT_EQ(sizeof(block_q4_K), traits_of(TensorType::Q4_K).block_bytes);
  EXPECT_EQ(sizeof(block_q5_K), traits_of(TensorType::Q5_K).block_bytes);
  EXPECT_EQ(sizeof(block_q6_K), traits_of(TensorType::Q6_K).block_bytes);
  EXPECT_EQ(sizeof(block_q8_K), traits_of(TensorType::Q8_K).block_bytes);
  for (TensorType t :
       {TensorType::Q4_0, TensorType::Q4_1, TensorType::Q5_0, TensorType::Q5_1, TensorType::Q8_0}) {
    EXPECT_EQ(traits_of(t).block_elements, 32u);
  }
  for (TensorType t : {TensorType::Q2_K, TensorType::Q3_K, TensorType::Q4_K, TensorType::Q5_K,
                       TensorType::Q6_K, TensorType::Q8_K}) {
    EXPECT_EQ(traits_of(t).block_elements, static_cast<uint32_t>(QK_K));
  }
}

// Error of storing v as fp16: half an ulp, relative 2^-11, or 2^-25 in the subnormal range.
double fp16_error(double v) {
  return std::max(std::fabs(v) * std::ldexp(1.0, -11), std::ldexp(1.0, -25));
}

// Worst-case |x - dequantize(quantize(x))| for one block, from the quantizer's arithmetic: the
// rounding step of the quant grid, the fp16 rounding of d (times the largest |q|) and of m, and a
// few float32 roundings (relative 2^-24 of the block's magnitude).
double error_bound(TensorType type, const float* x, int n) {
  double amax = 0, mn = x[0], mx = x[0];
  for (int i = 0; i < n; ++i) {
    amax = std::max(amax, std::fabs(static_cast<double>(x[i])));
    mn = std::min(mn, static_cast<double>(x[i]));
    mx = std::max(mx, static_cast<double>(x[i]));
  }
  const double f = 8 * std::ldexp(1.0, -24) * amax;
  switch (type) {
    case TensorType::Q4_0:  // step d = amax/8; a value of the opposite sign to max clips to 7*d
      return amax / 8 + 8 * fp16_error(amax / 8) + f;
    case TensorType::Q5_0:
      return amax / 16 + 16 * fp16_error(amax / 16) + f;
    case TensorType::Q4_1:  // step d = (max-min)/15, half a step; m rounded to fp16 too
      return (mx - mn) / 15 / 2 + 15 * fp16_error((mx - mn) / 15) + fp16_error(mn) + f;
    case TensorType::Q5_1:
      return (mx - mn) / 31 / 2 + 31 * fp16_error((mx - mn) / 31) + fp16_error(mn) + f;
    case TensorType::Q8_0:
      return amax / 127 / 2 + 127 * fp16_error(amax / 127) + f;
    case TensorType::Q8_K:  // d stays fp32
      return amax / 127 / 2 + f;
    default:
      return 0;
  }
}

std::vector<float> random_row(std::mt19937& rng, int64_t n, int block) {
  std::normal_distribution<float> normal(0.0f, 1.0f);
  // Magnitudes 1e-4 .. ~4e4 (with outliers): every scale and min stays inside the fp16 range.
  std::uniform_real_distribution<float> exponent(-4.0f, 1.5f);
  std::vector<float> x(static_cast<size_t>(n));
  for (int64_t b = 0; b < n / block; ++b) {
    const float scale = std::pow(10.0f, exponent(rng));
    for (int l = 0; l < block; ++l) x[b * block + l] = normal(rng) * scale;
    if (b % 5 == 1) x[b * block + 3] *= 300.0f;  // outlier
    if (b % 7 == 2) std::fill(x.begin() + b * block, x.begin() + (b + 1) * block, 0.0f);
    if (b % 11 == 3) std::fill(x.begin() + b * block, x.begin() + (b + 1) * block, -0.375f);
  }
  return x;
}

class QuantRoundTrip : public testing::TestWithParam<TensorType> {};

TEST_P(QuantRoundTrip, ErrorWithinTypeBound) {
  const TensorType type = GetParam();
  const int block = static_cast<int>(traits_of(type).block_elements);
  const int group = block == 1 ? 64 : block;  // plain types: bounds are per element anyway
  const int64_t n = 64 * group;
  std::mt19937 rng(1234);
  const std::vector<float> x = random_row(rng, n, group);
  uint64_t bytes = 0;
  ASSERT_TRUE(tensor_row_bytes(type, n, &bytes));
  std::vector<uint8_t> q(bytes);
  quantize_row(type, x.data(), q.data(), n);
  std::vector<float> y(static_cast<size_t>(n));
  dequantize_row(type, q.data(), y.data(), n);
  for (int64_t b = 0; b < n / group; ++b) {
    for (int l = 0; l < group; ++l) {
      const int64_t i = b * group + l;
      const double xi = x[i], err = std::fabs(xi - y[i]);
      double bound;
      if (type == TensorType::F32) {
        bound = 0;
      } else if (type == TensorType::F16) {  // half an ulp: relative 2^-11, or 2^-25 subnormal
        bound = std::max(std::fabs(xi) * std::ldexp(1.0, -11), std::ldexp(1.0, -25));
      } else if (type == TensorType::BF16) {
        bound = std::fabs(xi) * std::ldexp(1.0, -8);
      } else {
        bound = error_bound(type, x.data() + b * group, group);
      }
      ASSERT_LE(err, bound) << tensor_type_name(type) << " element " << i << " x=" << xi
                            << " y=" << y[i];
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Types, QuantRoundTrip,
                         testing::Values(TensorType::F32, TensorType::F16, TensorType::BF16,
                                         TensorType::Q4_0, TensorType::Q4_1, TensorType::Q5_0,
                                         TensorType::Q5_1, TensorType::Q8_0, TensorType::Q8_K),
                         [](const testing::TestParamInfo<TensorType>& info) {
                           return std::string(tensor_type_name(info.param));
                         });

TEST(QuantRoundTrip, ZeroAndConstantBlocksAreExact) {
  // Zero blocks give zeros; Q4_1/Q5_1 store a constant block as its min, exact when the constant
  // is an fp16 value.
  std::vector<float> zeros(256, 0.0f), out(256);
  std::vector<uint8_t> q(512);
  for (TensorType t : {TensorType::Q4_0, TensorType::Q4_1, TensorType::Q5_0, TensorType::Q5_1,
                       TensorType::Q8_0, TensorType::Q8_K}) {
    quantize_row(t, zeros.data(), q.data(), 256);
    dequantize_row(t, q.data(), out.data(), 256);
    for (float v : out) ASSERT_EQ(v, 0.0f) << tensor_type_name(t);
  }
  std::vector<float> c(32, -2.5f);
  for (TensorType t : {TensorType::Q4_1, TensorType::Q5_1}) {
    quantize_row(t, c.data(), q.data(), 32);
    dequantize_row(t, q.data(), out.data(), 32);
    for (int i = 0; i < 32; ++i) ASSERT_EQ(out[i], -2.5f) << tensor_type_name(t);
  }
}

TEST(QuantErrors, UnsupportedTypesAndBadLengthsThrow) {
  std::vector<float> x(512, 1.0f);
  std::vector<uint8_t> buf(4096);
  auto kind_of = [](auto&& fn) {
    try {
      fn();
    } catch (const Error& e) {
      return static_cast<int>(e.kind());
    }
    return -1;
  };
  const int unsupported = static_cast<int>(ErrorKind::kUnsupported);
  const int invalid = static_cast<int>(ErrorKind::kInvalidArgument);
  EXPECT_EQ(kind_of([&] { quantize_row(TensorType::Q4_K, x.data(), buf.data(), 256); }),
            unsupported);
  EXPECT_EQ(kind_of([&] { quantize_row(TensorType::IQ2_XXS, x.data(), buf.data(), 256); }),
            unsupported);
  EXPECT_EQ(kind_of([&] { dequantize_row(TensorType::IQ4_NL, buf.data(), x.data(), 32); }),
            unsupported);
  EXPECT_EQ(kind_of([&] { dequantize_row(static_cast<TensorType>(4), buf.data(), x.data(), 32); }),
            unsupported);
  EXPECT_EQ(kind_of([&] { vec_dot_ref(TensorType::Q8_1, buf.data(), x.data(), 32); }), unsupported);
  EXPECT_EQ(kind_of([&] { quantize_row(TensorType::Q4_0, x.data(), buf.data(), 33); }), invalid);
  EXPECT_EQ(kind_of([&] { dequantize_row(TensorType::Q6_K, buf.data(), x.data(), 128); }), invalid);
  EXPECT_EQ(kind_of([&] { dequantize_row(TensorType::F16, buf.data(), x.data(), -1); }), invalid);
  EXPECT_EQ(kind_of([&] { vec_dot_ref(TensorType::Q8_0, buf.data(), x.data(), 40); }), invalid);
  EXPECT_FALSE(has_quantizer(TensorType::Q6_K));
  EXPECT_TRUE(has_quantizer(TensorType::Q8_K));
  EXPECT_TRUE(has_dequantizer(TensorType::Q8_K));
  // Zero elements is a valid, empty row.
  EXPECT_EQ(vec_dot_ref(TensorType::Q4_0, buf.data(), x.data(), 0), 0.0f);
}

TEST(QuantErrors, NonFiniteInputNeverCrashes) {
  // Output for NaN/inf input is unspecified but must be a valid block, without UB (run under
  // -DINFERA_SANITIZE=ON to check the float-to-int conversions).
  std::vector<float> x(256, 1.0f);
  x[0] = NAN;
  x[7] = INFINITY;
  x[40] = -INFINITY;
  std::vector<uint8_t> buf(4096);
  std::vector<float> y(256);
  for (TensorType t : {TensorType::F16, TensorType::BF16, TensorType::Q4_0, TensorType::Q4_1,
                       TensorType::Q5_0, TensorType::Q5_1, TensorType::Q8_0, TensorType::Q8_K}) {
    quantize_row(t, x.data(), buf.data(), 256);
    dequantize_row(t, buf.data(), y.data(), 256);
  }
}

}  // namespace
}  // namespace infera
