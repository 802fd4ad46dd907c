// The element-wise ops' SIMD paths against their references, bit for bit, and exp_f32 (the
// SwiGLU's exponential) against the C library's expf where that is glibc's FMA variant.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "kernels/cpu_features.h"
#include "kernels/exp_f32.h"
#include "kernels/ops.h"
#include "quant/float16.h"

namespace infera {
namespace {

// Inputs around every exponent and sign, the edges of exp's range, infinities and NaN.
std::vector<float> exp_edge_inputs(uint32_t stride) {
  std::vector<float> f;
  for (uint64_t bits = 0; bits <= 0xffffffffu; bits += stride)
    f.push_back(std::bit_cast<float>(static_cast<uint32_t>(bits)));
  for (float v :
       {0.0f, 1.0f, 87.9f, 88.0f, 88.72f, 0x1.62e42ep6f, 0x1.62e430p6f, 103.9f, 0x1.9fe368p6f,
        0x1.9fe36ap6f, 104.0f, 1e30f, std::numeric_limits<float>::denorm_min(),
        std::numeric_limits<float>::infinity(), std::numeric_limits<float>::quiet_NaN()})
    for (float s : {1.0f, -1.0f}) f.push_back(s * v);
  return f;
}

// glibc 2.27 and later evaluate expf with this algorithm; on CPUs with FMA they run the fused
// variant exp_f32 copies. Here a sweep; the test after it checks all 2^32 inputs (~40 s, run by
// hand: --gtest_also_run_disabled_tests; no differences with glibc 2.36 on 2026-11-27).
TEST(ExpF32, MatchesGlibcExpfOnFmaCpus) {
#if !defined(__GLIBC__) || !(defined(__x86_64__) || defined(__i386__))
  GTEST_SKIP() << "the reference is glibc's expf on x86-64";
#else
  if (!isa_supported(Isa::kAvx2)) GTEST_SKIP() << "glibc takes its non-FMA expf on this CPU";
  for (float x : exp_edge_inputs(4099)) {
    const float want = std::exp(x), got = exp_f32(x);
    if (std::isnan(want)) {
      EXPECT_TRUE(std::isnan(got)) << x;
      continue;
    }
    ASSERT_EQ(std::bit_cast<uint32_t>(got), std::bit_cast<uint32_t>(want))
        << "x = " << std::hexfloat << x;
  }
#endif
}

TEST(ExpF32, DISABLED_MatchesGlibcExpfOnEveryFloat) {
#if !defined(__GLIBC__) || !(defined(__x86_64__) || defined(__i386__))
  GTEST_SKIP() << "the reference is glibc's expf on x86-64";
#else
  if (!isa_supported(Isa::kAvx2)) GTEST_SKIP() << "glibc takes its non-FMA expf on this CPU";
  uint64_t differ = 0;
  for (uint64_t bits = 0; bits <= 0xffffffffu; ++bits) {
    const float x = std::bit_cast<float>(static_cast<uint32_t>(bits));
    const float want = std::exp(x), got = exp_f32(x);
    if (std::isnan(want) ? !std::isnan(got)
                         : std::bit_cast<uint32_t>(got) != std::bit_cast<uint32_t>(want)) {
      if (++differ <= 10) ADD_FAILURE() << "x = " << std::hexfloat << x;
    }
  }
  EXPECT_EQ(differ, 0u);
#endif
}

class OpsSimd : public ::testing::TestWithParam<Isa> {};

using GluFn = void (*)(const float*, const float*, int64_t, float*);

// glu on `isa` against the scalar reference, bit for bit (any NaN for NaN), with normal up values.
void expect_glu_matches_reference(GluFn glu, Isa isa, const std::vector<float>& gate,
                                  std::mt19937& rng) {
  std::normal_distribution<float> normal(0.0f, 4.0f);
  std::vector<float> up(gate.size());
  for (float& u : up) u = normal(rng);
  const auto n = static_cast<int64_t>(gate.size());
  std::vector<float> ref(gate.size()), got(gate.size());
  set_isa_override(Isa::kScalar);
  glu(gate.data(), up.data(), n, ref.data());
  set_isa_override(isa);
  glu(gate.data(), up.data(), n, got.data());
  clear_isa_override();
  for (size_t i = 0; i < gate.size(); ++i) {
    if (std::isnan(ref[i])) {
      EXPECT_TRUE(std::isnan(got[i])) << i;
      continue;
    }
    ASSERT_EQ(std::bit_cast<uint32_t>(got[i]), std::bit_cast<uint32_t>(ref[i]))
        << "gate " << std::hexfloat << gate[i] << " up " << up[i];
  }
}

TEST_P(OpsSimd, SwigluEqualsReferenceBitForBit) {
  const Isa isa = GetParam();
  if (!isa_supported(isa)) GTEST_SKIP() << isa_name(isa) << " not on this CPU";
  std::vector<float> gate = exp_edge_inputs(4099);
  std::mt19937 rng(3);
  std::normal_distribution<float> normal(0.0f, 4.0f);
  for (int i = 0; i < 20000; ++i) gate.push_back(normal(rng));
  // A lone large argument in an otherwise ordinary vector: that vector goes scalar.
  gate[gate.size() - 37] = -95.0f;
  expect_glu_matches_reference(swiglu, isa, gate, rng);
}

TEST_P(OpsSimd, GegluEqualsReferenceBitForBit) {
  const Isa isa = GetParam();
  if (!isa_supported(isa)) GTEST_SKIP() << isa_name(isa) << " not on this CPU";
  std::vector<float> gate = exp_edge_inputs(65537);
  std::mt19937 rng(5);
  std::normal_distribution<float> normal(0.0f, 6.0f);
  for (int i = 0; i < 20000; ++i) gate.push_back(normal(rng));
  // Around the ends of the table's range, where GELU is taken as 0 or as g.
  for (float v : {-10.0f, 10.0f, std::nextafter(-10.0f, 0.0f), std::nextafter(10.0f, 0.0f)})
    gate.push_back(v);
  expect_glu_matches_reference(geglu, isa, gate, rng);
}

TEST_P(OpsSimd, RmsNormEqualsReferenceBitForBit) {
  const Isa isa = GetParam();
  if (!isa_supported(isa)) GTEST_SKIP() << isa_name(isa) << " not on this CPU";
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0.0f, 3.0f);
  for (int64_t n : {1, 7, 8, 9, 63, 576, 640, 2049}) {
    std::vector<float> x(static_cast<size_t>(n)), w(static_cast<size_t>(n));
    for (float& v : x) v = normal(rng);
    for (float& v : w) v = 1.0f + 0.1f * normal(rng);
    for (const float* weight :
         {static_cast<const float*>(w.data()), static_cast<const float*>(nullptr)}) {
      std::vector<float> ref(x.size()), got(x.size());
      set_isa_override(Isa::kScalar);
      rms_norm(x.data(), weight, n, 1e-6f, ref.data());
      set_isa_override(isa);
      rms_norm(x.data(), weight, n, 1e-6f, got.data());
      clear_isa_override();
      for (size_t i = 0; i < x.size(); ++i)
        ASSERT_EQ(std::bit_cast<uint32_t>(got[i]), std::bit_cast<uint32_t>(ref[i]))
            << "n " << n << " i " << i << (weight ? " weighted" : "");
    }
  }
}

TEST_P(OpsSimd, RopeRotateEqualsReferenceBitForBit) {
  const Isa isa = GetParam();
  if (!isa_supported(isa)) GTEST_SKIP() << isa_name(isa) << " not on this CPU";
  std::mt19937 rng(11);
  std::normal_distribution<float> normal(0.0f, 2.0f);
  // Rotated dimensions whose pairs fill whole vectors, leave tails, or are fewer than a vector;
  // some fewer than the head's.
  const std::pair<int64_t, int64_t> dims[] = {{64, 64}, {128, 128}, {80, 80}, {256, 256},
                                              {20, 64}, {6, 6},     {10, 16}, {34, 40}};
  for (const auto& [n_dims, head_dim] : dims) {
    for (RopeOrdering ordering : {RopeOrdering::kNormal, RopeOrdering::kNeox}) {
      RopeParams p;
      p.ordering = ordering;
      p.n_dims = n_dims;
      p.freq_base = 10000.0f;
      for (int64_t pos : {0, 5, 1000, 70000}) {
        std::vector<float> cos_sin(static_cast<size_t>(n_dims));
        rope_angles(pos, p, cos_sin.data());
        const int64_t n_heads = 3;
        std::vector<float> x(static_cast<size_t>(n_heads * head_dim));
        for (float& v : x) v = normal(rng);
        auto ref = x, got = x;
        set_isa_override(Isa::kScalar);
        rope_rotate(ref.data(), n_heads, head_dim, cos_sin.data(), p);
        set_isa_override(isa);
        rope_rotate(got.data(), n_heads, head_dim, cos_sin.data(), p);
        clear_isa_override();
        for (size_t i = 0; i < x.size(); ++i)
          ASSERT_EQ(std::bit_cast<uint32_t>(got[i]), std::bit_cast<uint32_t>(ref[i]))
              << "n_dims " << n_dims << " head_dim " << head_dim << " pos " << pos << " i " << i
              << (ordering == RopeOrdering::kNormal ? " normal" : " neox");
      }
    }
  }
}

TEST_P(OpsSimd, Fp16RowEqualsReferenceBitForBit) {
  const Isa isa = GetParam();
  if (!isa_supported(isa)) GTEST_SKIP() << isa_name(isa) << " not on this CPU";
  // Every kind of value the rounding treats apart: zeros, fp16 subnormals and the values that
  // round to zero or to the smallest one, ties, the largest finite fp16 and what overflows it,
  // infinities, and NaNs (quiet and signalling, whose vectors go scalar); then random floats of
  // every exponent, in rows whose lengths leave tails.
  std::vector<float> x = {0.0f,
                          -0.0f,
                          5.96e-8f,
                          2.98e-8f,
                          2.99e-8f,
                          -6.1e-5f,
                          6.097e-5f,
                          1.0f + 1.0f / 2048,
                          1.0f + 3.0f / 2048,
                          65504.0f,
                          65519.99f,
                          65520.0f,
                          -1e9f,
                          std::numeric_limits<float>::infinity(),
                          -std::numeric_limits<float>::infinity(),
                          std::numeric_limits<float>::quiet_NaN(),
                          std::bit_cast<float>(0x7f800001u),
                          std::bit_cast<float>(0xffa00000u)};
  std::mt19937 rng(9);
  std::uniform_int_distribution<uint32_t> bits;
  for (int i = 0; i < 20000; ++i) x.push_back(std::bit_cast<float>(bits(rng)));
  std::normal_distribution<float> normal(0.0f, 2.0f);
  for (int i = 0; i < 5000; ++i) x.push_back(normal(rng));
  for (const int64_t n : {int64_t{1}, int64_t{7}, int64_t{9}, static_cast<int64_t>(x.size())}) {
    std::vector<uint16_t> ref(static_cast<size_t>(n)), got(static_cast<size_t>(n));
    set_isa_override(Isa::kScalar);
    fp32_to_fp16_row(x.data(), ref.data(), n);
    set_isa_override(isa);
    fp32_to_fp16_row(x.data(), got.data(), n);
    clear_isa_override();
    for (int64_t i = 0; i < n; ++i)
      ASSERT_EQ(got[static_cast<size_t>(i)], ref[static_cast<size_t>(i)])
          << "n " << n << " x " << x[static_cast<size_t>(i)] << " bits " << std::hex
          << std::bit_cast<uint32_t>(x[static_cast<size_t>(i)]);
  }
  // The scalar reference itself on a few exact cases.
  EXPECT_EQ(fp32_to_fp16(65504.0f), 0x7bffu);
  EXPECT_EQ(fp32_to_fp16(65520.0f), 0x7c00u);
  EXPECT_EQ(fp32_to_fp16(5.96e-8f), 0x0001u);
}

INSTANTIATE_TEST_SUITE_P(Isas, OpsSimd, ::testing::Values(Isa::kAvx2, Isa::kAvx512),
                         [](const ::testing::TestParamInfo<Isa>& info) {
                           return std::string(isa_name(info.param));
                         });

}  // namespace
}  // namespace infera
