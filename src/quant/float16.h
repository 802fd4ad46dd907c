#pragma once
// IEEE binary16 (half) and bfloat16 conversions, header-only and bit-exact.
//
// fp32 -> fp16 rounds to nearest, ties to even, overflows to infinity and keeps NaNs NaN exactly as
// numpy's `astype(np.float16)` does (npy_floatbits_to_halfbits): the NaN payload is the top ten
// fraction bits, and a payload that would become zero is set to 1 so the result stays a NaN (a
// signalling NaN is NOT quieted, unlike the F16C instruction).
// fp32 -> bf16 follows gguf-py's BF16.quantize_blocks (= ggml_compute_fp32_to_bf16): NaNs are
// truncated and quieted (bit 6 of the result set); everything else rounds to nearest, ties to
// even, with no flush of subnormals.
// Conversions towards fp32 are exact.
// Also here: mul_rounded(), a float32 product that is never fused into a following add.
#include <bit>
#include <cstdint>

namespace infera {

inline float fp16_to_fp32(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1fu;
  uint32_t frac = h & 0x3ffu;
  uint32_t bits;
  if (exp == 0x1f) {
    bits = sign | 0x7f800000u | (frac << 13);  // infinity or NaN, payload kept
  } else if (exp != 0) {
    bits = sign | ((exp + (127 - 15)) << 23) | (frac << 13);
  } else if (frac == 0) {
    bits = sign;  // signed zero
  } else {
    // Subnormal half: frac * 2^-24. Normalise so the leading one becomes the implicit bit.
    uint32_t e = 127 - 15 + 1;  // biased fp32 exponent of 2^-14
    while ((frac & 0x400u) == 0) {
      frac <<= 1;
      --e;
    }
    bits = sign | (e << 23) | ((frac & 0x3ffu) << 13);
  }
  return std::bit_cast<float>(bits);
}

inline uint16_t fp32_to_fp16(float f) {
  const uint32_t bits = std::bit_cast<uint32_t>(f);
  const uint16_t sign = static_cast<uint16_t>((bits >> 16) & 0x8000u);
  const uint32_t abs = bits & 0x7fffffffu;
  if (abs > 0x7f800000u) {  // NaN: keep the top payload bits, never turn into infinity
    uint16_t h = static_cast<uint16_t>(0x7c00u | ((abs & 0x7fffffu) >> 13));
    if (h == 0x7c00u) h = 0x7c01u;
    return static_cast<uint16_t>(sign | h);
  }
  if (abs >= 0x47800000u) return static_cast<uint16_t>(sign | 0x7c00u);  // >= 65536 or inf
  if (abs >= 0x38800000u) {
    // Normal half range (>= 2^-14): rebias the exponent, then round the 13 dropped fraction bits
    // to nearest even. A carry out of the fraction correctly bumps the exponent, up to infinity.
    const uint32_t rebased = abs - 0x38000000u;
    const uint32_t rounded = rebased + 0xfffu + ((rebased >> 13) & 1u);
    return static_cast<uint16_t>(sign | (rounded >> 13));
  }
  // Subnormal half (or zero): the result counts units of 2^-24.
  const uint32_t exp = abs >> 23;  // biased fp32 exponent, <= 112 here
  if (exp < 102) return sign;      // below 2^-25: rounds to zero (2^-25 itself is a tie to 0)
  const uint32_t mant = (abs & 0x7fffffu) | 0x800000u;
  const uint32_t shift = 126 - exp;  // 14 .. 24
  uint32_t q = mant >> shift;
  const uint32_t rem = mant & ((1u << shift) - 1u);
  const uint32_t half = 1u << (shift - 1);
  if (rem > half || (rem == half && (q & 1u))) ++q;  // may carry into the smallest normal: fine
  return static_cast<uint16_t>(sign | q);
}

inline float bf16_to_fp32(uint16_t h) {
  return std::bit_cast<float>(static_cast<uint32_t>(h) << 16);
}

inline uint16_t fp32_to_bf16(float f) {
  const uint32_t bits = std::bit_cast<uint32_t>(f);
  if ((bits & 0x7fffffffu) > 0x7f800000u) {
    return static_cast<uint16_t>((bits >> 16) | 0x40u);  // NaN: truncate and force quiet
  }
  // Cannot overflow 32 bits: the largest non-NaN pattern is 0xff800000 (-inf).
  return static_cast<uint16_t>((bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16);
}

// a * b rounded to float32 on its own, hidden from the optimizer so that no flag
// (-ffp-contract=fast, -mfma, -march=native) can fuse it into a following add: numpy rounds the
// product and the sum separately, an FMA rounds once. The reference code also turns contraction
// off per file, which clang ignores under -ffp-contract=fast; this holds regardless.
inline float mul_rounded(float a, float b) {
  float p = a * b;
#if (defined(__GNUC__) || defined(__clang__)) && (defined(__x86_64__) || defined(__i386__))
  __asm__("" : "+x"(p));
#elif (defined(__GNUC__) || defined(__clang__)) && defined(__aarch64__)
  __asm__("" : "+w"(p));
#else
  volatile float v = p;
  p = v;
#endif
  return p;
}

}  // namespace infera
