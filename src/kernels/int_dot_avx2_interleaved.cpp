// AVX2 decode kernel for Q4_0 … Q8_0 rows interleaved 8 at a time (quant/interleaved_rows.h):
// the product of a run of 8 weight rows, row r in lane r, with one activation row in the pair
// form (pair_activations_avx2).
//
// The arithmetic is the prompt kernel's (int_dot_avx2_lanes.cpp) with its panel already in memory:
// each of a tile's quant vectors gives, masked and shifted (and with the fifth bits of Q5_0/Q5_1
// put in), the 8 rows' elements 4k … 4k + 3 and 16 + 4k … 16 + 4k + 3 as unsigned bytes (Q8_0:
// elements 4k … 4k + 3, signed); an activation dword broadcast to every lane times each (maddubs)
// gives every row its products, which add up into the 8 rows' block sums, whose float terms are
// rounded as the reference rounds them. The reference adds block b's term into lane b % 8 and
// sums the lanes in its tree (block_lanes.h): here one accumulator per block lane, each a vector
// of the 8 rows, visited in the order of the bytes in memory (the prompt kernel visits the blocks
// lane by lane, out of order). Same bits as dot_unpacked_q8_0/q8_1 row by row.
#include "kernels/int_dot.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#include <algorithm>
#include <type_traits>

#include "kernels/lanes_avx2.h"
#include "kernels/row_stream_prefetch.h"
#include "quant/interleaved_rows.h"

namespace infera::int_dot_detail {
namespace {

using namespace lanes_avx2;

// The weight types, with where a tile keeps its pieces (interleaved_rows.h).
enum class Kind { kQ4_0, kQ4_1, kQ5_0, kQ5_1, kQ8_0 };
template <Kind K>
constexpr bool kWithMin = K == Kind::kQ4_1 || K == Kind::kQ5_1;
template <Kind K>
constexpr bool kFiveBit = K == Kind::kQ5_0 || K == Kind::kQ5_1;
template <Kind K>
constexpr int kQuantVectors = K == Kind::kQ8_0 ? 8 : 4;
// 8 blocks: 2 bytes of d, 2 of m, 4 of qh, the quants.
template <Kind K>
constexpr uint64_t kTileBytes = kInterleavedRows*(2 + (kWithMin<K> ? 2 : 0) +
                                                  (kFiveBit<K> ? 4 : 0) + 4 * kQuantVectors<K>);
template <Kind K>
constexpr int kDAt = 32 * kQuantVectors<K>;
template <Kind K>
constexpr int kMAt = kDAt<K> + 16;
template <Kind K>
constexpr int kQhAt = kDAt<K> + (kWithMin<K> ? 32 : 16);

// Σ q · x of block b for the 8 rows (int32 per lane), q as the kernels take it: 4- and 5-bit
// quants unsigned, whose maddubs sums add in int16 as far as they cannot overflow (8 vectors of
// 4-bit: 8 · 2 · 15 · 127 < 2^15; 4 of 5-bit), Q8_0 as |w| times x with w's sign, each vector's
// pair sums (up to 2 · 128 · 127) to int32 on their own.
template <Kind K>
INFERA_LANES_AVX2_LAMBDA inline __m256i block_sums(const uint8_t* tile, const PanelTokenRow& x,
                                                   int64_t b) {
  const __m256i ones = _mm256_set1_epi16(1);
  auto quants = [&](int k) INFERA_LANES_AVX2_LAMBDA {
    return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(tile + 32 * k));
  };
  auto x_of = [&](int k) INFERA_LANES_AVX2_LAMBDA {
    return broadcast32(x.quants + pair_quant_offset(b, k));
  };
  if constexpr (K == Kind::kQ8_0) {
    __m256i sum = _mm256_setzero_si256();
#pragma GCC unroll 8
    for (int k = 0; k < 8; ++k) {
      const __m256i w = quants(k);
      const __m256i p = _mm256_maddubs_epi16(_mm256_abs_epi8(w), _mm256_sign_epi8(x_of(k), w));
      sum = _mm256_add_epi32(sum, _mm256_madd_epi16(p, ones));
    }
    return sum;
  } else {
    const __m256i low4 = _mm256_set1_epi8(0x0f);
    __m256i planes = _mm256_setzero_si256();
    if constexpr (kFiveBit<K>)
      planes = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(tile + kQhAt<K>));
    __m256i sum_lo = _mm256_setzero_si256(), sum_hi = _mm256_setzero_si256();
#pragma GCC unroll 4
    for (int k = 0; k < 4; ++k) {
      const __m256i q = quants(k);
      __m256i lo = _mm256_and_si256(q, low4);
      __m256i hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), low4);
      if constexpr (kFiveBit<K>) {
        lo = _mm256_or_si256(lo, interleaved_fifth_bits(planes, k));
        hi = _mm256_or_si256(hi, interleaved_fifth_bits(planes, 4 + k));
      }
      sum_lo = _mm256_add_epi16(sum_lo, _mm256_maddubs_epi16(lo, x_of(k)));
      sum_hi = _mm256_add_epi16(sum_hi, _mm256_maddubs_epi16(hi, x_of(4 + k)));
    }
    if constexpr (kFiveBit<K>)
      return _mm256_add_epi32(_mm256_madd_epi16(sum_lo, ones), _mm256_madd_epi16(sum_hi, ones));
    return _mm256_madd_epi16(_mm256_add_epi16(sum_lo, sum_hi), ones);
  }
}

