// AVX2 prompt processing for Q4_K and Q6_K weights: 8 weight rows at a time with row r in lane r,
// times Q8_K activation rows, as int_dot_avx2_lanes.cpp does for Q4_0/Q4_1.
//
// Each panel of 8 rows is rewritten once per call: for sub-block s (32 elements) of block b,
// vector g holds in dword lane r the quants 32s + 4g … 32s + 4g + 3 of row r as bytes 0..15, and
// the sub-block's scale of each row sits in both int16 of its lane. One broadcast activation
// dword times a vector (maddubs) gives each row 4 products; a sub-block's 8 vectors add up in
// int16 (|sum| <= 8 · 2 · 15 · 127 < 2^15), one madd by the scales makes them int32, and the mins
// times the activations' 16-element sums take 4 madds per block. The float steps are vec_dot_k.h's
// (block i's term (d · d_x) · isum − (dmin · d_x) · summs into lane i % 8, those lanes summed in
// its tree), on 8 rows at once: the same bits as the reference. Q6_K likewise, with 16-element
// sub-blocks, signed scales and its quants taken unsigned (see Q6LaneBlock).
#include "kernels/int_dot.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#include <cstddef>
#include <cstring>
#include <vector>

#include "kernels/lanes_avx2.h"
#include "quant/float16.h"
#include "quant/interleaved_rows.h"

