// AVX2 prompt processing for Q4_0, Q4_1, Q5_0, Q5_1 and Q8_0 weights: panels of 8 weight rows
// with row r in lane r, two panels at a time, times activation rows in the pair form
// (pair_activations_avx2).
//
// The pair kernels (int_dot_avx2_pairs.cpp) reduce each block's products across the lanes of a
// vector, about a third of their work per token. Here each panel of 8 rows is first rewritten
// (once per call, for all tokens, by dword transposes in registers): vector k of block b holds, in
// dword lane r, the 4 quants 4k … 4k + 3 of row r's block b as unsigned bytes (4- and 5-bit
// quants as stored; Q8_0 as |w|, with w kept beside it for its signs). An activation dword
// broadcast to every lane times that vector (maddubs) gives each row its products (one broadcast
// serves both panels); the vectors of a block add up in int16 as far as they cannot overflow (8
// for 4-bit quants: 8 · 2 · 15 · 127 < 2^15; 4 for 5-bit; 1 for Q8_0) and madds make the 8 rows'
// block sums: no reduction across lanes, and the float steps run on 8 rows per instruction. Each
// (row, token) still adds block b's term into lane b % 8 of the reference and sums those lanes in
// its tree, rounding each product as it does: blocks are visited lane by lane (b = l, l + 8, …),
// so one accumulator per token serves a whole lane. Same bits as dot_unpacked_q8_0/q8_1.
#include "kernels/int_dot.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <type_traits>
#include <vector>

#include "kernels/lanes_avx2.h"
#include "quant/float16.h"
#include "quant/interleaved_rows.h"
#include "quant/q4_0_groups.h"

