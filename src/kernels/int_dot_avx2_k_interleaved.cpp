// AVX2 decode kernels for Q4_K and Q6_K rows interleaved 8 at a time (quant/interleaved_rows.h):
// the product of a run of 8 weight rows, row r in lane r, with one Q8_K activation row.
//
// The arithmetic is the prompt kernel's (int_dot_avx2_k_lanes.cpp) with its panel in memory, the
// quants still packed: a tile's quant vectors give, masked and shifted, the 8 rows' quants 4 at a
// time as unsigned bytes; an activation dword broadcast to every lane times each (maddubs) gives
// every row its products, which add up in int16 per sub-block and meet the sub-block's scale in
// one madd. The scales (and Q4_K's mins) are unpacked from the tile's scale dwords for all 8 rows
// at once. The float steps are vec_dot_k.h's (block i's term into lane i % 8, those lanes summed
// in its tree), with one accumulator per block lane, the tiles read in memory order: the same bits
// as the reference row by row.
#include "kernels/int_dot.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#include <algorithm>
#include <vector>

#include "kernels/lanes_avx2.h"
#include "kernels/row_stream_prefetch.h"
#include "quant/interleaved_rows.h"

namespace infera::int_dot_detail {
namespace {

using namespace lanes_avx2;

INFERA_LANES_AVX2_LAMBDA inline __m256i tile_vector(const uint8_t* tile, int k) {
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(tile + 32 * k));
}

// Bytes `first` and `second` (0 … 3) of every dword lane of v as the lane's two int16,
// zero-extended (kSigned: sign-extended).
template <bool kSigned = false>
INFERA_LANES_AVX2_LAMBDA inline __m256i lane_bytes_to_int16(__m256i v, int first, int second) {
  const auto a = static_cast<char>(first), b = static_cast<char>(second);
  const auto z = static_cast<char>(0x80);
  if constexpr (kSigned) {
    // Each byte into the high half of its int16, then shifted down with its sign.
    const __m256i at_high =
        _mm256_shuffle_epi8(v, _mm256_setr_epi8(z, a, z, b, z, a + 4, z, b + 4, z, a + 8, z, b + 8,
                                                z, a + 12, z, b + 12, z, a, z, b, z, a + 4, z,
                                                b + 4, z, a + 8, z, b + 8, z, a + 12, z, b + 12));
    return _mm256_srai_epi16(at_high, 8);
  } else {
    return _mm256_shuffle_epi8(
        v,
        _mm256_setr_epi8(a, z, b, z, a + 4, z, b + 4, z, a + 8, z, b + 8, z, a + 12, z, b + 12, z,
                         a, z, b, z, a + 4, z, b + 4, z, a + 8, z, b + 8, z, a + 12, z, b + 12, z));
  }
}

// Q4_K: tile vectors 0 … 31 the qs (vector 8j + g: qs[32j + 4g …], whose low nibbles are
// sub-block 2j's elements 4g …, the high ones sub-block 2j + 1's), 32 … 34 the packed scales;
// then d and dmin.
constexpr int kQ4KScales = 32;
constexpr int kQ4KHalves = 32 * 35;

INFERA_LANES_AVX2_LAMBDA inline __m256 q4_k_tile_terms(const uint8_t* tile, const block_q8_K& x,
                                                       const int16_t* act_pair_sums) {
  const __m256i low4 = _mm256_set1_epi8(0x0f);
  // The 6-bit scales and mins of the 8 sub-blocks (q4k_scale_min), bytes 0 … 3 of each lane:
  // scales 0 … 3 and 4 … 7, mins 0 … 3 and 4 … 7.
  const __m256i u0 = tile_vector(tile, kQ4KScales), u1 = tile_vector(tile, kQ4KScales + 1);
  const __m256i u2 = tile_vector(tile, kQ4KScales + 2);
  const __m256i six = _mm256_set1_epi8(0x3f), top = _mm256_set1_epi8(0x30);
  const __m256i sc_lo = _mm256_and_si256(u0, six);
  const __m256i sc_hi =
      _mm256_or_si256(_mm256_and_si256(u2, low4), _mm256_and_si256(_mm256_srli_epi16(u0, 2), top));
  const __m256i m_lo = _mm256_and_si256(u1, six);
  const __m256i m_hi = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(u2, 4), low4),
                                       _mm256_and_si256(_mm256_srli_epi16(u1, 2), top));
  __m256i isum = _mm256_setzero_si256();
