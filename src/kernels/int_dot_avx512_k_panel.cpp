// AVX-512 VNNI: a panel of 16 Q4_K or Q6_K weight rows times many Q8_K activation rows, the
// prompt-processing GEMM of the K-quants. Each block of the 16 rows is rewritten once as bytes
// with lane r of a vector holding row r: vector (c, l) holds, per row, the four quants of elements
// 32c + 4l … 32c + 4l + 3 (l = 0 … 7) of chunk c, so each 16-element half of a chunk is four
// vectors.
// The block's integer sum is exact int32, so any grouping of it gives the same bits: per 16
// elements, a chain of four vpdpbusd (the u8 quants times a dword of four s8 activations,
// broadcast from memory inside the instruction) sums q · x per row, and only then is that
// sub-sum scaled, once per 16 elements instead of once per 4: about half the multiply uops of
// vpmaddubsw + vpdpwssd per dword. There is no reduction across lanes; the float steps
// (vec_dot_k.h) then run on 16 rows per instruction.
// Q4_K: quants 0 … 15, so a 16-element sub-sum is at most 16 · 15 · 128 in size and fits an int16:
// vpdpwssd with the scale as the pair (scale, 0) multiplies and adds it in one instruction.
// Q6_K: the stored quants (0 … 63) are the unsigned side as they are, and
// Σ (q − 32) x = Σ q x − 32 · bsum per 16 elements. Σ q x reaches 16 · 63 · 128 and needs int32,
// so vpmulld scales it; the −32 · scale · bsum terms are one vpdpwssd per 32 elements. Every
// partial sum stays below 2^29 in size.
#include "kernels/int_dot.h"

#if defined(__x86_64__) || defined(__i386__)
#include <algorithm>
#include <cstddef>
#include <optional>
#include <type_traits>
#include <vector>

#include "kernels/avx512_intrinsics.h"
#include "quant/block_lanes.h"
#include "quant/blocks.h"

#define INFERA_AVX512 __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")))

