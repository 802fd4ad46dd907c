// AVX-512 VNNI: a panel of 16 Q4_0 … Q8_0 weight rows times many activation rows, the
// prompt-processing GEMM. The per-row kernels (int_dot_x86_q8_rows.inc) reduce each block's
// integer products across the lanes of a vector; here the panel is first rewritten so that lane r
// of a vector is weight row r: vector k of block b holds elements 4k … 4k + 3 of each row's block
// b. One broadcast activation dword times that vector (vpdpbusd) adds four products to each of
// the 16 rows at once, with no reduction across lanes, and the float steps run on 16 rows per
// instruction. Each (row, token) still adds block b's term into lane b % 8 and sums the lanes in
// the reference's tree, rounding each product as it does: the same bits as dot_unpacked_q8_0/1.
#include "kernels/int_dot.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstring>
#include <type_traits>
#include <vector>

// GCC 12's _mm512_undefined_*() initialise a variable with itself, which -Wall reports as "used"
// or "may be used uninitialized" wherever an intrinsic built on them is inlined: a false positive.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

#define INFERA_AVX512 __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")))

namespace infera::int_dot_detail {
namespace {

#define INFERA_SIMD_TARGET INFERA_AVX512
#include "kernels/int_dot_x86_shared.inc"
#undef INFERA_SIMD_TARGET

#include "kernels/panel_avx512.inc"

constexpr int kRows = static_cast<int>(kIntPanelRows);
// Blocks of the panel every token passes over before the next slice (a multiple of 8).
constexpr int64_t kSliceBlocks = 16;

// One block of the rewritten panel. quants[k] lane r = elements 4k … 4k + 3 of row r (int8);
// bias = 128 · Σ elements of row r (the activations are read as unsigned x + 128); d and m the
// rows' scales (m only for the _1 types). Plain arrays read with unaligned loads: a std::vector of
// over-aligned vector types is not reliably aligned.
struct PanelBlock {
  int32_t quants[8][kRows];
  int32_t bias[kRows];
  float d[kRows], m[kRows];
};

// The vpermt2d indices of a 16 × 8 dword transpose in three steps. A set of rows r0 … and columns
// k0 … is laid out column by column: lane (k - k0) · n_rows + (r - r0).
struct TransposeIndices {
  // Step 1: two rows per input (row 2p: lanes 0..7, row 2p + 1: lanes 8..15) → 4 rows × 4 columns.
  std::array<std::array<int32_t, 16>, 2> rows4;  // by column half h
  // Step 2: two 4 × 4 sets (rows 8G … 8G + 3, 8G + 4 …) → 8 rows × 2 columns.
  std::array<std::array<int32_t, 16>, 4> rows8;  // by column pair q
  // Step 3: two 8 × 2 sets (rows 0 … 7, 8 … 15) → 16 rows × 1 column.
  std::array<std::array<int32_t, 16>, 2> rows16;  // by column c of the pair
};

constexpr TransposeIndices make_transpose_indices() {
  TransposeIndices t{};
  for (int h = 0; h < 2; ++h) {
    for (int lane = 0; lane < 16; ++lane) {
      const int k = 4 * h + lane / 4, r = lane % 4;
      t.rows4[h][lane] = (r < 2 ? 0 : 16) + (r % 2) * 8 + k;
    }
  }
  for (int q = 0; q < 4; ++q) {
    for (int lane = 0; lane < 16; ++lane) {
      const int k = 2 * q + lane / 8, r = lane % 8, h = q / 2;
      t.rows8[q][lane] = (r < 4 ? 0 : 16) + (k - 4 * h) * 4 + r % 4;
    }
  }
  for (int c = 0; c < 2; ++c) {
    for (int r = 0; r < 16; ++r) t.rows16[c][r] = (r < 8 ? 0 : 16) + c * 8 + r % 8;
  }
  return t;
}
constexpr TransposeIndices kTranspose = make_transpose_indices();

INFERA_AVX512 inline __m512i permute2(__m512i a, const std::array<int32_t, 16>& idx, __m512i b) {
  return _mm512_permutex2var_epi32(a, _mm512_loadu_si512(idx.data()), b);
}

template <W K>
INFERA_AVX512 void rewrite_panel(const uint8_t* w, uint64_t w_row_bytes, int64_t nb,
                                 PanelBlock* out) {
  using Block = typename Traits<K>::Block;
  constexpr bool kHasMin = !std::is_same_v<typename Traits<K>::Act, block_q8_0>;
  const __m512i row_offsets =
      _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                         _mm512_set1_epi32(static_cast<int>(w_row_bytes)));
  const __m512i ones = _mm512_set1_epi8(1);
  for (int64_t b = 0; b < nb; ++b) {
    __m512i pairs[8];
    for (int p = 0; p < 8; ++p) {
      const auto* r0 = reinterpret_cast<const Block*>(w + (2 * p) * w_row_bytes) + b;
      const auto* r1 = reinterpret_cast<const Block*>(w + (2 * p + 1) * w_row_bytes) + b;
      pairs[p] = _mm512_inserti64x4(_mm512_castsi256_si512(weight_quants<K>(*r0)),
                                    weight_quants<K>(*r1), 1);
    }
    __m512i rows4[4][2];
    for (int g = 0; g < 4; ++g) {
      for (int h = 0; h < 2; ++h)
        rows4[g][h] = permute2(pairs[2 * g], kTranspose.rows4[h], pairs[2 * g + 1]);
    }
    __m512i rows8[2][4];
    for (int G = 0; G < 2; ++G) {
      for (int q = 0; q < 4; ++q)
        rows8[G][q] = permute2(rows4[2 * G][q / 2], kTranspose.rows8[q], rows4[2 * G + 1][q / 2]);
    }
    PanelBlock& blk = out[b];
    __m512i sum = _mm512_setzero_si512();
    for (int k = 0; k < 8; ++k) {
      const __m512i col = permute2(rows8[0][k / 2], kTranspose.rows16[k % 2], rows8[1][k / 2]);
      _mm512_storeu_si512(blk.quants[k], col);
      sum = _mm512_dpbusd_epi32(sum, ones, col);  // Σ w, four at a time: exact
    }
    _mm512_storeu_si512(blk.bias, _mm512_slli_epi32(sum, 7));
    // d (and m) lead every block: one dword per row holds both halves.
    const __m512i scales =
        _mm512_i32gather_epi32(row_offsets, reinterpret_cast<const Block*>(w) + b, 1);
    _mm512_storeu_ps(blk.d, _mm512_cvtph_ps(_mm512_cvtepi32_epi16(scales)));
    _mm512_storeu_ps(blk.m,
                     kHasMin ? _mm512_cvtph_ps(_mm512_cvtepi32_epi16(_mm512_srli_epi32(scales, 16)))
                             : _mm512_setzero_ps());
  }
}

// Block b's float term for the 16 rows, as the scalar reference forms it.
template <W K>
INFERA_AVX512 inline __m512 block_term(const PanelBlock& p, const PanelTokenRow& t, int64_t b) {
  const auto* xq = reinterpret_cast<const int32_t*>(t.quants + 32 * b);
  __m512i even = _mm512_setzero_si512(), odd = _mm512_setzero_si512();
  for (int k = 0; k < 8; k += 2) {
    even = _mm512_dpbusd_epi32(even, _mm512_set1_epi32(xq[k]), _mm512_loadu_si512(p.quants[k]));
    odd =
        _mm512_dpbusd_epi32(odd, _mm512_set1_epi32(xq[k + 1]), _mm512_loadu_si512(p.quants[k + 1]));
  }
  const __m512 sumi =
      _mm512_cvtepi32_ps(_mm512_sub_epi32(_mm512_add_epi32(even, odd), _mm512_loadu_si512(p.bias)));
  const __m512 dd = mul_rounded16(_mm512_loadu_ps(p.d), _mm512_set1_ps(t.d[b]));
  if constexpr (std::is_same_v<typename Traits<K>::Act, block_q8_0>) {
    return mul_rounded16(sumi, dd);
  } else {
    return _mm512_add_ps(mul_rounded16(dd, sumi),
                         mul_rounded16(_mm512_loadu_ps(p.m), _mm512_set1_ps(t.s[b])));
  }
}

template <W K>
INFERA_AVX512 void panel16(const uint8_t* w, uint64_t w_row_bytes, const uint8_t* x_rows,
                           uint64_t x_stride, int64_t n_tokens, int64_t nb, float* y,
                           int64_t y_stride) {
  thread_local std::vector<uint8_t> panel_bytes;
  const size_t bytes = static_cast<size_t>(nb) * sizeof(PanelBlock) + 64;
  if (panel_bytes.size() < bytes) panel_bytes.resize(bytes);
  // Blocks start on cache lines: each vector load then touches one line.
  auto* panel = reinterpret_cast<PanelBlock*>(
      (reinterpret_cast<uintptr_t>(panel_bytes.data()) + 63) & ~static_cast<uintptr_t>(63));
  rewrite_panel<K>(w, w_row_bytes, nb, panel);

  // A slice of blocks at a time (kSliceBlocks · 704 bytes stay in L1) for every token, each
  // token's eight lane vectors kept in `lanes` between slices.
  thread_local std::vector<float> lanes;
  lanes.resize(static_cast<size_t>(n_tokens * 8 * kRows));  // written by the first slice
  for (int64_t b0 = 0; b0 < nb; b0 += kSliceBlocks) {
    const int64_t n_blocks = std::min(kSliceBlocks, nb - b0);
    const int64_t full = n_blocks / 8 * 8;
    const int rem = static_cast<int>(n_blocks - full);
    for (int64_t t = 0; t < n_tokens; ++t) {
      const PanelTokenRow token = panel_token_row(x_rows + t * x_stride, nb);
      float* state = lanes.data() + t * 8 * kRows;
      __m512 lane[8];
      for (int j = 0; j < 8; ++j)
        lane[j] = b0 == 0 ? _mm512_setzero_ps() : _mm512_loadu_ps(state + j * kRows);
      // b0 is a multiple of 8: block b0 + i goes to lane i % 8.
      for (int64_t i = 0; i < full; i += 8) {
        for (int j = 0; j < 8; ++j) {
          const int64_t b = b0 + i + j;
          lane[j] = _mm512_add_ps(lane[j], block_term<K>(panel[b], token, b));
        }
      }
      // Lanes past the last block are left as they are, like the reference's.
      for (int j = 0; j < 8; ++j) {
        if (j < rem) {
          const int64_t b = b0 + full + j;
          lane[j] = _mm512_add_ps(lane[j], block_term<K>(panel[b], token, b));
        }
      }
      for (int j = 0; j < 8; ++j) _mm512_storeu_ps(state + j * kRows, lane[j]);
    }
  }
  for (int64_t t = 0; t < n_tokens; ++t) {
    const float* state = lanes.data() + t * 8 * kRows;
    __m512 lane[8];
    for (int j = 0; j < 8; ++j) lane[j] = _mm512_loadu_ps(state + j * kRows);
    const __m512 sum = _mm512_add_ps(
        _mm512_add_ps(_mm512_add_ps(lane[0], lane[4]), _mm512_add_ps(lane[1], lane[5])),
        _mm512_add_ps(_mm512_add_ps(lane[2], lane[6]), _mm512_add_ps(lane[3], lane[7])));
    _mm512_storeu_ps(y + t * y_stride, sum);
  }
}

}  // namespace

void q8_panel16_avx512(TensorType weight_type, const uint8_t* w, uint64_t w_row_bytes,
                       const uint8_t* x_rows, uint64_t x_stride, int64_t n_tokens, int64_t nb,
                       float* y, int64_t y_stride) {
  switch (weight_type) {
    case TensorType::Q4_0:
      return panel16<W::kQ4_0>(w, w_row_bytes, x_rows, x_stride, n_tokens, nb, y, y_stride);
    case TensorType::Q4_1:
      return panel16<W::kQ4_1>(w, w_row_bytes, x_rows, x_stride, n_tokens, nb, y, y_stride);
    case TensorType::Q5_0:
      return panel16<W::kQ5_0>(w, w_row_bytes, x_rows, x_stride, n_tokens, nb, y, y_stride);
    case TensorType::Q5_1:
      return panel16<W::kQ5_1>(w, w_row_bytes, x_rows, x_stride, n_tokens, nb, y, y_stride);
    default:
      return panel16<W::kQ8_0>(w, w_row_bytes, x_rows, x_stride, n_tokens, nb, y, y_stride);
  }
}

}  // namespace infera::int_dot_detail

#endif  // x86
