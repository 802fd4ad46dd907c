// fp16 / bf16 conversions against independent formulas: exhaustive over all 65536 16-bit
// patterns towards fp32, and over a dense sample of fp32 patterns towards fp16 / bf16.
// (quant_golden_test.cpp checks the same functions against numpy's outputs.)
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>

#include "quant/float16.h"

namespace infera {
namespace {

// Value of a half pattern by its definition, via ldexp in double (exact), then to float (exact).
double half_value(uint16_t h) {
  const int sign = (h & 0x8000) ? -1 : 1;
  const int exp = (h >> 10) & 0x1f;
  const int frac = h & 0x3ff;
  if (exp == 0) return sign * std::ldexp(static_cast<double>(frac), -24);
  if (exp == 31) return frac ? NAN : sign * INFINITY;
  return sign * std::ldexp(1024.0 + frac, exp - 25);
}

TEST(Float16, Fp16ToFp32ExhaustiveMatchesDefinition) {
  for (uint32_t i = 0; i < 65536; ++i) {
    const uint16_t h = static_cast<uint16_t>(i);
    const float f = fp16_to_fp32(h);
    const double want = half_value(h);
    if (std::isnan(want)) {
      ASSERT_TRUE(std::isnan(f)) << std::hex << h;
      // NaN payload and sign carried over: top fraction bits equal the half's fraction.
      const uint32_t bits = std::bit_cast<uint32_t>(f);
      ASSERT_EQ(bits >> 31, static_cast<uint32_t>(h >> 15));
      ASSERT_EQ((bits >> 13) & 0x3ffu, static_cast<uint32_t>(h & 0x3ff));
      ASSERT_EQ(bits & 0x1fffu, 0u);
    } else {
      ASSERT_EQ(static_cast<double>(f), want) << std::hex << h;
      ASSERT_EQ(std::signbit(f), (h & 0x8000) != 0) << std::hex << h;  // -0.0 stays -0.0
    }
  }
}

TEST(Float16, Fp32ToFp16RoundTripsEveryHalf) {
  for (uint32_t i = 0; i < 65536; ++i) {
    const uint16_t h = static_cast<uint16_t>(i);
    ASSERT_EQ(fp32_to_fp16(fp16_to_fp32(h)), h) << std::hex << h;  // NaN payloads included
  }
}

// Round to nearest even by brute force: the half nearest in value (ties to even pattern).
uint16_t fp16_nearest_even(float f) {
  const double v = f;
  const uint16_t sign = std::signbit(f) ? 0x8000 : 0;
  const double a = std::fabs(v);
  if (a >= 65520.0) return sign | 0x7c00;  // 65520 is the tie between 65504 and 2^16
  // Bracket by bisection over the monotone non-negative half patterns 0 .. 0x7bff.
  uint16_t lo = 0, hi = 0x7bff;
  while (hi - lo > 1) {
    const uint16_t mid = static_cast<uint16_t>((lo + hi) / 2);
    (half_value(mid) <= a ? lo : hi) = mid;
  }
  if (half_value(hi) <= a) lo = hi;
  if (half_value(lo) == a || lo == 0x7bff) return sign | lo;
  const uint16_t up = static_cast<uint16_t>(lo + 1);
  const double dl = a - half_value(lo), du = half_value(up) - a;
  if (dl < du) return sign | lo;
  if (du < dl) return sign | up;
  return sign | ((lo & 1) ? up : lo);
}

TEST(Float16, Fp32ToFp16MatchesBruteForceRounding) {
  // Every 1021st fp32 pattern (~4.2 million values, all exponents and signs), non-NaN.
  for (uint64_t bits = 0; bits < (1ull << 32); bits += 1021) {
    const float f = std::bit_cast<float>(static_cast<uint32_t>(bits));
    if (std::isnan(f)) continue;
    if ((bits & 0x7fffffffu) < 0x33000000u || (bits & 0x7fffffffu) > 0x47800000u) {
      // Outside [2^-25, 2^16]: zero or infinity, cheap to state directly.
      const uint16_t want =
          std::fabs(f) > 65520.0f ? ((bits >> 16) & 0x8000) | 0x7c00 : ((bits >> 16) & 0x8000);
      ASSERT_EQ(fp32_to_fp16(f), want) << std::hex << bits;
      continue;
    }
    ASSERT_EQ(fp32_to_fp16(f), fp16_nearest_even(f)) << std::hex << bits;
  }
}

TEST(Float16, Fp32ToFp16EdgeCases) {
  EXPECT_EQ(fp32_to_fp16(0.0f), 0x0000);
  EXPECT_EQ(fp32_to_fp16(-0.0f), 0x8000);
  EXPECT_EQ(fp32_to_fp16(1.0f), 0x3c00);
  EXPECT_EQ(fp32_to_fp16(65504.0f), 0x7bff);
  EXPECT_EQ(fp32_to_fp16(65519.996f), 0x7bff);  // just below the tie
  EXPECT_EQ(fp32_to_fp16(65520.0f), 0x7c00);    // tie to even: infinity
  EXPECT_EQ(fp32_to_fp16(-1e10f), 0xfc00);
  EXPECT_EQ(fp32_to_fp16(INFINITY), 0x7c00);
  EXPECT_EQ(fp32_to_fp16(std::ldexp(1.0f, -24)), 0x0001);         // smallest subnormal
  EXPECT_EQ(fp32_to_fp16(std::ldexp(1.0f, -25)), 0x0000);         // tie to even: zero
  EXPECT_EQ(fp32_to_fp16(std::ldexp(3.0f, -26)), 0x0001);         // 0.75 ulp: up
  EXPECT_EQ(fp32_to_fp16(std::ldexp(3.0f, -25)), 0x0002);         // 1.5 ulp tie: to even 2
  EXPECT_EQ(fp32_to_fp16(std::ldexp(5.0f, -25)), 0x0002);         // 2.5 ulp tie: to even 2
  EXPECT_EQ(fp32_to_fp16(std::ldexp(2047.0f, -25)), 0x0400);      // carries into the normals
  EXPECT_EQ(fp32_to_fp16(1.0f + std::ldexp(1.0f, -11)), 0x3c00);  // tie: even stays
  EXPECT_EQ(fp32_to_fp16(1.0f + std::ldexp(3.0f, -11)), 0x3c02);  // tie: odd rounds up
  EXPECT_EQ(fp32_to_fp16(std::nextafter(1.0f + std::ldexp(1.0f, -11), 2.0f)), 0x3c01);
  // NaN as numpy: payload's top bits kept, a zero payload bumped to 1, signalling not quieted.
  EXPECT_EQ(fp32_to_fp16(std::bit_cast<float>(0x7fc00000u)), 0x7e00);
  EXPECT_EQ(fp32_to_fp16(std::bit_cast<float>(0x7f800001u)), 0x7c01);
  EXPECT_EQ(fp32_to_fp16(std::bit_cast<float>(0xffa00000u)), 0xfd00);
}

TEST(BFloat16, Bf16ToFp32ExhaustiveIsTheTopHalf) {
  for (uint32_t i = 0; i < 65536; ++i) {
    ASSERT_EQ(std::bit_cast<uint32_t>(bf16_to_fp32(static_cast<uint16_t>(i))), i << 16);
  }
}

TEST(BFloat16, Fp32ToBf16RoundsToNearestEven) {
  for (uint64_t bits = 0; bits < (1ull << 32); bits += 4093) {
    const uint32_t b = static_cast<uint32_t>(bits);
    const float f = std::bit_cast<float>(b);
    const uint16_t got = fp32_to_bf16(f);
    if (std::isnan(f)) {
      ASSERT_EQ(got, static_cast<uint16_t>((b >> 16) | 0x40)) << std::hex << b;
      continue;
    }
    // Brute force in double: the nearer of truncation and the next pattern up, ties to even.
    const uint16_t down = static_cast<uint16_t>(b >> 16);
    const uint16_t up = static_cast<uint16_t>(down + 1);
    const double a = std::fabs(static_cast<double>(f));
    const double vd = std::fabs(static_cast<double>(bf16_to_fp32(down)));
    const double vu = (up & 0x7fff) == 0x7f80 ? std::ldexp(1.0, 128)  // next is infinity
                                              : std::fabs(static_cast<double>(bf16_to_fp32(up)));
    uint16_t want = down;
    if ((b & 0xffff) != 0 && (down & 0x7fff) != 0x7f80) {
      if (a - vd > vu - a || (a - vd == vu - a && (down & 1))) want = up;
    }
    ASSERT_EQ(got, want) << std::hex << b;
  }
  EXPECT_EQ(fp32_to_bf16(std::bit_cast<float>(0x7f7fffffu)), 0x7f80);  // rounds to infinity
  EXPECT_EQ(fp32_to_bf16(std::bit_cast<float>(0x3f808000u)), 0x3f80);  // tie, even
  EXPECT_EQ(fp32_to_bf16(std::bit_cast<float>(0x3f818000u)), 0x3f82);  // tie, odd up
  EXPECT_EQ(fp32_to_bf16(std::bit_cast<float>(0x00000001u)), 0x0000);  // no flush, just rounds
  EXPECT_EQ(fp32_to_bf16(std::bit_cast<float>(0x7f800001u)), 0x7fc0);  // NaN quieted
}

}  // namespace
}  // namespace infera
