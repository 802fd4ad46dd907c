// AVX-512 VNNI: a panel of 16 Q4_K or Q6_K weight rows times many Q8_K activation rows, the
// prompt-processing GEMM of the K-quants. Each block of the 16 rows is rewritten once as int16
// products q · scale (|q · scale| <= 32 · 128 fits int16) with lane r of a vector holding row r and
// one dword per pair of elements; then one broadcast pair of activations (as int16) times that
// vector (vpdpwssd) adds two products to each of the 16 rows, exactly, with no reduction across
// lanes. The reference's integer lane l of a block (vec_dot_k.cpp, dot_lanes: elements
// 32c + 4l … 32c + 4l + 3 of every chunk c, times their sub-block scale) is one int32 vector over
// the rows; its float steps then run on 16 rows per instruction in the reference's order.
#include "kernels/int_dot.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <vector>

#include "quant/blocks.h"
#include "quant/float16.h"

// GCC 12's _mm512_undefined_*() initialise a variable with itself, which -Wall reports as "used"
// or "may be used uninitialized" wherever an intrinsic built on them is inlined: a false positive.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

#define INFERA_AVX512 __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")))

namespace infera::int_dot_detail {
namespace {

#include "kernels/panel_avx512.inc"

constexpr int kRows = static_cast<int>(kIntPanelRows);
constexpr int kPairs = QK_K / 2;
// Blocks rewritten at a time: 2 × 8.6 KiB stays in L1 while every token passes over it.
constexpr int64_t kSliceBlocks = 2;

// One block of the panel: pairs[p] lane r = the int16 products q · scale of elements 2p, 2p + 1
// of row r; mins[j] lane r = the int16 mins of sub-blocks 2j, 2j + 1 (Q4_K); d, dmin per row.
struct KPanelBlock {
  int32_t pairs[kPairs][kRows];
  int32_t mins[8][kRows];
  float d[kRows], dmin[kRows];
};

// One row's block as int16 products q · scale in element order, its 16 sub-block mins, d, dmin.
struct KRowProducts {
  alignas(64) int16_t prod[QK_K];
  int16_t mins[16];
  float d, dmin;
};

INFERA_AVX512 void products_q4_k(const block_q4_K& b, KRowProducts* out) {
  const __m256i low4 = _mm256_set1_epi8(0x0f);
  for (int j = 0; j < 4; ++j) {  // elements 64j + 32h + r: nibble h of qs[32j + r]
    const __m256i raw = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.qs + 32 * j));
    for (int h = 0; h < 2; ++h) {
      uint8_t sc, m;
      q4k_scale_min(b.scales, 2 * j + h, &sc, &m);
      const __m256i q = _mm256_and_si256(h ? _mm256_srli_epi16(raw, 4) : raw, low4);
      const __m512i p = _mm512_mullo_epi16(_mm512_cvtepu8_epi16(q), _mm512_set1_epi16(sc));
      _mm512_store_si512(out->prod + 64 * j + 32 * h, p);
      out->mins[4 * j + 2 * h] = out->mins[4 * j + 2 * h + 1] = m;
    }
  }
  out->d = fp16_to_fp32(b.d);
  out->dmin = fp16_to_fp32(b.dmin);
}