namespace infera::int_dot_detail {
namespace {

using namespace lanes_avx2;
constexpr int kLanes = lanes_avx2::kRows;

// Block b of a panel, rewritten.
struct KLaneBlock {
  uint32_t quants[8][8][kLanes];  // [sub-block s][g][row r]: elements 32s + 4g … + 3
  uint32_t scales[8][kLanes];     // [s][r]: the scale of sub-block s twice, as int16
  uint32_t mins[4][kLanes];       // [p][r]: mins of sub-blocks 2p and 2p + 1, as int16
  float d[kLanes];
  float dmin[kLanes];
};

// Row r's block b of the panel at w: rows w_row_bytes apart, or (kInterleaved8) the run of 8 at
// w, whose block is restored into `scratch`.
const uint8_t* panel_block(TensorType type, const uint8_t* w, uint64_t w_row_bytes,
                           WeightLayout layout, int64_t b, int r, uint8_t* scratch) {
  const uint64_t block_bytes = traits_of(type).block_bytes;
  if (layout != WeightLayout::kInterleaved8) return w + r * w_row_bytes + b * block_bytes;
  restore_interleaved_block(type, w + b * kLanes * block_bytes, r, scratch);
  return scratch;
}

// Rows [0, 8) of w rewritten into nb KLaneBlocks.
INFERA_LANES_AVX2 void rewrite_q4_panel(const uint8_t* w, uint64_t w_row_bytes, int64_t nb,
                                        WeightLayout layout, KLaneBlock* out) {
  const __m256i low4 = _mm256_set1_epi8(0x0f);
  uint8_t restored[kLanes][sizeof(block_q4_K)];
  for (int64_t b = 0; b < nb; ++b) {
    KLaneBlock& lb = out[b];
    // The blocks as bytes: rows of any alignment (block_q4_K wants 2).
    const uint8_t* blk[kLanes];
    uint16_t d[kLanes], dmin[kLanes];
    for (int r = 0; r < kLanes; ++r) {
      blk[r] = panel_block(TensorType::Q4_K, w, w_row_bytes, layout, b, r, restored[r]);
      std::memcpy(&d[r], blk[r] + offsetof(block_q4_K, d), sizeof d[r]);
      std::memcpy(&dmin[r], blk[r] + offsetof(block_q4_K, dmin), sizeof dmin[r]);
      uint8_t sc[8], m[8];
      for (int s = 0; s < 8; ++s)
        q4k_scale_min(blk[r] + offsetof(block_q4_K, scales), s, &sc[s], &m[s]);
      for (int s = 0; s < 8; ++s) lb.scales[s][r] = sc[s] | (uint32_t{sc[s]} << 16);
      for (int p = 0; p < 4; ++p) lb.mins[p][r] = m[2 * p] | (uint32_t{m[2 * p + 1]} << 16);
    }
    // Element 64j + 32k + i: nibble k of qs[32j + i] (blocks.h); sub-block s = 2j + k. Dwords g
    // of qs[32j …] for the 8 rows: bytes 0..15 give g = 0..3, bytes 16..31 g = 4..7.
    for (int j = 0; j < 4; ++j) {
      for (int half = 0; half < 2; ++half) {
        const uint8_t* qs[kLanes];
        for (int r = 0; r < kLanes; ++r)
          qs[r] = blk[r] + offsetof(block_q4_K, qs) + 32 * j + 16 * half;
        const RowDwords q = transpose_rows(qs);
        for (int g = 0; g < 4; ++g) {
          _mm256_storeu_si256(reinterpret_cast<__m256i*>(lb.quants[2 * j][4 * half + g]),
                              _mm256_and_si256(q.k[g], low4));
          _mm256_storeu_si256(reinterpret_cast<__m256i*>(lb.quants[2 * j + 1][4 * half + g]),
                              _mm256_and_si256(_mm256_srli_epi16(q.k[g], 4), low4));
        }
      }
    }
    halves_to_floats(d, lb.d);
    halves_to_floats(dmin, lb.dmin);
  }
}

// Block b of a Q6_K panel, rewritten: quants as unsigned 0..63 (the stored value; the reference's
// −32 comes back as 32 · Σ scale · bsum, an exact integer correction).
struct Q6LaneBlock {
  uint32_t quants[16][4][kLanes];   // [sub-block s][g][row r]: elements 16s + 4g … + 3
  uint32_t scales[16][kLanes];      // [s][r]: the scale of sub-block s twice, as int16
  uint32_t scale_pairs[8][kLanes];  // [p][r]: scales of sub-blocks 2p and 2p + 1, as int16
  float d[kLanes];
};

INFERA_LANES_AVX2 void rewrite_q6_panel(const uint8_t* w, uint64_t w_row_bytes, int64_t nb,
                                        WeightLayout layout, Q6LaneBlock* out) {
  uint8_t restored[sizeof(block_q6_K)];
  // The SIMD unpacker gives the quants less 32 and the scales; the rewrite is bound by it, not by
  // the product, at a few dozen tokens.
  const KUnpackFn unpack = k_unpack_avx2(TensorType::Q6_K);
  KIntBlock u;
  alignas(32) uint8_t q[kLanes][QK_K];
  for (int64_t b = 0; b < nb; ++b) {
    Q6LaneBlock& lb = out[b];
    uint16_t d[kLanes];
    for (int r = 0; r < kLanes; ++r) {
      const uint8_t* block = panel_block(TensorType::Q6_K, w, w_row_bytes, layout, b, r, restored);
      unpack(block, &u);
      for (int c = 0; c < QK_K / 32; ++c) {
        const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(u.q + 32 * c));
        _mm256_store_si256(reinterpret_cast<__m256i*>(q[r] + 32 * c),
                           _mm256_add_epi8(v, _mm256_set1_epi8(32)));
      }
      auto as_u16 = [](int32_t v) { return static_cast<uint32_t>(static_cast<uint16_t>(v)); };
      for (int sb = 0; sb < 16; ++sb) lb.scales[sb][r] = as_u16(u.scale[sb]) * 0x10001u;
      for (int p = 0; p < 8; ++p)
        lb.scale_pairs[p][r] = as_u16(u.scale[2 * p]) | (as_u16(u.scale[2 * p + 1]) << 16);
      std::memcpy(&d[r], block + offsetof(block_q6_K, d), sizeof d[r]);
    }
    for (int sb = 0; sb < 16; ++sb) {
      const uint8_t* rows[kLanes];
      for (int r = 0; r < kLanes; ++r) rows[r] = q[r] + 16 * sb;
      const RowDwords t = transpose_rows(rows);
      for (int g = 0; g < 4; ++g)
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(lb.quants[sb][g]), t.k[g]);
    }
    halves_to_floats(d, lb.d);
  }
}

