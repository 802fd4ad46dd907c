#pragma once
// Pieces of the AVX2 prompt-processing kernels that hold 8 weight rows in the 8 lanes of a vector
// (int_dot_avx2_lanes.cpp for Q4_0/Q4_1, int_dot_avx2_k_lanes.cpp for Q4_K/Q6_K). Included only
// by files compiled for any x86 target: every function carries its own AVX2 target attribute.
//
// The reference adds block b's term of a (row, token) into lane b % 8 and sums the 8 lanes in a
// fixed tree (block_lanes.h). With rows in lanes, each (token, block lane) needs its own vector
// of 8 rows; visiting the blocks lane by lane (b = l, l + 8, …) needs only one accumulator per
// token at a time, and the lanes' totals join in the reference's tree at the end.
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#define INFERA_LANES_AVX2 __attribute__((target("avx2,fma,f16c"))) inline
#define INFERA_LANES_AVX2_LAMBDA __attribute__((target("avx2,fma,f16c"), always_inline))

namespace infera::lanes_avx2 {

constexpr int kRows = 8;  // weight rows per panel, one per lane
// Activation rows that share each load of a panel's vectors.
constexpr int kTokens = 4;

// a · b for 8 floats, hidden from contraction into a following add (as mul_rounded8).
INFERA_LANES_AVX2 __m256 mul_rounded(__m256 a, __m256 b) {
  __m256 p = _mm256_mul_ps(a, b);
  __asm__("" : "+x"(p));
  return p;
}

// Pins v to a register at this point of the program: GCC 12 otherwise hoisted all of a block's
// products ahead of their adds and spilled them.
INFERA_LANES_AVX2 void keep_in_register(__m256i& v) { __asm__("" : "+x"(v)); }

// The adds sum_products takes: int16 lanes (maddubs sums) or int32 (madd sums).
struct Add16 {
  INFERA_LANES_AVX2 __m256i operator()(__m256i a, __m256i b) const {
    return _mm256_add_epi16(a, b);
  }
};
struct Add32 {
  INFERA_LANES_AVX2 __m256i operator()(__m256i a, __m256i b) const {
    return _mm256_add_epi32(a, b);
  }
};

// s[t] = product(kFirst, t) + … + product(kFirst + kCount − 1, t) for tokens t < kNt (add: Add16
// or Add32), vector by vector, each token's sum pinned after every add: one weight vector is live
// at a time (holding a block's 8 across the tokens spilled the tokens' accumulators).
template <int kNt, int kFirst, int kCount, typename Product, typename Add>
INFERA_LANES_AVX2_LAMBDA inline void sum_products(const Product& product, const Add& add,
                                                  __m256i* s) {
  for (int t = 0; t < kNt; ++t) s[t] = product(kFirst, t);
#pragma GCC unroll 8
  for (int k = kFirst + 1; k < kFirst + kCount; ++k) {
    for (int t = 0; t < kNt; ++t) {
      s[t] = add(s[t], product(k, t));
      keep_in_register(s[t]);
    }
  }
}

// The same over kP panels side by side (kP · 8 rows): s[p][t] is the sum over vectors k in
// [kFirst, kFirst + kCount) of product(p, k, w, xt), where w = rows(p, k) is panel p's vector k,
// loaded once for all tokens, and xt = x(k, t) token t's, taken once for all panels: with two
// panels, half the broadcasts per row.
template <int kP, int kNt, int kFirst, int kCount, typename Rows, typename Token, typename Product,
          typename Add>
INFERA_LANES_AVX2_LAMBDA inline void sum_panel_products(const Rows& rows, const Token& x,
                                                        const Product& product, const Add& add,
                                                        __m256i (*s)[kNt]) {
#pragma GCC unroll 8
  for (int k = kFirst; k < kFirst + kCount; ++k) {
    __m256i w[kP];
    for (int p = 0; p < kP; ++p) {
      w[p] = rows(p, k);
      keep_in_register(w[p]);
    }
    for (int t = 0; t < kNt; ++t) {
      const __m256i xt = x(k, t);
      for (int p = 0; p < kP; ++p) {
        const __m256i prod = product(p, k, w[p], xt);
        s[p][t] = k == kFirst ? prod : add(s[p][t], prod);
        keep_in_register(s[p][t]);
      }
    }
  }
}

// The 4 bytes at p in every lane.
INFERA_LANES_AVX2 __m256i broadcast32(const void* p) {
  int32_t v;
  std::memcpy(&v, p, sizeof v);
  return _mm256_set1_epi32(v);
}

// One dword per row.
INFERA_LANES_AVX2 __m256i load_rows(const uint32_t* v) {
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(v));
}