#pragma GCC unroll 4
  for (int j = 0; j < 4; ++j) {
    // Sub-blocks 2j (low nibbles) and 2j + 1 (high): 8 products each add up in int16
    // (8 · 2 · 15 · 127 < 2^15).
    __m256i p[2];
#pragma GCC unroll 8
    for (int g = 0; g < 8; ++g) {
      const __m256i v = tile_vector(tile, 8 * j + g);
      const __m256i lo =
          _mm256_maddubs_epi16(_mm256_and_si256(v, low4), broadcast32(x.qs + 32 * (2 * j) + 4 * g));
      const __m256i hi = _mm256_maddubs_epi16(_mm256_and_si256(_mm256_srli_epi16(v, 4), low4),
                                              broadcast32(x.qs + 32 * (2 * j + 1) + 4 * g));
      p[0] = g == 0 ? lo : _mm256_add_epi16(p[0], lo);
      p[1] = g == 0 ? hi : _mm256_add_epi16(p[1], hi);
    }
    const __m256i scales = j < 2 ? sc_lo : sc_hi;
    isum = _mm256_add_epi32(
        isum, _mm256_madd_epi16(p[0], lane_bytes_to_int16(scales, 2 * j % 4, 2 * j % 4)));
    isum = _mm256_add_epi32(
        isum,
        _mm256_madd_epi16(p[1], lane_bytes_to_int16(scales, (2 * j + 1) % 4, (2 * j + 1) % 4)));
  }
  // Σ min · (the activations' sums of the sub-block), two sub-blocks per madd.
  __m256i summs = _mm256_setzero_si256();
#pragma GCC unroll 4
  for (int q = 0; q < 4; ++q) {
    const __m256i mins = lane_bytes_to_int16(q < 2 ? m_lo : m_hi, 2 * q % 4, 2 * q % 4 + 1);
    summs = _mm256_add_epi32(summs, _mm256_madd_epi16(mins, broadcast32(act_pair_sums + 2 * q)));
  }
  const auto* halves = reinterpret_cast<const __m128i*>(tile + kQ4KHalves);
  const __m256 wd = _mm256_cvtph_ps(_mm_loadu_si128(halves));
  const __m256 wdmin = _mm256_cvtph_ps(_mm_loadu_si128(halves + 1));
  const __m256 xd = _mm256_set1_ps(x.d);
  // As k_term_with_min: (d · d_x) · isum − (dmin · d_x) · summs, each product rounded.
  return _mm256_sub_ps(mul_rounded(mul_rounded(wd, xd), _mm256_cvtepi32_ps(isum)),
                       mul_rounded(mul_rounded(wdmin, xd), _mm256_cvtepi32_ps(summs)));
}

// Q6_K: tile vectors 0 … 31 ql, 32 … 47 qh, 48 … 51 the signed scales; then d.
constexpr int kQ6KQh = 32;
constexpr int kQ6KScales = 48;
constexpr int kQ6KHalves = 32 * 52;

INFERA_LANES_AVX2_LAMBDA inline __m256 q6_k_tile_terms(const uint8_t* tile, const block_q8_K& x) {
  const __m256i low4 = _mm256_set1_epi8(0x0f), high2 = _mm256_set1_epi8(0x30);
  __m256i isum = _mm256_setzero_si256();
#pragma GCC unroll 2
  for (int n = 0; n < 2; ++n) {
    // Elements 128n + 32c + 4g … (c = 0 … 3) of the 8 rows, quants 0 … 63 as stored, from ql
    // dwords 16n + g (c 0, 2: low, high nibbles) and 16n + 8 + g (c 1, 3) and qh dword 8n + g
    // (bits 2c, 2c + 1). Sub-block (16 elements) 8n + 2c + g / 4.
#pragma GCC unroll 2
    for (int half = 0; half < 2; ++half) {
      // Chunk c's sub-block and its scale, sign-extended, twice in each lane.
      __m256i sc[4];
      for (int c = 0; c < 4; ++c) {
        const int sub = 8 * n + 2 * c + half;
        sc[c] =
            lane_bytes_to_int16<true>(tile_vector(tile, kQ6KScales + sub / 4), sub % 4, sub % 4);
      }
      __m256i p[4];  // two products add up in int16: |sum| <= 2 · 2 · 63 · 127 < 2^15
#pragma GCC unroll 4
      for (int i = 0; i < 4; ++i) {
        const int g = 4 * half + i;
        const __m256i a = tile_vector(tile, 16 * n + g);
        const __m256i b = tile_vector(tile, 16 * n + 8 + g);
        const __m256i h = tile_vector(tile, kQ6KQh + 8 * n + g);
        const __m256i q[4] = {_mm256_or_si256(_mm256_and_si256(a, low4),
                                              _mm256_and_si256(_mm256_slli_epi16(h, 4), high2)),
                              _mm256_or_si256(_mm256_and_si256(b, low4),
                                              _mm256_and_si256(_mm256_slli_epi16(h, 2), high2)),
                              _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(a, 4), low4),
                                              _mm256_and_si256(h, high2)),
                              _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(b, 4), low4),
                                              _mm256_and_si256(_mm256_srli_epi16(h, 2), high2))};
        for (int c = 0; c < 4; ++c) {
          const __m256i prod =
              _mm256_maddubs_epi16(q[c], broadcast32(x.qs + 128 * n + 32 * c + 4 * g));
          if (i % 2 == 0) {
            p[c] = prod;
          } else {
            isum = _mm256_add_epi32(isum, _mm256_madd_epi16(_mm256_add_epi16(p[c], prod), sc[c]));
          }
        }
      }
    }
  }
  // Σ scale · bsum, taken 32 times off: the quants' −32.
  __m256i offset = _mm256_setzero_si256();