// The 16-element sums of an activation block added in pairs (one per 32-element sub-block; |sum|
// <= 32 · 127 fits int16), two sub-blocks per dword, as the mins' madd takes them.
struct ActSums {
  int16_t pair[8];
};
inline ActSums act_sums(const block_q8_K& x) {
  ActSums a{};
  for (int s = 0; s < 8; ++s) a.pair[s] = static_cast<int16_t>(x.bsums[2 * s] + x.bsums[2 * s + 1]);
  return a;
}

// Q4_K: tokens [0, kNt) of x times the panel: y[t · y_stride + r] for the panel's 8 rows.
template <int kNt>
INFERA_LANES_AVX2 void q4_panel_times_tokens(const KLaneBlock* panel, int64_t nb,
                                             const block_q8_K* const* x, float* y,
                                             int64_t y_stride) {
  auto block_terms = [&](int64_t b, __m256* term) INFERA_LANES_AVX2_LAMBDA {
    const KLaneBlock& lb = panel[b];
    __m256i isum[kNt];
    for (int t = 0; t < kNt; ++t) isum[t] = _mm256_setzero_si256();
    for (int s = 0; s < 8; ++s) {
      auto products = [&](int g, int t) INFERA_LANES_AVX2_LAMBDA {
        return _mm256_maddubs_epi16(load_rows(lb.quants[s][g]),
                                    broadcast32(x[t][b].qs + 32 * s + 4 * g));
      };
      __m256i p[kNt];
      sum_products<kNt, 0, 8>(products, Add16{}, p);
      const __m256i sc = load_rows(lb.scales[s]);
      for (int t = 0; t < kNt; ++t)
        isum[t] = _mm256_add_epi32(isum[t], _mm256_madd_epi16(p[t], sc));
    }
    const __m256 wd = _mm256_loadu_ps(lb.d);
    const __m256 wdmin = _mm256_loadu_ps(lb.dmin);
    for (int t = 0; t < kNt; ++t) {
      const block_q8_K& xb = x[t][b];
      const ActSums sums = act_sums(xb);
      __m256i summs = _mm256_madd_epi16(load_rows(lb.mins[0]), broadcast32(sums.pair));
      for (int p = 1; p < 4; ++p)
        summs = _mm256_add_epi32(
            summs, _mm256_madd_epi16(load_rows(lb.mins[p]), broadcast32(sums.pair + 2 * p)));
      const __m256 xd = _mm256_set1_ps(xb.d);
      // As k_term_with_min: (d · d_x) · isum − (dmin · d_x) · summs, each product rounded.
      term[t] = _mm256_sub_ps(mul_rounded(mul_rounded(wd, xd), _mm256_cvtepi32_ps(isum[t])),
                              mul_rounded(mul_rounded(wdmin, xd), _mm256_cvtepi32_ps(summs)));
    }
  };
  sum_in_block_lanes<kNt>(nb, block_terms, y, y_stride);
}

// Q6_K: tokens [0, kNt) of x times the panel.
template <int kNt>
INFERA_LANES_AVX2 void q6_panel_times_tokens(const Q6LaneBlock* panel, int64_t nb,
                                             const block_q8_K* const* x, float* y,
                                             int64_t y_stride) {
  auto block_terms = [&](int64_t b, __m256* term) INFERA_LANES_AVX2_LAMBDA {
    const Q6LaneBlock& lb = panel[b];
    __m256i isum[kNt];
    for (int t = 0; t < kNt; ++t) isum[t] = _mm256_setzero_si256();
    for (int sb = 0; sb < 16; ++sb) {
      __m256i wq[4];
      for (int g = 0; g < 4; ++g) wq[g] = load_rows(lb.quants[sb][g]);
      const __m256i sc = load_rows(lb.scales[sb]);
      for (int t = 0; t < kNt; ++t) {
        const int8_t* xq = x[t][b].qs + 16 * sb;
        // Two products of q 0..63 by x add up in int16: |sum| <= 2 · 2 · 63 · 127.
        const __m256i p01 = _mm256_add_epi16(_mm256_maddubs_epi16(wq[0], broadcast32(xq)),
                                             _mm256_maddubs_epi16(wq[1], broadcast32(xq + 4)));
        const __m256i p23 = _mm256_add_epi16(_mm256_maddubs_epi16(wq[2], broadcast32(xq + 8)),
                                             _mm256_maddubs_epi16(wq[3], broadcast32(xq + 12)));
        isum[t] = _mm256_add_epi32(
            isum[t], _mm256_add_epi32(_mm256_madd_epi16(p01, sc), _mm256_madd_epi16(p23, sc)));
      }
    }
    const __m256 wd = _mm256_loadu_ps(lb.d);
    for (int t = 0; t < kNt; ++t) {
      const block_q8_K& xb = x[t][b];
      // Σ scale · bsum, taken 32 times off: the quants' −32.
      __m256i offset = _mm256_setzero_si256();
      for (int p = 0; p < 8; ++p)
        offset = _mm256_add_epi32(
            offset, _mm256_madd_epi16(load_rows(lb.scale_pairs[p]), broadcast32(xb.bsums + 2 * p)));
      const __m256i total = _mm256_sub_epi32(isum[t], _mm256_slli_epi32(offset, 5));
      // As k_term: (d · d_x) · isum, each product rounded.
      term[t] = mul_rounded(mul_rounded(wd, _mm256_set1_ps(xb.d)), _mm256_cvtepi32_ps(total));
    }
  };
  sum_in_block_lanes<kNt>(nb, block_terms, y, y_stride);
}

