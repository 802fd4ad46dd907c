// AVX2 decode kernel for Q4_0 and Q4_1 rows interleaved 8 at a time (quant/interleaved_rows.h):
// the product of a run of 8 weight rows, row r in lane r, with one activation row in the pair
// form (pair_activations_avx2).
//
// The arithmetic is the prompt kernel's (int_dot_avx2_lanes.cpp) with its panel already in memory:
// each of a tile's 4 quant vectors gives, masked and shifted, the 8 rows' elements 4k … 4k + 3
// and 16 + 4k … 16 + 4k + 3 as unsigned bytes; an activation dword broadcast to every lane times
// each (maddubs) gives every row its products; the 8 vectors of a block add up in int16 (8 · 2 ·
// 15 · 127 < 2^15) and one madd makes the 8 rows' block sums, whose float terms are rounded as the
// reference rounds them. The reference adds block b's term into lane b % 8 and sums the lanes in
// its tree (block_lanes.h): here one accumulator per block lane, each a vector of the 8 rows,
// visited in the order of the bytes in memory (the prompt kernel visits the blocks lane by lane,
// out of order). Same bits as dot_unpacked_q8_0/q8_1 row by row.
#include "kernels/int_dot.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#include <algorithm>

#include "kernels/lanes_avx2.h"
#include "kernels/row_stream_prefetch.h"
#include "quant/interleaved_rows.h"

namespace infera::int_dot_detail {
namespace {

using namespace lanes_avx2;

// Block b's terms for the 8 rows of the run whose tile for b is at `tile`. kWithMin: Q4_1
// (d · Σ q x + m · s_x); else Q4_0 (d · (Σ q x − 8 Σ x), exact in integers before the scale).
template <bool kWithMin>
INFERA_LANES_AVX2_LAMBDA inline __m256 tile_terms(const uint8_t* tile, const PanelTokenRow& x,
                                                  int64_t b) {
  const __m256i low4 = _mm256_set1_epi8(0x0f);
  __m256i sum16 = _mm256_setzero_si256();
  for (int k = 0; k < 4; ++k) {
    const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(tile + 32 * k));
    const __m256i lo = _mm256_and_si256(q, low4);
    const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), low4);
    const __m256i x_lo = broadcast32(x.quants + pair_quant_offset(b, k));
    const __m256i x_hi = broadcast32(x.quants + pair_quant_offset(b, 4 + k));
    sum16 = _mm256_add_epi16(
        sum16, _mm256_add_epi16(_mm256_maddubs_epi16(lo, x_lo), _mm256_maddubs_epi16(hi, x_hi)));
  }
  const __m256 isum = _mm256_cvtepi32_ps(_mm256_madd_epi16(sum16, _mm256_set1_epi16(1)));
  const int64_t si = pair_scale_index(b);
  const __m256 wd = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(tile + 128)));
  const __m256 dd = mul_rounded(wd, _mm256_set1_ps(x.d[si]));
  if constexpr (kWithMin) {
    const __m256 wm =
        _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(tile + 128 + 16)));
    return _mm256_add_ps(mul_rounded(dd, isum), mul_rounded(wm, _mm256_set1_ps(x.s[si])));
  } else {
    const __m256 sumi = _mm256_fnmadd_ps(_mm256_set1_ps(8.0f), _mm256_set1_ps(x.s[si]), isum);
    return mul_rounded(sumi, dd);
  }
}

template <bool kWithMin>
INFERA_LANES_AVX2 void runs_times_token(const uint8_t* w, uint64_t run_bytes, int64_t n_runs,
                                        uint64_t tile_bytes, const PanelTokenRow& x, int64_t nb,
                                        float* y) {
  // A thread's runs lie one after the other: one stream, each tile requested a few KiB ahead.
  const RowStreamPrefetch prefetch(run_bytes, 1, kDecodeRowLeadBytes);
  for (int64_t g = 0; g < n_runs; ++g) {
    const uint8_t* run = w + g * run_bytes;
    __m256 lane[8];
    for (auto& l : lane) l = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; b += 8) {
      const int count = static_cast<int>(std::min<int64_t>(8, nb - b));
      prefetch(run, b * tile_bytes, count * tile_bytes);
#pragma GCC unroll 8
      for (int l = 0; l < 8; ++l) {
        if (l < count)
          lane[l] =
              _mm256_add_ps(lane[l], tile_terms<kWithMin>(run + (b + l) * tile_bytes, x, b + l));
      }
    }
    const __m256 sum = _mm256_add_ps(
        _mm256_add_ps(_mm256_add_ps(lane[0], lane[4]), _mm256_add_ps(lane[1], lane[5])),
        _mm256_add_ps(_mm256_add_ps(lane[2], lane[6]), _mm256_add_ps(lane[3], lane[7])));
    _mm256_storeu_ps(y + kInterleavedRows * g, sum);
  }
}

}  // namespace

void interleaved_weight_rows_avx2(TensorType weight_type, const uint8_t* w_rows,
                                  uint64_t w_row_bytes, int64_t n_rows, const uint8_t* x_pair_row,
                                  int64_t nb, float* y) {
  const PanelTokenRow x = panel_token_row(x_pair_row, nb);
  const uint64_t run_bytes = kInterleavedRows * w_row_bytes;
  const int64_t n_runs = n_rows / kInterleavedRows;
  const uint64_t tile_bytes = interleaved_tile_bytes(weight_type);
  if (weight_type == TensorType::Q4_1) {
    runs_times_token<true>(w_rows, run_bytes, n_runs, tile_bytes, x, nb, y);
  } else {
    runs_times_token<false>(w_rows, run_bytes, n_runs, tile_bytes, x, nb, y);
  }
}

}  // namespace infera::int_dot_detail

#endif  // x86
