// AVX-512 kernels of int_dot.h (F, BW, VL and VNNI): the layout of int_dot_avx2.cpp, with the
// integer products done by VNNI dot instructions (vpdpbusd: u8 × s8, vpdpwssd: s16 × s16, both
// summing into int32 without saturation) and Q4_K/Q6_K taken 64 elements at a time in 512-bit
// registers. The float steps are the scalar reference's, one by one, each product rounded before
// any add. Compiled for the baseline target; only these functions use AVX-512, and int_dot.h calls
// them only where cpu_features.h says the CPU (and the OS) has it.
#include "kernels/int_dot.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <type_traits>

#include "quant/float16.h"

// GCC 12's _mm512_undefined_epi32() initialises a variable with itself, which -Wall reports as
// "may be used uninitialized" wherever an intrinsic built on it is inlined: a false positive.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#define INFERA_AVX512 __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")))

namespace infera::int_dot_detail {
namespace {

#define INFERA_SIMD_TARGET INFERA_AVX512
#include "kernels/int_dot_x86_shared.inc"
#undef INFERA_SIMD_TARGET

// Σ w_j x_j over a block as 8 int32 partial sums, exact for every int8 x.
template <W K>
INFERA_AVX512 inline __m256i block_dot(__m256i w, __m256i x) {
  const __m256i zero = _mm256_setzero_si256();
  if constexpr (K == W::kQ4_1 || K == W::kQ5_1) {
    return _mm256_dpbusd_epi32(zero, w, x);  // weights 0..31 are already unsigned
  } else if constexpr (K == W::kQ8_0) {
    // |w| as unsigned (-128 reads as 128) times x with w's sign: exact because activations are
    // never -128 (quantize_q8_block rounds x · 127 / amax, so |q| <= 127).
    return _mm256_dpbusd_epi32(zero, _mm256_abs_epi8(w), _mm256_sign_epi8(x, w));
  } else {
    // Signed weights -16..15: |x| as unsigned (-128 reads as 128) times w with x's sign.
    return _mm256_dpbusd_epi32(zero, _mm256_sign_epi8(x, x), _mm256_sign_epi8(w, x));
  }
}

#define INFERA_SIMD_TARGET INFERA_AVX512
#include "kernels/int_dot_x86_q8_rows.inc"
#undef INFERA_SIMD_TARGET

// ---- K-quants × Q8_K --------------------------------------------------------------------------

// acc + the int16 pair sums p times the int16 scales sc, pairwise into int32, in one vpdpwssd.
INFERA_AVX512 inline __m256i k_madd_scaled(__m256i acc, __m256i p, __m256i sc) {
  return _mm256_dpwssd_epi32(acc, p, sc);
}

#define INFERA_SIMD_TARGET INFERA_AVX512
#include "kernels/int_dot_x86_k.inc"
#undef INFERA_SIMD_TARGET

// Q4_K and Q6_K two chunks (64 elements) per 512-bit register. Int32 element k of a product
// holds lane k % 8 of chunk 2p + k / 8; the two halves add up into the 8 lanes at the end of the
// block (exact integers, any order).
INFERA_AVX512 inline __m256i k_fold(__m512i acc) {
  return _mm256_add_epi32(_mm512_castsi512_si256(acc), _mm512_extracti64x4_epi64(acc, 1));
}

// vpermw indices: int16 k takes int16 first + k / group of the source.
struct Spread16 {
  alignas(64) int16_t idx[32];
};
constexpr Spread16 spread16(int first, int group) {
  Spread16 s{};
  for (int k = 0; k < 32; ++k) s.idx[k] = static_cast<int16_t>(first + k / group);
  return s;
}
// Q4_K: scales 2j, 2j + 1 (16 int16 each); Q6_K: scales 4j .. 4j + 3 (8 int16 each).
constexpr Spread16 kQ4Spread[4] = {spread16(0, 16), spread16(2, 16), spread16(4, 16),
                                   spread16(6, 16)};
constexpr Spread16 kQ6Spread[4] = {spread16(0, 8), spread16(4, 8), spread16(8, 8), spread16(12, 8)};

INFERA_AVX512 inline __m512i k_spread16(__m512i v, const Spread16& s) {
  return _mm512_permutexvar_epi16(_mm512_load_si512(s.idx), v);
}

// Chunk pair p: elements 64p .. 64p + 63 (0..15 as bytes), scale 2p in int16 0..15 and 2p + 1 in
// 16..31; mins16 as in Q4KBlock.
struct Q4KBlock512 {
  __m512i q[4], sc[4];
  __m256i mins16;
  float d, dmin;
};

INFERA_AVX512 inline void decode_q4_k_512(const unsigned char* p, Q4KBlock512* b) {
  b->d = k_half(p + offsetof(block_q4_K, d));
  b->dmin = k_half(p + offsetof(block_q4_K, dmin));
  uint64_t scales, mins;
  k4_scales_mins(p + offsetof(block_q4_K, scales), &scales, &mins);
  const __m128i sc8 = _mm_cvtepu8_epi16(_mm_cvtsi64_si128(static_cast<int64_t>(scales)));
  const __m128i m8 = _mm_cvtepu8_epi16(_mm_cvtsi64_si128(static_cast<int64_t>(mins)));
  b->mins16 = _mm256_setr_m128i(_mm_unpacklo_epi16(m8, m8), _mm_unpackhi_epi16(m8, m8));
  const __m512i low4 = _mm512_set1_epi8(0x0f);
  const unsigned char* qs = p + offsetof(block_q4_K, qs);
  for (int j = 0; j < 4; ++j) {  // element 64j + 32k + r: nibble k of qs[32j + r]
    const __m256i raw = k_load32(qs + 32 * j);
    const __m512i both =
        _mm512_inserti64x4(_mm512_castsi256_si512(raw), _mm256_srli_epi16(raw, 4), 1);
    b->q[j] = _mm512_and_si512(both, low4);
    b->sc[j] = k_spread16(_mm512_castsi128_si512(sc8), kQ4Spread[j]);
  }
}

INFERA_AVX512 inline void q4_k_row_512(const Q4KBlock512& b, const block_q8_K& x, KRowSums* r) {
  __m512i acc = _mm512_setzero_si512();
  for (int j = 0; j < 4; ++j) {
    const __m512i xj = _mm512_loadu_si512(x.qs + 64 * j);
    acc = _mm512_dpwssd_epi32(acc, _mm512_maddubs_epi16(b.q[j], xj), b.sc[j]);
  }
  k_add_lanes(r, b.d * x.d, k_fold(acc));
  const int32_t summs = hsum8(_mm256_madd_epi16(k_load32(x.bsums), b.mins16));
  r->sumf -= mul_rounded(b.dmin * x.d, static_cast<float>(summs));
}

// Chunk pair p: elements 64p .. 64p + 63 as 0..63 (32 not yet taken off), the scales of
// sub-blocks 4p .. 4p + 3 in int16 0..7, 8..15, 16..23, 24..31.
struct Q6KBlock512 {
  __m512i q[4], sc[4];
  float d;
};

INFERA_AVX512 inline void decode_q6_k_512(const unsigned char* p, Q6KBlock512* b) {
  b->d = k_half(p + offsetof(block_q6_K, d));
  const __m512i low4 = _mm512_set1_epi8(0x0f);
  const __m512i bits45 = _mm512_set1_epi8(0x30);
  const unsigned char* ql = p + offsetof(block_q6_K, ql);
  const unsigned char* qhp = p + offsetof(block_q6_K, qh);
  for (int h = 0; h < 2; ++h) {
    // Element 128h + 32c + r: nibble c / 2 of ql[64h + 32 (c % 2) + r], bits 2c, 2c + 1 of
    // qh[32h + r]: chunks 4h, 4h + 1 take the low nibbles of ql[64h ..] and bits 0..1, 2..3 of qh;
    // chunks 4h + 2, 4h + 3 the high nibbles and bits 4..5, 6..7. The 16-bit shifts bring those
    // two bits to bits 4..5 of their own byte.
    const __m512i qlz = _mm512_loadu_si512(ql + 64 * h);
    const __m256i qh = k_load32(qhp + 32 * h);
    const __m512i qhz = _mm512_inserti64x4(_mm512_castsi256_si512(qh), _mm256_srli_epi16(qh, 2), 1);
    b->q[2 * h] = _mm512_or_si512(_mm512_and_si512(qlz, low4),
                                  _mm512_and_si512(_mm512_slli_epi16(qhz, 4), bits45));
    b->q[2 * h + 1] = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(qlz, 4), low4),
                                      _mm512_and_si512(qhz, bits45));
  }
  const __m512i sc16 = _mm512_castsi256_si512(_mm256_cvtepi8_epi16(
      _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + offsetof(block_q6_K, scales)))));
  for (int j = 0; j < 4; ++j) b->sc[j] = k_spread16(sc16, kQ6Spread[j]);
}