// Block b's terms for the 8 rows of the run whose tile for b is at `tile`, rounded as the
// reference rounds them: Q4_1, Q5_1 (d · d_x) · Σ q x + m · s_x; Q4_0, Q5_0 (Σ q x − 8 (16) Σ x) ·
// (d · d_x), exact in integers before the scale; Q8_0 Σ q x · (d · d_x).
template <Kind K>
INFERA_LANES_AVX2_LAMBDA inline __m256 tile_terms(const uint8_t* tile, const PanelTokenRow& x,
                                                  int64_t b) {
  const __m256 isum = _mm256_cvtepi32_ps(block_sums<K>(tile, x, b));
  const int64_t si = pair_scale_index(b);
  const __m256 wd =
      _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(tile + kDAt<K>)));
  const __m256 dd = mul_rounded(wd, _mm256_set1_ps(x.d[si]));
  if constexpr (kWithMin<K>) {
    const __m256 wm =
        _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(tile + kMAt<K>)));
    return _mm256_add_ps(mul_rounded(dd, isum), mul_rounded(wm, _mm256_set1_ps(x.s[si])));
  } else if constexpr (K == Kind::kQ8_0) {
    return mul_rounded(isum, dd);
  } else {
    const float offset = kFiveBit<K> ? 16.0f : 8.0f;
    const __m256 sumi = _mm256_fnmadd_ps(_mm256_set1_ps(offset), _mm256_set1_ps(x.s[si]), isum);
    return mul_rounded(sumi, dd);
  }
}

template <Kind K>
INFERA_LANES_AVX2 void runs_times_token(const uint8_t* w, uint64_t run_bytes, int64_t n_runs,
                                        const PanelTokenRow& x, int64_t nb, float* y) {
  constexpr uint64_t kTile = kTileBytes<K>;
  for (int64_t g = 0; g < n_runs; ++g) {
    const uint8_t* run = w + g * run_bytes;
    __m256 lane[8];
    for (auto& l : lane) l = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; b += 8) {
      const int count = static_cast<int>(std::min<int64_t>(8, nb - b));
#pragma GCC unroll 8
      for (int l = 0; l < 8; ++l) {
        if (l < count) {
          // A thread's runs lie one after the other: one stream, requested a few KiB ahead.
          const uint8_t* tile = run + (b + l) * kTile;
          prefetch_stream_ahead<kTile>(tile);
          lane[l] = _mm256_add_ps(lane[l], tile_terms<K>(tile, x, b + l));
        }
      }
    }
    _mm256_storeu_ps(y + kInterleavedRows * g, block_lanes_sum(lane));
  }
}

}  // namespace

void interleaved_weight_rows_avx2(TensorType weight_type, const uint8_t* w_rows,
                                  uint64_t w_row_bytes, int64_t n_rows, const uint8_t* x_pair_row,
                                  int64_t nb, float* y) {
  const PanelTokenRow x = panel_token_row(x_pair_row, nb);
  const uint64_t run_bytes = kInterleavedRows * w_row_bytes;
  const int64_t n_runs = n_rows / kInterleavedRows;
  auto run = [&](auto kind) {
    runs_times_token<decltype(kind)::value>(w_rows, run_bytes, n_runs, x, nb, y);
  };
  switch (weight_type) {
    case TensorType::Q4_1:
      return run(std::integral_constant<Kind, Kind::kQ4_1>{});
    case TensorType::Q5_0:
      return run(std::integral_constant<Kind, Kind::kQ5_0>{});
    case TensorType::Q5_1:
      return run(std::integral_constant<Kind, Kind::kQ5_1>{});
    case TensorType::Q8_0:
      return run(std::integral_constant<Kind, Kind::kQ8_0>{});
    default:
      return run(std::integral_constant<Kind, Kind::kQ4_0>{});
  }
}

}  // namespace infera::int_dot_detail

#endif  // x86