namespace infera::int_dot_detail {
namespace {

using namespace lanes_avx2;
constexpr int kLanes = lanes_avx2::kRows;
// Panels of 8 rows taken together: each token's broadcast activation dword serves both (with one,
// the broadcasts per row were twice as many, and the kernel ran 10–20 % slower).
constexpr int kPanels = 2;

// Block b of a panel, rewritten.
struct LaneBlock {
  uint32_t quants[8][kLanes];  // [k][r]: elements 4k … 4k + 3 of row r as bytes 0..15 (0..31: Q5)
  float d[kLanes];
  float m[kLanes];
};

// Where the quants (and the fifth bits of Q5_0/Q5_1) and the scales (d, and m for Q4_1 and
// Q5_1) of block b of a row lie.
struct StoredBlock {
  const uint8_t* qs;
  uint32_t qh;
  uint16_t d, m;
};

// Block b of a Q5_0 or Q5_1 row (m stays 0 for Q5_0).
template <typename Block>
StoredBlock five_bit_block(const uint8_t* row, int64_t b) {
  Block blk;
  std::memcpy(&blk, row + b * sizeof(Block), sizeof blk);
  StoredBlock s{};
  s.qs = row + b * sizeof(Block) + offsetof(Block, qs);
  std::memcpy(&s.qh, blk.qh, sizeof s.qh);
  s.d = blk.d;
  if constexpr (std::is_same_v<Block, block_q5_1>) s.m = blk.m;
  return s;
}

StoredBlock stored_block(TensorType type, const uint8_t* row, int64_t nb, int64_t b,
                         WeightLayout layout) {
  StoredBlock s{};
  if (type == TensorType::Q5_0) return five_bit_block<block_q5_0>(row, b);
  if (type == TensorType::Q5_1) return five_bit_block<block_q5_1>(row, b);
  if (type == TensorType::Q4_1) {
    block_q4_1 blk;
    std::memcpy(&blk, row + b * sizeof(block_q4_1), sizeof blk);
    s.qs = row + b * sizeof(block_q4_1) + offsetof(block_q4_1, qs);
    s.d = blk.d;
    s.m = blk.m;
    return s;
  }
  const int64_t grouped = nb / kQ4_0GroupBlocks * kQ4_0GroupBlocks;
  const bool in_group = layout == WeightLayout::kQ4_0Groups && (b < grouped || q4_0_half_group(nb));
  if (in_group) {
    // q4_0_groups.h: a group of n blocks (8, or 4 in a half group) holds their qs, then their d.
    const int64_t first = b / kQ4_0GroupBlocks * kQ4_0GroupBlocks;
    const int64_t n = b < grouped ? kQ4_0GroupBlocks : nb - grouped;
    const uint8_t* group = row + first * sizeof(block_q4_0);
    s.qs = group + (b - first) * 16;
    std::memcpy(&s.d, group + n * 16 + (b - first) * 2, sizeof s.d);
    return s;
  }
  s.qs = row + b * sizeof(block_q4_0) + offsetof(block_q4_0, qs);
  std::memcpy(&s.d, row + b * sizeof(block_q4_0), sizeof s.d);
  return s;
}

// Rows [0, 8) of w (w_row_bytes apart; with kInterleaved8 the run of 8 at w) rewritten into nb
// LaneBlocks.
INFERA_LANES_AVX2 void rewrite_panel(TensorType type, const uint8_t* w, uint64_t w_row_bytes,
                                     int64_t nb, WeightLayout layout, LaneBlock* out) {
  const __m256i low4 = _mm256_set1_epi8(0x0f);
  const bool five_bit = type == TensorType::Q5_0 || type == TensorType::Q5_1;
  const uint64_t tile_bytes =
      layout == WeightLayout::kInterleaved8 ? interleaved_tile_bytes(type) : 0;
  const bool with_min = type == TensorType::Q4_1 || type == TensorType::Q5_1;
  for (int64_t b = 0; b < nb; ++b) {
    LaneBlock& lb = out[b];
    RowDwords q;
    // The fifth bits: the rows' qh dwords, or an interleaved tile's bit planes.
    __m256i high_bits = _mm256_setzero_si256(), planes = _mm256_setzero_si256();
    uint16_t d[kLanes], m[kLanes] = {};
    if (layout == WeightLayout::kInterleaved8) {
      // The tile holds the 8 rows' dwords side by side, then d, m and qh (interleaved_rows.h).
      const uint8_t* tile = w + b * tile_bytes;
      for (int k = 0; k < 4; ++k)
        q.k[k] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(tile + 32 * k));
      const uint8_t* scales = tile + 32 * 4;
      std::memcpy(d, scales, sizeof d);
      scales += sizeof d;
      if (with_min) {
        std::memcpy(m, scales, sizeof m);
        scales += sizeof m;
      }
      if (five_bit) planes = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(scales));
    } else {
      const uint8_t* qs[kLanes];
      alignas(32) uint32_t qh[kLanes];
      for (int r = 0; r < kLanes; ++r) {
        const StoredBlock s = stored_block(type, w + r * w_row_bytes, nb, b, layout);
        qs[r] = s.qs;
        qh[r] = s.qh;
        d[r] = s.d;
        m[r] = s.m;
      }
      q = transpose_rows(qs);
      high_bits = _mm256_load_si256(reinterpret_cast<const __m256i*>(qh));
    }
    for (int k = 0; k < 8; ++k) {
      // Elements 4k … 4k + 3: low nibbles of dword k, then (k >= 4) high nibbles of dword k − 4.
      __m256i v = k < 4 ? _mm256_and_si256(q.k[k], low4)
                        : _mm256_and_si256(_mm256_srli_epi16(q.k[k - 4], 4), low4);
      if (five_bit && layout == WeightLayout::kInterleaved8) {
        v = _mm256_or_si256(v, interleaved_fifth_bits(planes, k));
      } else if (five_bit) {
        // Bits 4k … 4k + 3 of qh to bit 4 of bytes 0..3: the four shifted copies the product
        // makes of them do not overlap, so there are no carries.
        const __m256i bits = _mm256_and_si256(_mm256_srl_epi32(high_bits, _mm_cvtsi32_si128(4 * k)),
                                              _mm256_set1_epi32(0xf));
        const __m256i spread = _mm256_mullo_epi32(bits, _mm256_set1_epi32(0x02040810));
        v = _mm256_or_si256(v, _mm256_and_si256(spread, _mm256_set1_epi32(0x10101010)));
      }
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(lb.quants[k]), v);
    }
    halves_to_floats(d, lb.d);
    halves_to_floats(m, lb.m);
  }
}