namespace infera::int_dot_detail {
namespace {

#include "kernels/panel_avx512.inc"

constexpr int kRows = static_cast<int>(kIntPanelRows);
constexpr int kChunks = QK_K / 32;
constexpr int kLanes = 8;
// Blocks rewritten at a time before the tokens pass over them. One measured best at 16 and 64
// tokens and level with four at 512 (bench-kernels, pp512): the activation lines in flight get
// more of L1.
constexpr int64_t kSliceBlocks = 1;
// Tokens that pass over a slice before the next slice: their lane states (512 bytes each) stay in
// L1, and their activation rows in L2 while every panel of a block takes them. More tokens than
// this go in groups over the rewritten panels. 48 is whole passes of 6 (Q4_K) and 8 (Q6_K);
// bench-kernels Q4_K t512 on one core ran ~5 % faster with groups of 24 or 48 than of 64.
constexpr int64_t kGroupTokens = 48;

// One block of the panel; every int32 array is [what][row r].
struct KPanelBlock {
  // q[c][l] lane r: elements 32c + 4l … 32c + 4l + 3 of row r as u8: the Q4_K nibble, or the
  // stored Q6_K value (0 … 63, its 32 not taken off).
  uint32_t q[kChunks][kLanes][kRows];
  // scale[s] lane r: the scale of row r's 32-element sub-block s (Q4_K: 0 … 63, so also the int16
  // pair (scale, 0)) or 16-element sub-block s (Q6_K: −128 … 127).
  int32_t scale[16][kRows];
  // bsum_w[j] lane r: the int16 pair that multiplies Q8_K bsums 2j, 2j + 1 for row r: (m, m) with
  // m the min of Q4_K sub-block j, or (−32 scale_2j, −32 scale_2j+1) for Q6_K.
  int32_t bsum_w[8][kRows];
  float d[kRows], dmin[kRows];
};

template <typename Block>
constexpr bool kIsQ4K = std::is_same_v<Block, block_q4_K>;

// Activation rows that share each load of the panel: enough independent vpdpbusd chains to cover
// their latency (2 · N of them per chunk), few enough not to spill the sums (2, 4, 6, 8 measured:
// Q4_K, with its separate min sums, peaks at 6, Q6_K at 8).
template <typename Block>
constexpr int kTokens = kIsQ4K<Block> ? 6 : 8;

// The int16 pair (lo, hi) in each dword, for vpdpwssd.
INFERA_AVX512 inline __m512i int16_pair(__m512i lo, __m512i hi) {
  return _mm512_or_si512(_mm512_and_si512(lo, _mm512_set1_epi32(0xffff)),
                         _mm512_slli_epi32(hi, 16));
}

// Row r's dword at byte `offset` of block b, for the 16 rows.
INFERA_AVX512 inline __m512i gather_rows(const uint8_t* w, __m512i row_offsets, uint64_t offset) {
  return _mm512_i32gather_epi32(row_offsets, w + offset, 1);
}

// Dwords 16g … 16g + 15 of a byte array at byte `offset` of each of the 16 rows, transposed:
// t[i] lane r = row r's dword 16g + i. The raw bytes go through the transpose, so that each
// decoding step after it serves 16 rows.
INFERA_AVX512 inline void transpose_rows(const uint8_t* w, uint64_t w_row_bytes, uint64_t offset,
                                         __m512i* t) {
  __m512 in[16], out[16];
  for (int r = 0; r < kRows; ++r) in[r] = _mm512_loadu_ps(w + r * w_row_bytes + offset);
  transpose16(in, out);
  for (int i = 0; i < 16; ++i) t[i] = _mm512_castps_si512(out[i]);
}

INFERA_AVX512 void rewrite_q4_k(const uint8_t* w, uint64_t w_row_bytes, __m512i row_offsets,
                                KPanelBlock* out) {
  const __m512i low4 = _mm512_set1_epi8(0x0f);
  // qs dword 8j + l holds elements 64j + 4l … + 3 in its low nibbles (chunk 2j, lane l) and
  // 32 elements further in its high nibbles (chunk 2j + 1).
  for (int g = 0; g < 2; ++g) {
    __m512i t[16];
    transpose_rows(w, w_row_bytes, offsetof(block_q4_K, qs) + 64 * g, t);
    for (int i = 0; i < 16; ++i) {
      const int j = 2 * g + i / 8, l = i % 8;
      _mm512_storeu_si512(out->q[2 * j][l], _mm512_and_si512(t[i], low4));
      _mm512_storeu_si512(out->q[2 * j + 1][l], _mm512_and_si512(_mm512_srli_epi32(t[i], 4), low4));
    }
  }
  // The 12 scale bytes as three dwords per row, decoded as q4k_scale_min does.
  const __m512i s0 = gather_rows(w, row_offsets, offsetof(block_q4_K, scales));
  const __m512i s1 = gather_rows(w, row_offsets, offsetof(block_q4_K, scales) + 4);
  const __m512i s2 = gather_rows(w, row_offsets, offsetof(block_q4_K, scales) + 8);
  const __m512i six = _mm512_set1_epi32(0x3f), four = _mm512_set1_epi32(0x0f),
                two = _mm512_set1_epi32(0x03);
  for (int k = 0; k < 4; ++k) {
    const __m512i b0 = _mm512_srli_epi32(s0, 8 * k), b1 = _mm512_srli_epi32(s1, 8 * k),
                  b2 = _mm512_srli_epi32(s2, 8 * k);
    const __m512i m_lo = _mm512_and_si512(b1, six);
    _mm512_storeu_si512(out->scale[k], _mm512_and_si512(b0, six));
    _mm512_storeu_si512(out->bsum_w[k], int16_pair(m_lo, m_lo));
    const __m512i sc =
        _mm512_or_si512(_mm512_and_si512(b2, four),
                        _mm512_slli_epi32(_mm512_and_si512(_mm512_srli_epi32(b0, 6), two), 4));
    const __m512i m =
        _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi32(b2, 4), four),
                        _mm512_slli_epi32(_mm512_and_si512(_mm512_srli_epi32(b1, 6), two), 4));
    _mm512_storeu_si512(out->scale[4 + k], sc);
    _mm512_storeu_si512(out->bsum_w[4 + k], int16_pair(m, m));
  }
  const __m512i d_dmin = gather_rows(w, row_offsets, offsetof(block_q4_K, d));
  _mm512_storeu_ps(out->d, _mm512_cvtph_ps(_mm512_cvtepi32_epi16(d_dmin)));
  _mm512_storeu_ps(out->dmin,
                   _mm512_cvtph_ps(_mm512_cvtepi32_epi16(_mm512_srli_epi32(d_dmin, 16))));
}

