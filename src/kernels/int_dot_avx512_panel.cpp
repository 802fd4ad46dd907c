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
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstring>
#include <optional>
#include <type_traits>
#include <vector>

#include "kernels/avx512_intrinsics.h"
#include "quant/q4_0_groups.h"

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

// Activation rows that share each load of the panel.
constexpr int kTokens = 4;
// Tokens that pass over a slice before the next slice: their lane vectors (512 bytes each) stay in
// L1, and their activation rows in L2 while every panel of a block takes them. More tokens than
// this go in groups over the rewritten panels. bench-kernels Q4_0 t512 on one core, 2048×8192 and
// 896×4864: groups of 16 or 24 ran at ~275–285 GFLOP/s, 64 at ~230–260.
constexpr int64_t kGroupTokens = 24;

// One block of the rewritten panel. quants[k] lane r = elements 4k … 4k + 3 of row r (int8);
// start = −128 · Σ elements of row r, where the integer sum starts (the activations are read as
// unsigned x + 128); d and m the rows' scales (m only for the _1 types). Plain arrays read with
// unaligned loads: a std::vector of over-aligned vector types is not reliably aligned.
struct PanelBlock {
  int32_t quants[8][kRows];
  int32_t start[kRows];
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

// Where block b of a regrouped Q4_0 row (q4_0_groups.h) keeps its quants and its scale, in bytes
// from the start of the row's groups, the first `whole` blocks in whole groups (a multiple of 8)
// and a half group after them.
constexpr int64_t grouped_qs(int64_t b) {
  return b / kQ4_0GroupBlocks * kQ4_0GroupBytes + b % kQ4_0GroupBlocks * QK4_0 / 2;
}
constexpr int64_t grouped_d(int64_t b, int64_t whole) {
  const int64_t in_group = b < whole ? kQ4_0GroupBlocks : kQ4_0GroupBlocks / 2;
  return b / kQ4_0GroupBlocks * kQ4_0GroupBytes + in_group * QK4_0 / 2 + b % kQ4_0GroupBlocks * 2;
}

// The first nb blocks of the 16 rows at w into out. kGrouped: Q4_0 rows regrouped, whose first
// `whole` blocks lie in whole groups, followed by a half group where `half` (the rest as stored).
template <W K, bool kGrouped = false>
INFERA_AVX512 void rewrite_panel(const uint8_t* w, uint64_t w_row_bytes, int64_t nb,
                                 PanelBlock* out, int64_t whole = 0, bool half = false) {
  static_assert(!kGrouped || K == W::kQ4_0);
  using Block = typename Traits<K>::Block;
  constexpr bool kHasMin = !std::is_same_v<typename Traits<K>::Act, block_q8_0>;
  const __m512i row_offsets = row_offsets16(w_row_bytes);
  const __m512i ones = _mm512_set1_epi8(1);
  for (int64_t b = 0; b < nb; ++b) {
    const bool grouped = kGrouped && b < whole + (half ? kQ4_0GroupBlocks / 2 : 0);
    __m512i pairs[8];
    if (grouped) {
      const uint8_t* qs = w + grouped_qs(b);
      const __m256i eight = _mm256_set1_epi8(8);
      for (int p = 0; p < 8; ++p) {
        pairs[p] = _mm512_inserti64x4(
            _mm512_castsi256_si512(_mm256_sub_epi8(nibbles(qs + (2 * p) * w_row_bytes), eight)),
            _mm256_sub_epi8(nibbles(qs + (2 * p + 1) * w_row_bytes), eight), 1);
      }
    } else {
      for (int p = 0; p < 8; ++p) {
        const auto* r0 = reinterpret_cast<const Block*>(w + (2 * p) * w_row_bytes) + b;
        const auto* r1 = reinterpret_cast<const Block*>(w + (2 * p + 1) * w_row_bytes) + b;
        pairs[p] = _mm512_inserti64x4(_mm512_castsi256_si512(weight_quants<K>(*r0)),
                                      weight_quants<K>(*r1), 1);
      }
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
    _mm512_storeu_si512(blk.start,
                        _mm512_sub_epi32(_mm512_setzero_si512(), _mm512_slli_epi32(sum, 7)));
    // d (and m) lead every block as stored: one dword per row holds both halves. Regrouped, d
    // is the high half of the dword that ends with it, which lies inside the group.
    const __m512i scales =
        grouped ? _mm512_srli_epi32(
                      _mm512_i32gather_epi32(row_offsets, w + grouped_d(b, whole) - 2, 1), 16)
                : _mm512_i32gather_epi32(row_offsets, reinterpret_cast<const Block*>(w) + b, 1);
    _mm512_storeu_ps(blk.d, _mm512_cvtph_ps(_mm512_cvtepi32_epi16(scales)));
    _mm512_storeu_ps(blk.m,
                     kHasMin ? _mm512_cvtph_ps(_mm512_cvtepi32_epi16(_mm512_srli_epi32(scales, 16)))
                             : _mm512_setzero_ps());
  }
}

// Block b's float terms for the 16 rows and N tokens, as the scalar reference forms them.
template <W K, int N>
INFERA_AVX512 inline void block_terms(const PanelBlock& p, const PanelTokenRow* t, int64_t b,
                                      __m512* term) {
  // Two chains of vpdpbusd per token (even and odd k), half as long as one.
  __m512i sum[N][2];
  const __m512i start = _mm512_loadu_si512(p.start);
  for (int u = 0; u < N; ++u) {
    sum[u][0] = start;
    sum[u][1] = _mm512_setzero_si512();
  }
  for (int k = 0; k < 8; ++k) {
    __m512i q = _mm512_loadu_si512(p.quants[k]);
    // One load for all N tokens: left to itself, GCC folds it into every vpdpbusd.
    __asm__("" : "+v"(q));
    for (int u = 0; u < N; ++u) {
      int32_t four;
      std::memcpy(&four, t[u].quants + 32 * b + 4 * k, 4);
      sum[u][k % 2] = _mm512_dpbusd_epi32(sum[u][k % 2], _mm512_set1_epi32(four), q);
    }
  }
  for (int u = 0; u < N; ++u) {
    const __m512 sumi = _mm512_cvtepi32_ps(_mm512_add_epi32(sum[u][0], sum[u][1]));
    const __m512 dd = mul_rounded16(_mm512_loadu_ps(p.d), _mm512_set1_ps(t[u].d[b]));
    if constexpr (std::is_same_v<typename Traits<K>::Act, block_q8_0>) {
      term[u] = mul_rounded16(sumi, dd);
    } else {
      term[u] = _mm512_add_ps(mul_rounded16(dd, sumi),
                              mul_rounded16(_mm512_loadu_ps(p.m), _mm512_set1_ps(t[u].s[b])));
    }
  }
}

// Tokens [t0, t0 + N) over blocks [b0, b0 + n_blocks) of the row (the slice's blocks at `panel`),
// adding into their eight lane vectors in `lanes`; blocks 0 … 7 start their lanes.
template <W K, int N>
INFERA_AVX512 void slice_times_tokens(const PanelBlock* panel, int64_t b0, int64_t n_blocks,
                                      const uint8_t* x_rows, uint64_t x_stride, int64_t nb,
                                      int64_t t0, float* lanes) {
  PanelTokenRow token[N];
  float* state[N];
  for (int u = 0; u < N; ++u) {
    token[u] = panel_token_row(x_rows + (t0 + u) * x_stride, nb);
    state[u] = lanes + (t0 + u) * 8 * kRows;
  }
  // b0 is a multiple of 8: block b0 + i goes to lane i % 8.
  for (int64_t i = 0; i < n_blocks; ++i) {
    __m512 term[N];
    block_terms<K, N>(panel[i], token, b0 + i, term);
    const int64_t j = i % 8;
    // As the reference, a lane's first term is added to +0 (a −0 term becomes +0).
    const bool starts = b0 + i < 8;
    for (int u = 0; u < N; ++u) {
      float* l = state[u] + j * kRows;
      const __m512 before = starts ? _mm512_setzero_ps() : _mm512_loadu_ps(l);
      _mm512_storeu_ps(l, _mm512_add_ps(before, term[u]));
    }
  }
}

template <W K, bool kGrouped = false>
INFERA_AVX512 void panels16(const uint8_t* w, uint64_t w_row_bytes, int64_t n_panels,
                            const uint8_t* x_rows, uint64_t x_stride, int64_t n_tokens, int64_t nb,
                            float* y, int64_t y_stride) {
  using Block = typename Traits<K>::Block;
  // Used for kGrouped.
  const int64_t whole = nb / kQ4_0GroupBlocks * kQ4_0GroupBlocks;
  const bool half = q4_0_half_group(nb);
  // Every panel of the block, slice after slice: rewritten as the first group of tokens reaches
  // each slice, then read again (from L2) by the groups after it, so that each group's activation
  // rows are read from L2 by all the panels rather than from L3 by each.
  thread_local std::vector<uint8_t> panel_bytes;
  const size_t bytes = static_cast<size_t>(n_panels * nb) * sizeof(PanelBlock) + 64;
  if (panel_bytes.size() < bytes) panel_bytes.resize(bytes);
  // Blocks start on cache lines: each vector load then touches one line.
  auto* panels = reinterpret_cast<PanelBlock*>(
      (reinterpret_cast<uintptr_t>(panel_bytes.data()) + 63) & ~static_cast<uintptr_t>(63));

  // A slice of blocks at a time (kSliceBlocks · 704 bytes stay in L1) for every token of a group.
  // The first slice writes each token's lanes (slice_times_tokens); only lanes no block reaches
  // need zeros.
  thread_local std::vector<float> lanes;
  lanes.resize(static_cast<size_t>(std::min(n_tokens, kGroupTokens) * 8 * kRows));
  if (nb < 8) std::fill(lanes.begin(), lanes.end(), 0.0f);
  for (int64_t t0 = 0; t0 < n_tokens; t0 += kGroupTokens) {
    const int64_t g_tokens = std::min(kGroupTokens, n_tokens - t0);
    const uint8_t* xg = x_rows + t0 * x_stride;
    const bool rewrite = t0 == 0;
    for (int64_t p = 0; p < n_panels; ++p) {
      const uint8_t* wp = w + p * kRows * w_row_bytes;
      PanelBlock* panel = panels + p * nb;
      for (int64_t b0 = 0; b0 < nb; b0 += kSliceBlocks) {
        const int64_t n_blocks = std::min(kSliceBlocks, nb - b0);
        std::optional<NextSlicePrefetch> next;
        if (rewrite) {
          // b0 is a multiple of 8: regrouped, the slice starts a group at the same byte.
          rewrite_panel<K, kGrouped>(wp + b0 * sizeof(Block), w_row_bytes, n_blocks, panel + b0,
                                     whole - b0, half);
          next.emplace(wp, w_row_bytes, b0 * sizeof(Block), n_blocks * sizeof(Block),
                       g_tokens / kTokens);
        }
        int64_t u = 0;
        for (; u + kTokens <= g_tokens; u += kTokens) {
          if (next) next->before_pass();
          slice_times_tokens<K, kTokens>(panel + b0, b0, n_blocks, xg, x_stride, nb, u,
                                         lanes.data());
        }
        for (; u < g_tokens; ++u)
          slice_times_tokens<K, 1>(panel + b0, b0, n_blocks, xg, x_stride, nb, u, lanes.data());
      }
      for (int64_t u = 0; u < g_tokens; ++u) {
        const float* state = lanes.data() + u * 8 * kRows;
        __m512 lane[8];
        for (int j = 0; j < 8; ++j) lane[j] = _mm512_loadu_ps(state + j * kRows);
        _mm512_storeu_ps(y + (t0 + u) * y_stride + p * kRows, sum_block_lanes16(lane));
      }
    }
  }
}

}  // namespace

void q4_0_groups_panels16_avx512(const uint8_t* w, uint64_t w_row_bytes, int64_t n_panels,
                                 const uint8_t* x_rows, uint64_t x_stride, int64_t n_tokens,
                                 int64_t nb, float* y, int64_t y_stride) {
  panels16<W::kQ4_0, true>(w, w_row_bytes, n_panels, x_rows, x_stride, n_tokens, nb, y, y_stride);
}

void q8_panels16_avx512(TensorType weight_type, const uint8_t* w, uint64_t w_row_bytes,
                        int64_t n_panels, const uint8_t* x_rows, uint64_t x_stride,
                        int64_t n_tokens, int64_t nb, float* y, int64_t y_stride) {
  switch (weight_type) {
    case TensorType::Q4_0:
      return panels16<W::kQ4_0>(w, w_row_bytes, n_panels, x_rows, x_stride, n_tokens, nb, y,
                                y_stride);
    case TensorType::Q4_1:
      return panels16<W::kQ4_1>(w, w_row_bytes, n_panels, x_rows, x_stride, n_tokens, nb, y,
                                y_stride);
    case TensorType::Q5_0:
      return panels16<W::kQ5_0>(w, w_row_bytes, n_panels, x_rows, x_stride, n_tokens, nb, y,
                                y_stride);
    case TensorType::Q5_1:
      return panels16<W::kQ5_1>(w, w_row_bytes, n_panels, x_rows, x_stride, n_tokens, nb, y,
                                y_stride);
    default:
      return panels16<W::kQ8_0>(w, w_row_bytes, n_panels, x_rows, x_stride, n_tokens, nb, y,
                                y_stride);
  }
}

}  // namespace infera::int_dot_detail

#endif  // x86