INFERA_AVX512 void products_q6_k(const block_q6_K& b, KRowProducts* out) {
  const __m256i low4 = _mm256_set1_epi8(0x0f);
  const __m256i two = _mm256_set1_epi8(0x03);
  const __m256i thirty_two = _mm256_set1_epi8(32);
  for (int h = 0; h < 2; ++h) {
    const __m256i ql0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.ql + 64 * h));
    const __m256i ql1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.ql + 64 * h + 32));
    const __m256i qh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.qh + 32 * h));
    for (int c = 0; c < 4; ++c) {  // elements 128h + 32c + r
      const __m256i ql = c % 2 ? ql1 : ql0;
      const __m256i low = _mm256_and_si256(c / 2 ? _mm256_srli_epi16(ql, 4) : ql, low4);
      const __m256i high = _mm256_and_si256(_mm256_srli_epi16(qh, 2 * c), two);
      const __m256i q =
          _mm256_sub_epi8(_mm256_or_si256(low, _mm256_slli_epi16(high, 4)), thirty_two);
      const int s = (128 * h + 32 * c) / 16;  // the 32 elements span sub-blocks s and s + 1
      const __m512i scale =
          _mm512_inserti64x4(_mm512_set1_epi16(b.scales[s]), _mm256_set1_epi16(b.scales[s + 1]), 1);
      _mm512_store_si512(out->prod + 128 * h + 32 * c,
                         _mm512_mullo_epi16(_mm512_cvtepi8_epi16(q), scale));
    }
  }
  std::memset(out->mins, 0, sizeof out->mins);
  out->d = fp16_to_fp32(b.d);
  out->dmin = 0.0f;
}

template <typename Block>
INFERA_AVX512 void rewrite_block(const uint8_t* w, uint64_t w_row_bytes, int64_t b,
                                 KPanelBlock* out) {
  KRowProducts rows[kRows];
  for (int r = 0; r < kRows; ++r) {
    Block blk;
    std::memcpy(&blk, w + r * w_row_bytes + b * sizeof(Block), sizeof(Block));
    if constexpr (std::is_same_v<Block, block_q4_K>) {
      products_q4_k(blk, &rows[r]);
    } else {
      products_q6_k(blk, &rows[r]);
    }
    out->d[r] = rows[r].d;
    out->dmin[r] = rows[r].dmin;
    for (int j = 0; j < 8; ++j) {
      out->mins[j][r] = static_cast<int32_t>(
          static_cast<uint16_t>(rows[r].mins[2 * j]) |
          (static_cast<uint32_t>(static_cast<uint16_t>(rows[r].mins[2 * j + 1])) << 16));
    }
  }
  // Pairs 16g … 16g + 15 of the 16 rows: a 16 × 16 dword transpose.
  for (int g = 0; g < kPairs / 16; ++g) {
    __m512 in[16], tr[16];
    for (int r = 0; r < kRows; ++r) in[r] = _mm512_load_ps(rows[r].prod + 32 * g);
    transpose16(in, tr);
    for (int i = 0; i < 16; ++i) _mm512_storeu_ps(out->pairs[16 * g + i], tr[i]);
  }
}

// Per token, across slices: the reference's eight float lane sums and its sumf, per row.
struct KTokenState {
  float sums[8][kRows];
  float sumf[kRows];
};

// One block of the panel times N tokens' activation blocks: each pair vector loaded serves all N.
template <bool kHasMin, int N>
INFERA_AVX512 void block_times_tokens(const KPanelBlock& p, const block_q8_K* const* x,
                                      KTokenState* const* st) {
  alignas(64) int16_t x16[N][QK_K];
  for (int u = 0; u < N; ++u) {
    for (int k = 0; k < QK_K; k += 32) {
      const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[u]->qs + k));
      _mm512_store_si512(x16[u] + k, _mm512_cvtepi8_epi16(q));
    }
  }
  __m512i lane[N][8];
  for (int u = 0; u < N; ++u)
    for (auto& l : lane[u]) l = _mm512_setzero_si512();
  for (int c = 0; c < QK_K / 32; ++c) {
    for (int l = 0; l < 8; ++l) {
      for (int h = 0; h < 2; ++h) {
        const int pair = 16 * c + 2 * l + h;  // elements 32c + 4l … 32c + 4l + 3
        const __m512i wp = _mm512_loadu_si512(p.pairs[pair]);
        for (int u = 0; u < N; ++u) {
          const auto* xp = reinterpret_cast<const int32_t*>(x16[u]);
          lane[u][l] = _mm512_dpwssd_epi32(lane[u][l], wp, _mm512_set1_epi32(xp[pair]));
        }
      }
    }
  }
  for (int u = 0; u < N; ++u) {
    const __m512 d = mul_rounded16(_mm512_loadu_ps(p.d), _mm512_set1_ps(x[u]->d));
    for (int l = 0; l < 8; ++l) {
      const __m512 s = _mm512_add_ps(_mm512_loadu_ps(st[u]->sums[l]),
                                     mul_rounded16(d, _mm512_cvtepi32_ps(lane[u][l])));
      _mm512_storeu_ps(st[u]->sums[l], s);
    }
    if constexpr (kHasMin) {
      const auto* bs = reinterpret_cast<const int32_t*>(x[u]->bsums);  // sub-blocks 2j, 2j + 1
      __m512i m = _mm512_setzero_si512();
      for (int j = 0; j < 8; ++j)
        m = _mm512_dpwssd_epi32(m, _mm512_loadu_si512(p.mins[j]), _mm512_set1_epi32(bs[j]));
      const __m512 dmin = mul_rounded16(_mm512_loadu_ps(p.dmin), _mm512_set1_ps(x[u]->d));
      _mm512_storeu_ps(st[u]->sumf, _mm512_sub_ps(_mm512_loadu_ps(st[u]->sumf),
                                                  mul_rounded16(dmin, _mm512_cvtepi32_ps(m))));
    }
  }
}