// Tokens [0, kNt) times the two panels: y[t · y_stride + 8p + r] for row r of panel p. kWithMin:
// Q4_1/Q5_1 (d · q + m); otherwise Q4_0/Q5_0 (d · (q − offset)). kFiveBit: quants up to 31, whose
// int16 sums may add only four vectors (|sum| <= 4 · 2 · 31 · 127 < 2^15).
template <bool kWithMin, bool kFiveBit, int kNt>
INFERA_LANES_AVX2 void panels_times_tokens(const LaneBlock* const* panels, int64_t nb,
                                           const PanelTokenRow* token, float* y, int64_t y_stride) {
  const __m256i ones = _mm256_set1_epi16(1);
  auto block_terms = [&](int64_t b, __m256* term) INFERA_LANES_AVX2_LAMBDA {
    auto rows = [&](int p, int k)
                    INFERA_LANES_AVX2_LAMBDA { return load_rows(panels[p][b].quants[k]); };
    auto x = [&](int k, int t) INFERA_LANES_AVX2_LAMBDA {
      return broadcast32(token[t].quants + pair_quant_offset(b, k));
    };
    auto product = [&](int, int, const __m256i& w, const __m256i& xt)
                       INFERA_LANES_AVX2_LAMBDA { return _mm256_maddubs_epi16(w, xt); };
    __m256i s[kPanels][kNt], isum32[kPanels][kNt];
    if constexpr (kFiveBit) {
      sum_panel_products<kPanels, kNt, 0, 4>(rows, x, product, Add16{}, s);
      for (int p = 0; p < kPanels; ++p)
        for (int t = 0; t < kNt; ++t) isum32[p][t] = _mm256_madd_epi16(s[p][t], ones);
      sum_panel_products<kPanels, kNt, 4, 4>(rows, x, product, Add16{}, s);
      for (int p = 0; p < kPanels; ++p)
        for (int t = 0; t < kNt; ++t)
          isum32[p][t] = _mm256_add_epi32(isum32[p][t], _mm256_madd_epi16(s[p][t], ones));
    } else {
      sum_panel_products<kPanels, kNt, 0, 8>(rows, x, product, Add16{}, s);
      for (int p = 0; p < kPanels; ++p)
        for (int t = 0; t < kNt; ++t) isum32[p][t] = _mm256_madd_epi16(s[p][t], ones);
    }
    const int64_t si = pair_scale_index(b);
    for (int p = 0; p < kPanels; ++p) {
      const LaneBlock& lb = panels[p][b];
      const __m256 wd = _mm256_loadu_ps(lb.d);
      for (int t = 0; t < kNt; ++t) {
        const __m256 isum = _mm256_cvtepi32_ps(isum32[p][t]);
        const __m256 dd = mul_rounded(wd, _mm256_set1_ps(token[t].d[si]));
        if constexpr (kWithMin) {
          term[p * kNt + t] =
              _mm256_add_ps(mul_rounded(dd, isum),
                            mul_rounded(_mm256_loadu_ps(lb.m), _mm256_set1_ps(token[t].s[si])));
        } else {
          // Q4_0 (Q5_0): the unsigned quants' sum less 8 (16) Σ x (exact: small integers).
          const __m256 sumi = _mm256_fnmadd_ps(_mm256_set1_ps(kFiveBit ? 16.0f : 8.0f),
                                               _mm256_set1_ps(token[t].s[si]), isum);
          term[p * kNt + t] = mul_rounded(sumi, dd);
        }
      }
    }
  };
  sum_in_block_lanes<kPanels * kNt, decltype(block_terms), kPanels>(nb, block_terms, y, y_stride);
}