INFERA_AVX512 void rewrite_q6_k(const uint8_t* w, uint64_t w_row_bytes, __m512i row_offsets,
                                KPanelBlock* out) {
  const __m512i low4 = _mm512_set1_epi8(0x0f), high2 = _mm512_set1_epi8(0x30);
  // Element 128h + 32c + 4l + e (c = 0 … 3): the low (c < 2) or high nibble of ql byte
  // 64h + 32(c % 2) + 4l + e, with bits 2c, 2c + 1 of qh byte 32h + 4l + e above it: in dwords,
  // ql dword 16h + 8(c % 2) + l and qh dword 8h + l.
  __m512i qh[16];
  transpose_rows(w, w_row_bytes, offsetof(block_q6_K, qh), qh);
  for (int h = 0; h < 2; ++h) {
    __m512i ql[16];
    transpose_rows(w, w_row_bytes, offsetof(block_q6_K, ql) + 64 * h, ql);
    for (int c = 0; c < 4; ++c) {
      for (int l = 0; l < 8; ++l) {
        const __m512i lo = ql[8 * (c % 2) + l], hi = qh[8 * h + l];
        const __m512i low = c < 2 ? lo : _mm512_srli_epi32(lo, 4);
        // Bits 2c, 2c + 1 of each byte to bits 4, 5.
        const __m512i high = c < 2    ? _mm512_slli_epi32(hi, 4 - 2 * c)
                             : c == 2 ? hi
                                      : _mm512_srli_epi32(hi, 2);
        // (low & 0x0f) | (high & 0x30)
        _mm512_storeu_si512(
            out->q[4 * h + c][l],
            _mm512_ternarylogic_epi32(_mm512_and_si512(high, high2), low, low4, 0xf8));
      }
    }
  }
  for (int g = 0; g < 4; ++g) {  // scales 4g … 4g + 3, sign-extended
    const __m512i bytes = gather_rows(w, row_offsets, offsetof(block_q6_K, scales) + 4 * g);
    __m512i s[4];
    for (int k = 0; k < 4; ++k) {
      s[k] = _mm512_srai_epi32(_mm512_slli_epi32(bytes, 24 - 8 * k), 24);
      _mm512_storeu_si512(out->scale[4 * g + k], s[k]);
    }
    // −32 scale: the part of Σ (q − 32) x that the stored q leave out, per bsum.
    for (int j = 0; j < 2; ++j) {
      const __m512i lo = _mm512_sub_epi32(_mm512_setzero_si512(), _mm512_slli_epi32(s[2 * j], 5));
      const __m512i hi =
          _mm512_sub_epi32(_mm512_setzero_si512(), _mm512_slli_epi32(s[2 * j + 1], 5));
      _mm512_storeu_si512(out->bsum_w[2 * g + j], int16_pair(lo, hi));
    }
  }
  // d is the last two bytes of the block: the upper half of the dword before them.
  const __m512i d = gather_rows(w, row_offsets, offsetof(block_q6_K, d) - 2);
  _mm512_storeu_ps(out->d, _mm512_cvtph_ps(_mm512_cvtepi32_epi16(_mm512_srli_epi32(d, 16))));
}

template <typename Block>
INFERA_AVX512 void rewrite_block(const uint8_t* w, uint64_t w_row_bytes, int64_t b,
                                 KPanelBlock* out) {
  const __m512i row_offsets = row_offsets16(w_row_bytes);
  const uint8_t* blocks = w + b * static_cast<int64_t>(sizeof(Block));
  if constexpr (kIsQ4K<Block>) {
    rewrite_q4_k(blocks, w_row_bytes, row_offsets, out);
  } else {
    rewrite_q6_k(blocks, w_row_bytes, row_offsets, out);
  }
}

// Per token, across slices: the reference's eight float block lanes, per row.
struct KTokenState {
  float lane[kBlockLanes][kRows];
};

// acc + the u8 × s8 dot of each dword of q with the four bytes at p, as one instruction: p's
// dword is an embedded {1to16} operand (GCC 12 does not fold _mm512_set1_epi32 into VNNI
// instructions, and a separate broadcast is one more uop per product).
INFERA_AVX512 inline __m512i dpbusd_bcast(__m512i acc, __m512i q, const void* p) {
  __asm__("vpdpbusd %2%{1to16%}, %1, %0"
          : "+v"(acc)
          : "v"(q), "m"(*static_cast<const uint8_t(*)[4]>(p)));
  return acc;
}

// The same for the int16 pairs of vpdpwssd.
INFERA_AVX512 inline __m512i dpwssd_bcast(__m512i acc, __m512i w, const void* p) {
  __asm__("vpdpwssd %2%{1to16%}, %1, %0"
          : "+v"(acc)
          : "v"(w), "m"(*static_cast<const uint8_t(*)[4]>(p)));
  return acc;
}