// Every panel of 8 rows of w, rewritten by kRewrite into Blocks, times every token by kKernel.
template <typename Block, void (*kRewrite)(const uint8_t*, uint64_t, int64_t, WeightLayout, Block*),
          template <int> class Kernel>
void panels_times_tokens(const uint8_t* w, uint64_t w_row_bytes, int64_t n_rows,
                         const block_q8_K* x, int64_t x_stride_blocks, int64_t n_tokens, int64_t nb,
                         float* y, int64_t y_stride, WeightLayout layout) {
  thread_local std::vector<Block> panel;
  panel.resize(static_cast<size_t>(nb));
  for (int64_t r0 = 0; r0 + kLanes <= n_rows; r0 += kLanes) {
    kRewrite(w + r0 * w_row_bytes, w_row_bytes, nb, layout, panel.data());
    for_token_tiles(n_tokens, [&](int64_t t0, auto tile) {
      constexpr int kNt = decltype(tile)::value;
      const block_q8_K* token[kNt];
      for (int t = 0; t < kNt; ++t) token[t] = x + (t0 + t) * x_stride_blocks;
      Kernel<kNt>::run(panel.data(), nb, token, y + t0 * y_stride + r0, y_stride);
    });
  }
}

template <int kNt>
struct Q4Kernel {
  static void run(const KLaneBlock* p, int64_t nb, const block_q8_K* const* x, float* y,
                  int64_t y_stride) {
    q4_panel_times_tokens<kNt>(p, nb, x, y, y_stride);
  }
};
template <int kNt>
struct Q6Kernel {
  static void run(const Q6LaneBlock* p, int64_t nb, const block_q8_K* const* x, float* y,
                  int64_t y_stride) {
    q6_panel_times_tokens<kNt>(p, nb, x, y, y_stride);
  }
};

}  // namespace

bool k_lanes_kernel_avx2(TensorType weight_type) {
  return weight_type == TensorType::Q4_K || weight_type == TensorType::Q6_K;
}

void k_lanes_rows_times_tokens_avx2(TensorType weight_type, const void* w_rows,
                                    uint64_t w_row_bytes, int64_t n_rows, const block_q8_K* x,
                                    int64_t x_stride_blocks, int64_t n_tokens, int64_t nb, float* y,
                                    int64_t y_stride, WeightLayout layout) {
  const auto* w = static_cast<const uint8_t*>(w_rows);
  if (weight_type == TensorType::Q6_K) {
    panels_times_tokens<Q6LaneBlock, rewrite_q6_panel, Q6Kernel>(
        w, w_row_bytes, n_rows, x, x_stride_blocks, n_tokens, nb, y, y_stride, layout);
  } else {
    panels_times_tokens<KLaneBlock, rewrite_q4_panel, Q4Kernel>(
        w, w_row_bytes, n_rows, x, x_stride_blocks, n_tokens, nb, y, y_stride, layout);
  }
}

}  // namespace infera::int_dot_detail

#endif  // x86