// Q8_0 block b of a panel, rewritten: its signed weights can't be maddubs's unsigned operand, so
// the panel keeps |w| for it and w itself, whose signs go onto the activations (vpsignb).
struct Q8LaneBlock {
  uint32_t abs[8][kLanes];   // [k][r]: |elements 4k … 4k + 3| of row r
  uint32_t sign[8][kLanes];  // [k][r]: elements 4k … 4k + 3 of row r, as stored
  float d[kLanes];
};

// Rows [0, 8) of w (w_row_bytes apart; with kInterleaved8 the run of 8 at w) rewritten.
INFERA_LANES_AVX2 void rewrite_q8_panel(const uint8_t* w, uint64_t w_row_bytes, int64_t nb,
                                        WeightLayout layout, Q8LaneBlock* out) {
  constexpr uint64_t kTileBytes = kLanes * sizeof(block_q8_0);
  for (int64_t b = 0; b < nb; ++b) {
    Q8LaneBlock& lb = out[b];
    uint16_t d[kLanes];
    __m256i dwords[8];
    if (layout == WeightLayout::kInterleaved8) {
      // The tile holds the 8 rows' dwords side by side, then d (interleaved_rows.h).
      const uint8_t* tile = w + b * kTileBytes;
      for (int k = 0; k < 8; ++k)
        dwords[k] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(tile + 32 * k));
      std::memcpy(d, tile + 32 * 8, sizeof d);
    } else {
      const uint8_t* qs[kLanes];
      for (int r = 0; r < kLanes; ++r) {
        const uint8_t* block = w + r * w_row_bytes + b * sizeof(block_q8_0);
        qs[r] = block + offsetof(block_q8_0, qs);
        std::memcpy(&d[r], block + offsetof(block_q8_0, d), sizeof d[r]);
      }
      // Bytes 0..15 of each row, then 16..31: dwords k and 4 + k.
      const uint8_t* upper[kLanes];
      for (int r = 0; r < kLanes; ++r) upper[r] = qs[r] + 16;
      const RowDwords halves[2] = {transpose_rows(qs), transpose_rows(upper)};
      for (int k = 0; k < 8; ++k) dwords[k] = halves[k / 4].k[k % 4];
    }
    for (int k = 0; k < 8; ++k) {
      const __m256i q = dwords[k];
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(lb.sign[k]), q);
      // |−128| = 128 as an unsigned byte, as maddubs reads it.
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(lb.abs[k]), _mm256_abs_epi8(q));
    }
    halves_to_floats(d, lb.d);
  }
}

// Q8_0: tokens [0, kNt) times the two panels. A product pair of maddubs reaches 2 · 128 · 127, so
// each vector's products go to int32 on their own (madd) before they add.
template <int kNt>
INFERA_LANES_AVX2 void q8_panels_times_tokens(const Q8LaneBlock* const* panels, int64_t nb,
                                              const PanelTokenRow* token, float* y,
                                              int64_t y_stride) {
  const __m256i ones = _mm256_set1_epi16(1);
  auto block_terms = [&](int64_t b, __m256* term) INFERA_LANES_AVX2_LAMBDA {
    auto rows = [&](int p, int k)
                    INFERA_LANES_AVX2_LAMBDA { return load_rows(panels[p][b].abs[k]); };
    auto x = [&](int k, int t) INFERA_LANES_AVX2_LAMBDA {
      return broadcast32(token[t].quants + pair_quant_offset(b, k));
    };
    auto product = [&](int p, int k, const __m256i& w, const __m256i& xt) INFERA_LANES_AVX2_LAMBDA {
      const __m256i signed_x = _mm256_sign_epi8(xt, load_rows(panels[p][b].sign[k]));
      return _mm256_madd_epi16(_mm256_maddubs_epi16(w, signed_x), ones);
    };
    __m256i s[kPanels][kNt];
    sum_panel_products<kPanels, kNt, 0, 8>(rows, x, product, Add32{}, s);
    const int64_t si = pair_scale_index(b);
    for (int p = 0; p < kPanels; ++p) {
      const __m256 wd = _mm256_loadu_ps(panels[p][b].d);
      for (int t = 0; t < kNt; ++t) {
        const __m256 dd = mul_rounded(wd, _mm256_set1_ps(token[t].d[si]));
        term[p * kNt + t] = mul_rounded(_mm256_cvtepi32_ps(s[p][t]), dd);
      }
    }
  };
  sum_in_block_lanes<kPanels * kNt, decltype(block_terms), kPanels>(nb, block_terms, y, y_stride);
}