// A zero vector as its own vpxord, which the core renames away; a shared zero register would cost
// a move at the head of every chain.
INFERA_AVX512 inline __m512i fresh_zero() {
  __m512i z;
  __asm__ volatile("vpxord %0, %0, %0" : "=v"(z));
  return z;
}

// Block b of the panel times N tokens' activation blocks: each quant vector loaded serves all N.
template <typename Block, int N>
INFERA_AVX512 void block_times_tokens(const KPanelBlock& p, int64_t b, const block_q8_K* const* x,
                                      KTokenState* const* st) {
  // Per token: the block's integer sum, and (Q4_K) Σ min · bsum.
  __m512i isum[N], m[N];
  for (int u = 0; u < N; ++u) isum[u] = m[u] = _mm512_setzero_si512();
#pragma GCC unroll 8
  for (int c = 0; c < kChunks; ++c) {
    // Σ q · x over each 16-element half of the chunk, per row and token.
    __m512i part[2][N];
    for (int h = 0; h < 2; ++h)
      for (int u = 0; u < N; ++u) part[h][u] = fresh_zero();
    for (int k = 0; k < 4; ++k) {
      for (int h = 0; h < 2; ++h) {
        const int l = 4 * h + k;
        const __m512i q = _mm512_loadu_si512(p.q[c][l]);
        for (int u = 0; u < N; ++u)
          part[h][u] = dpbusd_bcast(part[h][u], q, x[u]->qs + 32 * c + 4 * l);
      }
    }
    const __m512i bw = _mm512_loadu_si512(p.bsum_w[c]);  // bsums 2c, 2c + 1
    if constexpr (kIsQ4K<Block>) {
      const __m512i scale = _mm512_loadu_si512(p.scale[c]);
      for (int u = 0; u < N; ++u) {
        isum[u] = _mm512_dpwssd_epi32(isum[u], part[0][u], scale);
        isum[u] = _mm512_dpwssd_epi32(isum[u], part[1][u], scale);
        m[u] = dpwssd_bcast(m[u], bw, x[u]->bsums + 2 * c);
      }
    } else {
      const __m512i scale0 = _mm512_loadu_si512(p.scale[2 * c]);
      const __m512i scale1 = _mm512_loadu_si512(p.scale[2 * c + 1]);
      for (int u = 0; u < N; ++u) {
        const __m512i scaled = _mm512_add_epi32(_mm512_mullo_epi32(part[0][u], scale0),
                                                _mm512_mullo_epi32(part[1][u], scale1));
        // The bsum term last: an add GCC could reassociate would let it sink every product of
        // the block to the end, with all the parts spilled until then.
        isum[u] = dpwssd_bcast(_mm512_add_epi32(isum[u], scaled), bw, x[u]->bsums + 2 * c);
      }
    }
  }
  for (int u = 0; u < N; ++u) {
    const __m512 d = mul_rounded16(_mm512_loadu_ps(p.d), _mm512_set1_ps(x[u]->d));
    __m512 term = mul_rounded16(d, _mm512_cvtepi32_ps(isum[u]));
    if constexpr (kIsQ4K<Block>) {
      const __m512 dmin = mul_rounded16(_mm512_loadu_ps(p.dmin), _mm512_set1_ps(x[u]->d));
      term = _mm512_sub_ps(term, mul_rounded16(dmin, _mm512_cvtepi32_ps(m[u])));
    }
    // As the reference, a lane's first term is added to +0 (a −0 term becomes +0).
    float* lane = st[u]->lane[block_lane(b)];
    const __m512 before = b < kBlockLanes ? _mm512_setzero_ps() : _mm512_loadu_ps(lane);
    _mm512_storeu_ps(lane, _mm512_add_ps(before, term));
  }
}

// Tokens [t, t + N) over the blocks of one slice.
template <typename Block, int N>
INFERA_AVX512 void slice_times_tokens(const KPanelBlock* slice, int64_t n_blocks, int64_t b0,
                                      const block_q8_K* x, int64_t x_stride_blocks, int64_t t,
                                      int64_t n_tokens, KTokenState* state) {
  KTokenState* st[N];
  for (int u = 0; u < N; ++u) st[u] = &state[t + u];
  for (int64_t i = 0; i < n_blocks; ++i) {
    const block_q8_K* xs[N];
    for (int u = 0; u < N; ++u) xs[u] = x + (t + u) * x_stride_blocks + b0 + i;
    // The same block of the tokens two groups further on: each token's block is a few lines of
    // its own, rows apart, which no hardware prefetcher follows.
    constexpr int ahead = 2 * N;
    for (int u = 0; u < N && t + ahead + u < n_tokens; ++u) {
      const auto* p = reinterpret_cast<const char*>(xs[u] + ahead * x_stride_blocks);
      for (size_t k = 0; k < sizeof(block_q8_K); k += 64) _mm_prefetch(p + k, _MM_HINT_T0);
      _mm_prefetch(p + sizeof(block_q8_K) - 1, _MM_HINT_T0);
    }
    block_times_tokens<Block, N>(slice[i], b0 + i, xs, st);
  }
}