INFERA_AVX512 inline void q6_k_row_512(const Q6KBlock512& b, const block_q8_K& x, KRowSums* r) {
  const __m512i thirty_two = _mm512_set1_epi8(32);
  __m512i acc = _mm512_setzero_si512();
  for (int j = 0; j < 4; ++j) {
    const __m512i xj = _mm512_loadu_si512(x.qs + 64 * j);
    // Σ (q - 32) x per pair, from the unsigned q: exact, |result| <= 2 * 32 * 128 fits int16.
    const __m512i p16 =
        _mm512_sub_epi16(_mm512_maddubs_epi16(b.q[j], xj), _mm512_maddubs_epi16(thirty_two, xj));
    acc = _mm512_dpwssd_epi32(acc, p16, b.sc[j]);
  }
  k_add_lanes(r, b.d * x.d, k_fold(acc));
}

}  // namespace

void q8_rows_avx512(TensorType weight_type, const void* w_row, const uint8_t* x_rows,
                    uint64_t x_stride, int64_t n_rows, int64_t nb, float* y, int64_t y_stride) {
  q8_rows_of_type(weight_type, w_row, x_rows, x_stride, n_rows, nb, y, y_stride);
}

bool k_rows_avx512(TensorType weight_type, const void* w_row, const block_q8_K* x,
                   int64_t x_stride_blocks, int64_t n_rows, int64_t nb, float* y,
                   int64_t y_stride) {
  switch (weight_type) {
    case TensorType::Q4_K:
      k_rows<Q4KBlock512, decode_q4_k_512, q4_k_row_512, sizeof(block_q4_K)>(
          w_row, x, x_stride_blocks, n_rows, nb, y, y_stride);
      return true;
    case TensorType::Q6_K:
      k_rows<Q6KBlock512, decode_q6_k_512, q6_k_row_512, sizeof(block_q6_K)>(
          w_row, x, x_stride_blocks, n_rows, nb, y, y_stride);
      return true;
    default:
      return k_rows_packed(weight_type, w_row, x, x_stride_blocks, n_rows, nb, y, y_stride);
  }
}

KDotFn k_kernel_avx512(KDotKind kind) {
  switch (kind) {
    case KDotKind::kQ2K:
      return &dot_q2_k;
    case KDotKind::kLanesWithMin:
      return &dot_lanes<true>;
    default:
      return &dot_lanes<false>;
  }
}

}  // namespace infera::int_dot_detail

#endif  // x86