#pragma GCC unroll 8
  for (int q = 0; q < 8; ++q) {
    const __m256i pair =
        lane_bytes_to_int16<true>(tile_vector(tile, kQ6KScales + q / 2), 2 * q % 4, 2 * q % 4 + 1);
    offset = _mm256_add_epi32(offset, _mm256_madd_epi16(pair, broadcast32(x.bsums + 2 * q)));
  }
  const __m256i total = _mm256_sub_epi32(isum, _mm256_slli_epi32(offset, 5));
  const __m256 wd =
      _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(tile + kQ6KHalves)));
  // As k_term: (d · d_x) · isum, each product rounded.
  return mul_rounded(mul_rounded(wd, _mm256_set1_ps(x.d)), _mm256_cvtepi32_ps(total));
}

template <bool kQ4K>
INFERA_LANES_AVX2 void runs_times_token(const uint8_t* w, uint64_t run_bytes, int64_t n_runs,
                                        uint64_t tile_bytes, const block_q8_K* x, int64_t nb,
                                        float* y) {
  // The activations' sums of each 32-element sub-block, for Q4_K's mins (as act_sums of the
  // prompt kernel).
  thread_local std::vector<int16_t> pair_sums;
  if constexpr (kQ4K) {
    pair_sums.resize(static_cast<size_t>(8 * nb));
    for (int64_t b = 0; b < nb; ++b)
      for (int s = 0; s < 8; ++s)
        pair_sums[8 * b + s] = static_cast<int16_t>(x[b].bsums[2 * s] + x[b].bsums[2 * s + 1]);
  }
  // A thread's runs lie one after the other: one stream, each tile requested a few KiB ahead.
  const RowStreamPrefetch prefetch(run_bytes, 1, kDecodeRowLeadBytes);
  for (int64_t g = 0; g < n_runs; ++g) {
    const uint8_t* run = w + g * run_bytes;
    __m256 lane[8];
    for (auto& l : lane) l = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; b += 8) {
      const int count = static_cast<int>(std::min<int64_t>(8, nb - b));
      for (int l = 0; l < 8; ++l) {
        if (l >= count) break;
        const uint8_t* tile = run + (b + l) * tile_bytes;
        prefetch(run, (b + l) * tile_bytes, tile_bytes);
        const __m256 term = kQ4K ? q4_k_tile_terms(tile, x[b + l], pair_sums.data() + 8 * (b + l))
                                 : q6_k_tile_terms(tile, x[b + l]);
        lane[l] = _mm256_add_ps(lane[l], term);
      }
    }
    _mm256_storeu_ps(y + kInterleavedRows * g, block_lanes_sum(lane));
  }
}

}  // namespace

bool k_interleaved_weight_rows_avx2(TensorType weight_type, const uint8_t* w_rows,
                                    uint64_t w_row_bytes, int64_t n_rows, const block_q8_K* x,
                                    int64_t nb, float* y) {
  const uint64_t run_bytes = kInterleavedRows * w_row_bytes;
  const int64_t n_runs = n_rows / kInterleavedRows;
  const uint64_t tile_bytes = interleaved_tile_bytes(weight_type);
  if (weight_type == TensorType::Q4_K) {
    runs_times_token<true>(w_rows, run_bytes, n_runs, tile_bytes, x, nb, y);
    return true;
  }
  if (weight_type == TensorType::Q6_K) {
    runs_times_token<false>(w_rows, run_bytes, n_runs, tile_bytes, x, nb, y);
    return true;
  }
  return false;
}

}  // namespace infera::int_dot_detail

#endif  // x86