template <typename Block>
INFERA_AVX512 void k_panels16(const uint8_t* w, uint64_t w_row_bytes, int64_t n_panels,
                              const block_q8_K* x, int64_t x_stride_blocks, int64_t n_tokens,
                              int64_t nb, float* y, int64_t y_stride) {
  // Every panel of the block, rewritten as the first group of tokens reaches each slice, then read
  // again (from L2) by the groups after it, so that each group's activation rows are read from L2
  // by all the panels rather than from L3 by each.
  thread_local std::vector<KPanelBlock> panels;
  thread_local std::vector<KTokenState> state;
  panels.resize(static_cast<size_t>(n_panels * nb));
  state.resize(static_cast<size_t>(std::min(n_tokens, kGroupTokens)));
  // Blocks 0 … 7 start the lanes (block_times_tokens); only lanes no block reaches need zeros.
  if (nb < kBlockLanes) std::fill(state.begin(), state.end(), KTokenState{});
  for (int64_t t0 = 0; t0 < n_tokens; t0 += kGroupTokens) {
    const int64_t g_tokens = std::min(kGroupTokens, n_tokens - t0);
    const block_q8_K* xg = x + t0 * x_stride_blocks;
    for (int64_t p = 0; p < n_panels; ++p) {
      const uint8_t* wp = w + p * kRows * w_row_bytes;
      for (int64_t b0 = 0; b0 < nb; b0 += kSliceBlocks) {
        const int64_t n_blocks = std::min(kSliceBlocks, nb - b0);
        KPanelBlock* slice = panels.data() + p * nb + b0;
        constexpr int n = kTokens<Block>;
        std::optional<NextSlicePrefetch> next;
        if (t0 == 0) {
          for (int64_t i = 0; i < n_blocks; ++i)
            rewrite_block<Block>(wp, w_row_bytes, b0 + i, &slice[i]);
          next.emplace(wp, w_row_bytes, b0 * sizeof(Block), n_blocks * sizeof(Block), g_tokens / n);
        }
        int64_t t = 0;
        for (; t + n <= g_tokens; t += n) {
          if (next) next->before_pass();
          slice_times_tokens<Block, n>(slice, n_blocks, b0, xg, x_stride_blocks, t, g_tokens,
                                       state.data());
        }
        for (; t + 4 <= g_tokens; t += 4)
          slice_times_tokens<Block, 4>(slice, n_blocks, b0, xg, x_stride_blocks, t, g_tokens,
                                       state.data());
        for (; t + 2 <= g_tokens; t += 2)
          slice_times_tokens<Block, 2>(slice, n_blocks, b0, xg, x_stride_blocks, t, g_tokens,
                                       state.data());
        for (; t < g_tokens; ++t)
          slice_times_tokens<Block, 1>(slice, n_blocks, b0, xg, x_stride_blocks, t, g_tokens,
                                       state.data());
      }
      for (int64_t t = 0; t < g_tokens; ++t) {
        __m512 l[kBlockLanes];
        for (int k = 0; k < kBlockLanes; ++k) l[k] = _mm512_loadu_ps(state[t].lane[k]);
        _mm512_storeu_ps(y + (t0 + t) * y_stride + p * kRows, sum_block_lanes16(l));
      }
    }
  }
}

}  // namespace

void k_panels16_avx512(TensorType weight_type, const uint8_t* w, uint64_t w_row_bytes,
                       int64_t n_panels, const block_q8_K* x, int64_t x_stride_blocks,
                       int64_t n_tokens, int64_t nb, float* y, int64_t y_stride) {
  if (weight_type == TensorType::Q4_K) {
    k_panels16<block_q4_K>(w, w_row_bytes, n_panels, x, x_stride_blocks, n_tokens, nb, y, y_stride);
  } else {
    k_panels16<block_q6_K>(w, w_row_bytes, n_panels, x, x_stride_blocks, n_tokens, nb, y, y_stride);
  }
}

}  // namespace infera::int_dot_detail

#endif  // x86