// Dwords k of 8 rows' 16 bytes (qs[r]), row r in lane r, as the panels lay them out: a 4 × 4 dword
// transpose in each 128-bit half (rows 0..3 low, 4..7 high).
struct RowDwords {
  __m256i k[4];
};
INFERA_LANES_AVX2 RowDwords transpose_rows(const uint8_t* const* qs) {
  auto pair = [&](int r) INFERA_LANES_AVX2_LAMBDA {
    return _mm256_inserti128_si256(
        _mm256_castsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(qs[r]))),
        _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs[r + 4])), 1);
  };
  const __m256i a = pair(0), b = pair(1), c = pair(2), d = pair(3);
  const __m256i ab_lo = _mm256_unpacklo_epi32(a, b), ab_hi = _mm256_unpackhi_epi32(a, b);
  const __m256i cd_lo = _mm256_unpacklo_epi32(c, d), cd_hi = _mm256_unpackhi_epi32(c, d);
  return {{_mm256_unpacklo_epi64(ab_lo, cd_lo), _mm256_unpackhi_epi64(ab_lo, cd_lo),
           _mm256_unpacklo_epi64(ab_hi, cd_hi), _mm256_unpackhi_epi64(ab_hi, cd_hi)}};
}

// The fifth bits of quant vector k (0 … 7) of a Q5_0/Q5_1 tile of interleaved rows, from its bit
// planes (interleaved_rows.h), as 0x10 in the bytes of the elements whose bit is set: bit k of
// each plane byte moved to bit 4 (within its byte: shifts of at most 4 in 16-bit lanes).
INFERA_LANES_AVX2 __m256i interleaved_fifth_bits(__m256i planes, int k) {
  const __m256i v = k < 4 ? _mm256_slli_epi16(planes, 4 - k) : _mm256_srli_epi16(planes, k - 4);
  return _mm256_and_si256(v, _mm256_set1_epi8(0x10));
}

// 8 fp16 values to f32, exactly.
INFERA_LANES_AVX2 void halves_to_floats(const uint16_t* h, float* out) {
  __m128i v;
  std::memcpy(&v, h, sizeof v);
  _mm256_storeu_ps(out, _mm256_cvtph_ps(v));
}

// The reference's tree over the 8 block lanes ((l0 + l4) + (l1 + l5)) + ((l2 + l6) + (l3 + l7)),
// each lane a vector of 8 rows.
INFERA_LANES_AVX2 __m256 block_lanes_sum(const __m256* lane) {
  return _mm256_add_ps(
      _mm256_add_ps(_mm256_add_ps(lane[0], lane[4]), _mm256_add_ps(lane[1], lane[5])),
      _mm256_add_ps(_mm256_add_ps(lane[2], lane[6]), _mm256_add_ps(lane[3], lane[7])));
}

// For kNt tokens and nb blocks: block_terms(b, term) writes term[t], block b's terms of the
// panel's 8 rows for token t; they go into lane b % 8 as the reference adds them, and
// y[t · y_stride + r] gets row r's lanes summed in the reference's tree.
// kNt counts (panel, token) pairs: with kPanels panels side by side, pair j is token j % kTokensOf
// of panel j / kTokensOf, whose rows are 8 · (j / kTokensOf) further on in y.
template <int kNt, typename BlockTerms, int kPanels = 1>
INFERA_LANES_AVX2 void sum_in_block_lanes(int64_t nb, const BlockTerms& block_terms, float* y,
                                          int64_t y_stride) {
  constexpr int kTokensOf = kNt / kPanels;
  __m256 lane[8][kNt];
  for (int l = 0; l < 8; ++l) {
    __m256 acc[kNt];
    for (int t = 0; t < kNt; ++t) acc[t] = _mm256_setzero_ps();
    for (int64_t b = l; b < nb; b += 8) {
      __m256 term[kNt];
      block_terms(b, term);
      for (int t = 0; t < kNt; ++t) acc[t] = _mm256_add_ps(acc[t], term[t]);
    }
    for (int t = 0; t < kNt; ++t) lane[l][t] = acc[t];
  }
  for (int t = 0; t < kNt; ++t) {
    __m256 of_token[8];
    for (int l = 0; l < 8; ++l) of_token[l] = lane[l][t];
    _mm256_storeu_ps(y + (t % kTokensOf) * y_stride + kRows * (t / kTokensOf),
                     block_lanes_sum(of_token));
  }
}

// tile(t0, std::integral_constant<int, N>{}) over tokens [0, n_tokens): kTokens at a time, then
// one by one.
template <typename Tile>
inline void for_token_tiles(int64_t n_tokens, const Tile& tile) {
  int64_t t0 = 0;
  for (; t0 + kTokens <= n_tokens; t0 += kTokens) tile(t0, std::integral_constant<int, kTokens>{});
  for (; t0 < n_tokens; ++t0) tile(t0, std::integral_constant<int, 1>{});
}

}  // namespace infera::lanes_avx2

#endif  // x86
