// AVX2 prompt processing for Q4_K weights: 8 weight rows at a time with row r in lane r, times
// Q8_K activation rows, as int_dot_avx2_lanes.cpp does for Q4_0/Q4_1.
//
// Each panel of 8 rows is rewritten once per call: for sub-block s (32 elements) of block b,
// vector g holds in dword lane r the quants 32s + 4g … 32s + 4g + 3 of row r as bytes 0..15, and
// the sub-block's scale of each row sits in both int16 of its lane. One broadcast activation
// dword times a vector (maddubs) gives each row 4 products; a sub-block's 8 vectors add up in
// int16 (|sum| <= 8 · 2 · 15 · 127 < 2^15), one madd by the scales makes them int32, and the mins
// times the activations' 16-element sums take 4 madds per block. The float steps are vec_dot_k.h's
// (block i's term (d · d_x) · isum − (dmin · d_x) · summs into lane i % 8, those lanes summed in
// its tree), on 8 rows at once: the same bits as the reference.
#include "kernels/int_dot.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#include <cstring>
#include <vector>

#include "quant/float16.h"

#define INFERA_AVX2 __attribute__((target("avx2,fma,f16c")))

namespace infera::int_dot_detail {
namespace {

constexpr int kLanes = 8;  // weight rows per panel
// Activation rows that share each load of the panel's vectors.
constexpr int kTokens = 4;

// Block b of a panel, rewritten.
struct KLaneBlock {
  uint32_t quants[8][8][kLanes];  // [sub-block s][g][row r]: elements 32s + 4g … + 3
  uint32_t scales[8][kLanes];     // [s][r]: the scale of sub-block s twice, as int16
  uint32_t mins[4][kLanes];       // [p][r]: mins of sub-blocks 2p and 2p + 1, as int16
  float d[kLanes];
  float dmin[kLanes];
};

INFERA_AVX2 inline __m256 mul_rounded(__m256 a, __m256 b) {
  __m256 p = _mm256_mul_ps(a, b);
  __asm__("" : "+x"(p));
  return p;
}

INFERA_AVX2 inline __m256i load_lanes(const uint32_t* v) {
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(v));
}

INFERA_AVX2 inline __m256i broadcast32(const void* p) {
  int32_t v;
  std::memcpy(&v, p, sizeof v);
  return _mm256_set1_epi32(v);
}

// Rows [0, 8) of w (w_row_bytes apart) rewritten into nb KLaneBlocks.
void rewrite_panel(const uint8_t* w, uint64_t w_row_bytes, int64_t nb, KLaneBlock* out) {
  for (int64_t b = 0; b < nb; ++b) {
    KLaneBlock& lb = out[b];
    for (int r = 0; r < kLanes; ++r) {
      block_q4_K blk;
      std::memcpy(&blk, w + r * w_row_bytes + b * sizeof(block_q4_K), sizeof blk);
      // Element 64j + 32k + i: nibble k of qs[32j + i] (blocks.h); sub-block s = 2j + k.
      for (int s = 0; s < 8; ++s) {
        const int j = s / 2, shift = 4 * (s % 2);
        for (int g = 0; g < 8; ++g) {
          uint32_t q;
          std::memcpy(&q, blk.qs + 32 * j + 4 * g, sizeof q);
          lb.quants[s][g][r] = (q >> shift) & 0x0f0f0f0fu;
        }
      }
      uint8_t sc[8], m[8];
      for (int s = 0; s < 8; ++s) q4k_scale_min(blk.scales, s, &sc[s], &m[s]);
      for (int s = 0; s < 8; ++s) lb.scales[s][r] = sc[s] | (uint32_t{sc[s]} << 16);
      for (int p = 0; p < 4; ++p) lb.mins[p][r] = m[2 * p] | (uint32_t{m[2 * p + 1]} << 16);
      lb.d[r] = fp16_to_fp32(blk.d);
      lb.dmin[r] = fp16_to_fp32(blk.dmin);
    }
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

// Tokens [0, kNt) of x times the panel: y[t · y_stride + r] for the panel's 8 rows.
template <int kNt>
INFERA_AVX2 void panel_times_tokens(const KLaneBlock* panel, int64_t nb, const block_q8_K* const* x,
                                    float* y, int64_t y_stride) {
  __m256 lane_acc[8][kNt];
  for (int l = 0; l < 8; ++l) {
    __m256 acc[kNt];
    for (int t = 0; t < kNt; ++t) acc[t] = _mm256_setzero_ps();
    for (int64_t b = l; b < nb; b += 8) {
      const KLaneBlock& lb = panel[b];
      __m256i isum[kNt];
      for (int t = 0; t < kNt; ++t) isum[t] = _mm256_setzero_si256();
      for (int s = 0; s < 8; ++s) {
        __m256i wq[8];
        for (int g = 0; g < 8; ++g) wq[g] = load_lanes(lb.quants[s][g]);
        const __m256i sc = load_lanes(lb.scales[s]);
        for (int t = 0; t < kNt; ++t) {
          const int8_t* xq = x[t][b].qs + 32 * s;
          __m256i p = _mm256_maddubs_epi16(wq[0], broadcast32(xq));
          for (int g = 1; g < 8; ++g)
            p = _mm256_add_epi16(p, _mm256_maddubs_epi16(wq[g], broadcast32(xq + 4 * g)));
          isum[t] = _mm256_add_epi32(isum[t], _mm256_madd_epi16(p, sc));
        }
      }
      const __m256 wd = _mm256_loadu_ps(lb.d);
      const __m256 wdmin = _mm256_loadu_ps(lb.dmin);
      for (int t = 0; t < kNt; ++t) {
        const block_q8_K& xb = x[t][b];
        const ActSums sums = act_sums(xb);
        __m256i summs = _mm256_madd_epi16(load_lanes(lb.mins[0]), broadcast32(sums.pair));
        for (int p = 1; p < 4; ++p)
          summs = _mm256_add_epi32(
              summs, _mm256_madd_epi16(load_lanes(lb.mins[p]), broadcast32(sums.pair + 2 * p)));
        const __m256 xd = _mm256_set1_ps(xb.d);
        // As k_term_with_min: (d · d_x) · isum − (dmin · d_x) · summs, each product rounded.
        const __m256 term =
            _mm256_sub_ps(mul_rounded(mul_rounded(wd, xd), _mm256_cvtepi32_ps(isum[t])),
                          mul_rounded(mul_rounded(wdmin, xd), _mm256_cvtepi32_ps(summs)));
        acc[t] = _mm256_add_ps(acc[t], term);
      }
    }
    for (int t = 0; t < kNt; ++t) lane_acc[l][t] = acc[t];
  }
  for (int t = 0; t < kNt; ++t) {
    const auto& a = lane_acc;
    const __m256 sum = _mm256_add_ps(
        _mm256_add_ps(_mm256_add_ps(a[0][t], a[4][t]), _mm256_add_ps(a[1][t], a[5][t])),
        _mm256_add_ps(_mm256_add_ps(a[2][t], a[6][t]), _mm256_add_ps(a[3][t], a[7][t])));
    _mm256_storeu_ps(y + t * y_stride, sum);
  }
}

}  // namespace

bool k_lanes_kernel_avx2(TensorType weight_type) { return weight_type == TensorType::Q4_K; }

void k_lanes_rows_times_tokens_avx2(const void* w_rows, uint64_t w_row_bytes, int64_t n_rows,
                                    const block_q8_K* x, int64_t x_stride_blocks, int64_t n_tokens,
                                    int64_t nb, float* y, int64_t y_stride) {
  thread_local std::vector<KLaneBlock> panel;
  panel.resize(static_cast<size_t>(nb));
  const auto* w = static_cast<const uint8_t*>(w_rows);
  for (int64_t r0 = 0; r0 + kLanes <= n_rows; r0 += kLanes) {
    rewrite_panel(w + r0 * w_row_bytes, w_row_bytes, nb, panel.data());
    const block_q8_K* token[kTokens];
    int64_t t0 = 0;
    for (; t0 + kTokens <= n_tokens; t0 += kTokens) {
      for (int t = 0; t < kTokens; ++t) token[t] = x + (t0 + t) * x_stride_blocks;
      panel_times_tokens<kTokens>(panel.data(), nb, token, y + t0 * y_stride + r0, y_stride);
    }
    for (; t0 < n_tokens; ++t0) {
      token[0] = x + t0 * x_stride_blocks;
      panel_times_tokens<1>(panel.data(), nb, token, y + t0 * y_stride + r0, y_stride);
    }
  }
}

}  // namespace infera::int_dot_detail

#endif  // x86