// Rows 16 at a time (n_rows a multiple of 16): two panels of 8 rewritten one after the other by
// rewrite(first row, panel), then times(tile, panels, tokens, y) for every tile of tokens.
template <typename Block, typename Rewrite, typename Times>
void panel_pairs_times_tokens(const uint8_t* w, uint64_t w_row_bytes, int64_t n_rows, int64_t nb,
                              int64_t n_tokens, const uint8_t* x_rows, uint64_t x_stride, float* y,
                              int64_t y_stride, const Rewrite& rewrite, const Times& times) {
  thread_local std::vector<Block> panel;
  panel.resize(static_cast<size_t>(kPanels * nb));
  const Block* panels[kPanels];
  for (int p = 0; p < kPanels; ++p) panels[p] = panel.data() + p * nb;
  for (int64_t r0 = 0; r0 + kPanels * kLanes <= n_rows; r0 += kPanels * kLanes) {
    for (int p = 0; p < kPanels; ++p)
      rewrite(w + (r0 + p * kLanes) * w_row_bytes, panel.data() + p * nb);
    for_token_tiles(n_tokens, [&](int64_t t0, auto tile) {
      constexpr int kNt = decltype(tile)::value;
      PanelTokenRow token[kNt];
      for (int t = 0; t < kNt; ++t) token[t] = panel_token_row(x_rows + (t0 + t) * x_stride, nb);
      times(tile, panels, token, y + t0 * y_stride + r0);
    });
  }
}

}  // namespace

void lanes_rows_times_tokens_avx2(TensorType weight_type, const void* w_rows, uint64_t w_row_bytes,
                                  int64_t n_rows, const uint8_t* x_rows, uint64_t x_stride,
                                  int64_t n_tokens, int64_t nb, float* y, int64_t y_stride,
                                  WeightLayout layout) {
  const auto* w = static_cast<const uint8_t*>(w_rows);
  if (weight_type == TensorType::Q8_0) {
    panel_pairs_times_tokens<Q8LaneBlock>(
        w, w_row_bytes, n_rows, nb, n_tokens, x_rows, x_stride, y, y_stride,
        [&](const uint8_t* rows, Q8LaneBlock* out) {
          rewrite_q8_panel(rows, w_row_bytes, nb, layout, out);
        },
        [&](auto tile, const Q8LaneBlock* const* panels, const PanelTokenRow* token, float* yt) {
          q8_panels_times_tokens<decltype(tile)::value>(panels, nb, token, yt, y_stride);
        });
    return;
  }
  const bool with_min = weight_type == TensorType::Q4_1 || weight_type == TensorType::Q5_1;
  const bool five_bit = weight_type == TensorType::Q5_0 || weight_type == TensorType::Q5_1;
  panel_pairs_times_tokens<LaneBlock>(
      w, w_row_bytes, n_rows, nb, n_tokens, x_rows, x_stride, y, y_stride,
      [&](const uint8_t* rows, LaneBlock* out) {
        rewrite_panel(weight_type, rows, w_row_bytes, nb, layout, out);
      },
      [&](auto tile, const LaneBlock* const* panels, const PanelTokenRow* token, float* yt) {
        constexpr int kNt = decltype(tile)::value;
        if (with_min && five_bit) {
          panels_times_tokens<true, true, kNt>(panels, nb, token, yt, y_stride);
        } else if (with_min) {
          panels_times_tokens<true, false, kNt>(panels, nb, token, yt, y_stride);
        } else if (five_bit) {
          panels_times_tokens<false, true, kNt>(panels, nb, token, yt, y_stride);
        } else {
          panels_times_tokens<false, false, kNt>(panels, nb, token, yt, y_stride);
        }
      });
}

}  // namespace infera::int_dot_detail

#endif  // x86
