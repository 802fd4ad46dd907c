#pragma once
// e^x for floats, the SwiGLU's exponential: the algorithm of glibc's expf as it runs on x86-64 CPUs
// with FMA (ref: ARM optimized-routines expf, EXP2F_TABLE_BITS = 5; the fused steps as in glibc's
// __expf_fma), so that it gives std::exp's bits there, while the result no longer depends on the
// C library or the CPU it runs on. Computed in double: x·32/ln2 = k + r, |r| <= 1/2; e^x =
// 2^(k/32) · 2^(r/32), 2^(k/32) from a table and the exponent bits, 2^(r/32) by a cubic.
// ops_avx512.cpp evaluates the same steps 8 doubles at a time.
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>

namespace infera::exp_f32_detail {

// 2^(i/32) as binary64 bits, less i << 47, so that adding k << 47 (k = 32 e + i) sets exponent e.
inline constexpr uint64_t kTable[32] = {
    0x3ff0000000000000, 0x3fefd9b0d3158574, 0x3fefb5586cf9890f, 0x3fef9301d0125b51,
    0x3fef72b83c7d517b, 0x3fef54873168b9aa, 0x3fef387a6e756238, 0x3fef1e9df51fdee1,
    0x3fef06fe0a31b715, 0x3feef1a7373aa9cb, 0x3feedea64c123422, 0x3feece086061892d,
    0x3feebfdad5362a27, 0x3feeb42b569d4f82, 0x3feeab07dd485429, 0x3feea47eb03a5585,
    0x3feea09e667f3bcd, 0x3fee9f75e8ec5f74, 0x3feea11473eb0187, 0x3feea589994cce13,
    0x3feeace5422aa0db, 0x3feeb737b0cdc5e5, 0x3feec49182a3f090, 0x3feed503b23e255d,
    0x3feee89f995ad3ad, 0x3feeff76f2fb5e47, 0x3fef199bdd85529c, 0x3fef3720dcef9069,
    0x3fef5818dcfba487, 0x3fef7c97337b9b5f, 0x3fefa4afa2a490da, 0x3fefd0765b6e4540};
inline constexpr double kInvLn2N = 0x1.71547652b82fep+0 * 32;
inline constexpr double kShift = 0x1.8p+52;  // adding it rounds to an integer in the low bits
inline constexpr double kC0 = 0x1.c6af84b912394p-5 / 32 / 32 / 32;
inline constexpr double kC1 = 0x1.ebfce50fac4f3p-3 / 32 / 32;
inline constexpr double kC2 = 0x1.62e42ff0c52d6p-1 / 32;
// |x| from here on (bits >> 20 of 88.0f) may overflow or underflow, or is not finite.
inline constexpr uint32_t kLargeTop = 0x42b;
inline constexpr float kOverflowAbove = 0x1.62e42ep6f;    // ln(2^128)
inline constexpr float kUnderflowBelow = -0x1.9fe368p6f;  // ln(2^-150)

}  // namespace infera::exp_f32_detail

namespace infera {

inline float exp_f32(float x) {
  using namespace exp_f32_detail;
  const uint32_t bits = std::bit_cast<uint32_t>(x);
  if (((bits >> 20) & 0x7ff) >= kLargeTop) {
    if (bits == 0xff800000u) return 0.0f;               // -inf
    if (((bits >> 20) & 0x7ff) >= 0x7f8) return x + x;  // +inf, NaN
    if (x > kOverflowAbove) return std::numeric_limits<float>::infinity();
    if (x < kUnderflowBelow) return 0.0f;
  }
  const double xd = x;
  const double shifted = std::fma(kInvLn2N, xd, kShift);
  const uint64_t ki = std::bit_cast<uint64_t>(shifted);
  const double kd = shifted - kShift;
  const double r = std::fma(kInvLn2N, xd, -kd);
  const double s = std::bit_cast<double>(kTable[ki % 32] + (ki << 47));
  const double z = std::fma(kC0, r, kC1);
  const double r2 = r * r;
  double y = std::fma(kC2, r, 1.0);
  y = std::fma(z, r2, y);
  return static_cast<float>(y * s);
}

}  // namespace infera