template <typename Block, bool kHasMin>
INFERA_AVX512 void k_panel16(const uint8_t* w, uint64_t w_row_bytes, const block_q8_K* x,
                             int64_t x_stride_blocks, int64_t n_tokens, int64_t nb, float* y,
                             int64_t y_stride) {
  thread_local std::vector<KPanelBlock> slice;
  thread_local std::vector<KTokenState> state;
  slice.resize(static_cast<size_t>(kSliceBlocks));
  state.assign(static_cast<size_t>(n_tokens), KTokenState{});
  for (int64_t b0 = 0; b0 < nb; b0 += kSliceBlocks) {
    const int64_t n_blocks = std::min(kSliceBlocks, nb - b0);
    for (int64_t i = 0; i < n_blocks; ++i) rewrite_block<Block>(w, w_row_bytes, b0 + i, &slice[i]);
    int64_t t = 0;
    for (; t + 2 <= n_tokens; t += 2) {
      KTokenState* st[2] = {&state[t], &state[t + 1]};
      for (int64_t i = 0; i < n_blocks; ++i) {
        const block_q8_K* xs[2] = {x + t * x_stride_blocks + b0 + i,
                                   x + (t + 1) * x_stride_blocks + b0 + i};
        block_times_tokens<kHasMin, 2>(slice[i], xs, st);
      }
    }
    for (; t < n_tokens; ++t) {
      KTokenState* st[1] = {&state[t]};
      for (int64_t i = 0; i < n_blocks; ++i) {
        const block_q8_K* xs[1] = {x + t * x_stride_blocks + b0 + i};
        block_times_tokens<kHasMin, 1>(slice[i], xs, st);
      }
    }
  }
  for (int64_t t = 0; t < n_tokens; ++t) {
    __m512 sumf = _mm512_loadu_ps(state[t].sumf);
    for (int l = 0; l < 8; ++l) sumf = _mm512_add_ps(sumf, _mm512_loadu_ps(state[t].sums[l]));
    _mm512_storeu_ps(y + t * y_stride, sumf);
  }
}

}  // namespace

void k_panel16_avx512(TensorType weight_type, const uint8_t* w, uint64_t w_row_bytes,
                      const block_q8_K* x, int64_t x_stride_blocks, int64_t n_tokens, int64_t nb,
                      float* y, int64_t y_stride) {
  if (weight_type == TensorType::Q4_K) {
    k_panel16<block_q4_K, true>(w, w_row_bytes, x, x_stride_blocks, n_tokens, nb, y, y_stride);
  } else {
    k_panel16<block_q6_K, false>(w, w_row_bytes, x, x_stride_blocks, n_tokens, nb, y, y_stride);
  }
}

}  // namespace infera::int_dot_detail

#endif  // x86
