// The integer dot products of weight rows with quantized activation rows (kernels/quantized_dot.h)
// compute the same sum as dequantizing both sides, up to float rounding.
#include "kernels/quantized_dot.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "quant/blocks.h"
#include "quant/dequantize.h"
#include "quant/float16.h"
#include "quant/quantize.h"

namespace infera {
namespace {

// Dequantized activation row (what the integer dot multiplies the weights with).
std::vector<float> dequantize_activations(TensorType weight_type, const std::vector<uint8_t>& xq,
                                          int64_t n) {
  std::vector<float> x(static_cast<size_t>(n));
  switch (activation_type_for(weight_type)) {
    case TensorType::Q8_0:
      dequantize_row(TensorType::Q8_0, xq.data(), x.data(), n);
      break;
    case TensorType::Q8_1: {
      const auto* b = reinterpret_cast<const block_q8_1*>(xq.data());
      for (int64_t i = 0; i < n; ++i) x[i] = fp16_to_fp32(b[i / 32].d) * b[i / 32].qs[i % 32];
      break;
    }
    case TensorType::Q8_K:
      dequantize_row(TensorType::Q8_K, xq.data(), x.data(), n);
      break;
    default:
      std::memcpy(x.data(), xq.data(), static_cast<size_t>(n) * sizeof(float));
  }
  return x;
}

template <typename Block>
void set_scales(uint8_t* row, int64_t nb, bool has_min) {
  auto* b = reinterpret_cast<Block*>(row);
  for (int64_t i = 0; i < nb; ++i) {
    b[i].d = fp32_to_fp16(0.01f);
    if constexpr (requires { b[i].dmin; }) b[i].dmin = fp32_to_fp16(has_min ? 0.02f : 0.0f);
  }
}

void set_k_scales(TensorType type, uint8_t* row, int64_t nb) {
  switch (type) {
    case TensorType::Q2_K:
      return set_scales<block_q2_K>(row, nb, true);
    case TensorType::Q3_K:
      return set_scales<block_q3_K>(row, nb, false);
    case TensorType::Q4_K:
      return set_scales<block_q4_K>(row, nb, true);
    case TensorType::Q5_K:
      return set_scales<block_q5_K>(row, nb, true);
    default:
      return set_scales<block_q6_K>(row, nb, false);
  }
}

class QuantizedDot : public ::testing::TestWithParam<TensorType> {};

TEST_P(QuantizedDot, EqualsDotOfDequantizedOperands) {
  const TensorType type = GetParam();
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (int64_t n : {256, 512, 2816}) {
    std::vector<float> w(static_cast<size_t>(n)), x(static_cast<size_t>(n));
    for (auto& v : w) v = normal(rng);
    for (auto& v : x) v = normal(rng) * 3.0f;
    uint64_t row_bytes = 0;
    ASSERT_TRUE(tensor_row_bytes(type, static_cast<uint64_t>(n), &row_bytes));
    std::vector<uint8_t> wq(row_bytes);
    if (has_quantizer(type)) {
      quantize_row(type, w.data(), wq.data(), n);
    } else {  // K-quants: random bytes are valid blocks once the scales are finite
      for (auto& b : wq) b = static_cast<uint8_t>(rng());
      set_k_scales(type, wq.data(), n / 256);
    }
    std::vector<float> wd(static_cast<size_t>(n));
    dequantize_row(type, wq.data(), wd.data(), n);
    std::vector<uint8_t> xq(activation_row_bytes(type, n));
    quantize_activations(type, x.data(), xq.data(), n);
    const std::vector<float> xd = dequantize_activations(type, xq, n);
    double exact = 0, magnitude = 0;
    for (int64_t i = 0; i < n; ++i) {
      exact += static_cast<double>(wd[i]) * xd[i];
      magnitude += std::fabs(static_cast<double>(wd[i]) * xd[i]);
    }
    if (activation_type_for(type) == TensorType::Q8_1) {
      // Q8_1 carries s = d·Σq rounded to fp16, and the weights' minimum multiplies that stored s
      // (as in ggml): the format's own rounding, not the kernel's.
      const auto* xb = reinterpret_cast<const block_q8_1*>(xq.data());
      for (int64_t b = 0; b < n / 32; ++b) {
        const uint16_t m_bits = type == TensorType::Q4_1
                                    ? reinterpret_cast<const block_q4_1*>(wq.data())[b].m
                                    : reinterpret_cast<const block_q5_1*>(wq.data())[b].m;
        double sum_q = 0;
        for (int j = 0; j < 32; ++j) sum_q += xb[b].qs[j];
        const double s_exact = static_cast<double>(fp16_to_fp32(xb[b].d)) * sum_q;
        exact += fp16_to_fp32(m_bits) * (fp16_to_fp32(xb[b].s) - s_exact);
      }
    }
    const float got = vec_dot_activations(type, wq.data(), xq.data(), n);
    // Integer sums are exact; what remains are a few float roundings per block and the float
    // accumulation across blocks: |error| ≤ (blocks + 4) · 2^-24 · Σ|w·x|.
    const double blocks = static_cast<double>(n) / traits_of(type).block_elements;
    EXPECT_NEAR(got, exact, (blocks + 4) * std::ldexp(1.0, -24) * magnitude + 1e-30)
        << tensor_type_name(type) << " n=" << n;

    // Several activation rows against one weight row: bit-identical to one at a time.
    const int64_t rows = 3;
    std::vector<uint8_t> xs(xq.size() * rows);
    for (int64_t r = 0; r < rows; ++r) {
      for (auto& v : x) v = normal(rng);
      quantize_activations(type, x.data(), xs.data() + r * xq.size(), n);
    }
    std::vector<float> y(rows * 2, -1.0f);
    vec_dot_activations_rows(type, wq.data(), xs.data(), xq.size(), rows, n, y.data(), 2);
    for (int64_t r = 0; r < rows; ++r) {
      EXPECT_EQ(y[r * 2], vec_dot_activations(type, wq.data(), xs.data() + r * xq.size(), n));
      EXPECT_EQ(y[r * 2 + 1], -1.0f);  // stride respected
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Types, QuantizedDot,
                         ::testing::Values(TensorType::Q4_0, TensorType::Q4_1, TensorType::Q5_0,
                                           TensorType::Q5_1, TensorType::Q8_0, TensorType::Q2_K,
                                           TensorType::Q3_K, TensorType::Q4_K, TensorType::Q5_K,
                                           TensorType::Q6_K, TensorType::F16, TensorType::BF16,
                                           TensorType::F32),
                         [](const auto& info) {
                           return std::string(tensor_type_name(info.param));
                         });

TEST(QuantizedDot, ActivationTypesFollowGgml) {
  EXPECT_EQ(activation_type_for(TensorType::Q4_0), TensorType::Q8_0);
  EXPECT_EQ(activation_type_for(TensorType::Q4_1), TensorType::Q8_1);
  EXPECT_EQ(activation_type_for(TensorType::Q5_1), TensorType::Q8_1);
  EXPECT_EQ(activation_type_for(TensorType::Q4_K), TensorType::Q8_K);
  EXPECT_EQ(activation_type_for(TensorType::F16), TensorType::F16);
}

}  // namespace
}  // namespace infera
