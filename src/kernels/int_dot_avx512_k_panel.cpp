// AVX-512 VNNI: a panel of 16 Q4_K or Q6_K weight rows times many Q8_K activation rows, the
// prompt-processing GEMM of the K-quants. Each block of the 16 rows is rewritten once as bytes
// with lane r of a vector holding row r: vector (c, l) holds, per row, the four quants of elements
// 32c + 4l … 32c + 4l + 3 (l = 0 … 7) of chunk c.
// A broadcast dword of four activations times that vector (vpmaddubsw: unsigned × signed bytes
// into two int16 sums per row, which cannot saturate at these ranges), then vpdpwssd with the rows'
// sub-block scales as int16 pairs, adds scale · (the four products) to the block's integer sum of
// 16 rows exactly, with no reduction across lanes; the float steps (vec_dot_k.h) then run on 16
// rows per instruction.
// Q4_K quants (0 … 15) are the unsigned side and the activations are used as they are. Q6_K quants
// are signed (q − 32), so the activations are read as x + 128; the 128 · Σ scale · (q − 32) that
// adds to the block's sum depends on the weights alone, and the sum starts at minus that instead of
// zero.
#include "kernels/int_dot.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#include <algorithm>
#include <cstddef>
#include <type_traits>
#include <vector>

#include "quant/block_lanes.h"
#include "quant/blocks.h"

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
constexpr int kChunks = QK_K / 32;
constexpr int kLanes = 8;
// Blocks rewritten at a time: 4 × 5.8 KiB stays in L1 while every token passes over it.
constexpr int64_t kSliceBlocks = 4;
// Activation rows that share each load of the panel.
constexpr int kTokens = 4;

// One block of the panel; every int32 array is [what][row r].
struct KPanelBlock {
  // q[c][l] lane r: elements 32c + 4l … 32c + 4l + 3 of row r, as u8 (Q4_K) or s8 (Q6_K).
  uint32_t q[kChunks][kLanes][kRows];
  // scale[s] lane r: the scale of row r's 16-element sub-block s (Q6_K) or 32-element
  // sub-block s (Q4_K), twice as an int16 pair.
  int32_t scale[16][kRows];
  int32_t start[kRows];    // Q6_K: where the block's sum starts (see the top of the file)
  int32_t mins[8][kRows];  // Q4_K: the int16 pair (m, m) of 32-element sub-block j
  float d[kRows], dmin[kRows];
};

template <typename Block>
constexpr bool kIsQ4K = std::is_same_v<Block, block_q4_K>;

// The scale of chunk c's half h (lanes 4h … 4h + 3): its sub-block.
template <typename Block>
constexpr int scale_index(int c, int h) {
  return kIsQ4K<Block> ? c : 2 * c + h;
}

INFERA_AVX512 inline __m512i int16_pair(__m512i v) {
  return _mm512_or_si512(_mm512_and_si512(v, _mm512_set1_epi32(0xffff)), _mm512_slli_epi32(v, 16));
}

// Row r's dword at byte `offset` of block b, for the 16 rows.
INFERA_AVX512 inline __m512i gather_rows(const uint8_t* w, __m512i row_offsets, uint64_t offset) {
  return _mm512_i32gather_epi32(row_offsets, w + offset, 1);
}

// Two 32-byte chunks of each of the 16 rows (in[r] = row r's chunks c, c + 1), transposed into
// q[c][0 … 7] and q[c + 1][0 … 7].
INFERA_AVX512 inline void store_chunk_pair(__m512* in, int c, KPanelBlock* out) {
  __m512 tr[16];
  transpose16(in, tr);
  for (int i = 0; i < 16; ++i)
    _mm512_storeu_ps(reinterpret_cast<float*>(out->q[c + i / 8][i % 8]), tr[i]);
}

INFERA_AVX512 inline __m512 join_halves(__m256i lo, __m256i hi) {
  return _mm512_castsi512_ps(_mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1));
}

INFERA_AVX512 void rewrite_q4_k(const uint8_t* w, uint64_t w_row_bytes, __m512i row_offsets,
                                KPanelBlock* out) {
  const __m256i low4 = _mm256_set1_epi8(0x0f);
  for (int j = 0; j < 4;
       ++j) {  // qs[32j + i]: element 64j + i in its low nibble, 64j + 32 + i high
    __m512 in[16];
    for (int r = 0; r < kRows; ++r) {
      const __m256i raw = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(
          w + r * w_row_bytes + offsetof(block_q4_K, qs) + 32 * j));
      in[r] = join_halves(_mm256_and_si256(raw, low4),
                          _mm256_and_si256(_mm256_srli_epi16(raw, 4), low4));
    }
    store_chunk_pair(in, 2 * j, out);
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
    _mm512_storeu_si512(out->scale[k], int16_pair(_mm512_and_si512(b0, six)));
    _mm512_storeu_si512(out->mins[k], int16_pair(_mm512_and_si512(b1, six)));
    const __m512i sc =
        _mm512_or_si512(_mm512_and_si512(b2, four),
                        _mm512_slli_epi32(_mm512_and_si512(_mm512_srli_epi32(b0, 6), two), 4));
    const __m512i m =
        _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi32(b2, 4), four),
                        _mm512_slli_epi32(_mm512_and_si512(_mm512_srli_epi32(b1, 6), two), 4));
    _mm512_storeu_si512(out->scale[4 + k], int16_pair(sc));
    _mm512_storeu_si512(out->mins[4 + k], int16_pair(m));
  }
  const __m512i d_dmin = gather_rows(w, row_offsets, offsetof(block_q4_K, d));
  _mm512_storeu_ps(out->d, _mm512_cvtph_ps(_mm512_cvtepi32_epi16(d_dmin)));
  _mm512_storeu_ps(out->dmin,
                   _mm512_cvtph_ps(_mm512_cvtepi32_epi16(_mm512_srli_epi32(d_dmin, 16))));
}

INFERA_AVX512 void rewrite_q6_k(const uint8_t* w, uint64_t w_row_bytes, __m512i row_offsets,
                                KPanelBlock* out) {
  const __m256i low4 = _mm256_set1_epi8(0x0f), two = _mm256_set1_epi8(0x03),
                thirty_two = _mm256_set1_epi8(32);
  // Elements 128h + 32c + i, c = 0 … 3: the low (c < 2) or high nibble of ql[64h + 32(c % 2) + i],
  // with bits 2c, 2c + 1 of qh[32h + i] above them, minus 32.
  for (int h = 0; h < 2; ++h) {
    for (int half = 0; half < 2; ++half) {  // chunks 4h + 2 half, 4h + 2 half + 1
      __m512 in[16];
      for (int r = 0; r < kRows; ++r) {
        const uint8_t* row = w + r * w_row_bytes;
        const auto* ql = reinterpret_cast<const __m256i*>(row + offsetof(block_q6_K, ql) + 64 * h);
        const __m256i qh = _mm256_loadu_si256(
            reinterpret_cast<const __m256i*>(row + offsetof(block_q6_K, qh) + 32 * h));
        __m256i q[2];
        for (int k = 0; k < 2; ++k) {
          const int c = 2 * half + k;
          const __m256i low =
              _mm256_and_si256(_mm256_srli_epi16(_mm256_loadu_si256(ql + k), 4 * half), low4);
          const __m256i high = _mm256_and_si256(_mm256_srli_epi16(qh, 2 * c), two);
          q[k] = _mm256_sub_epi8(_mm256_or_si256(low, _mm256_slli_epi16(high, 4)), thirty_two);
        }
        in[r] = join_halves(q[0], q[1]);
      }
      store_chunk_pair(in, 4 * h + 2 * half, out);
    }
  }
  for (int g = 0; g < 4; ++g) {  // scales 4g … 4g + 3, sign-extended
    const __m512i bytes = gather_rows(w, row_offsets, offsetof(block_q6_K, scales) + 4 * g);
    for (int k = 0; k < 4; ++k) {
      const __m512i s = _mm512_srai_epi32(_mm512_slli_epi32(bytes, 24 - 8 * k), 24);
      _mm512_storeu_si512(out->scale[4 * g + k], int16_pair(s));
    }
  }
  // d is the last two bytes of the block: the upper half of the dword before them.
  const __m512i d = gather_rows(w, row_offsets, offsetof(block_q6_K, d) - 2);
  _mm512_storeu_ps(out->d, _mm512_cvtph_ps(_mm512_cvtepi32_epi16(_mm512_srli_epi32(d, 16))));
  // Where the block's sum starts: −Σ scale · 128 · (q − 32), formed as the kernel forms the
  // products.
  const __m512i bias = _mm512_set1_epi8(static_cast<char>(0x80));
  __m512i acc = _mm512_setzero_si512();
  for (int l = 0; l < kLanes; ++l) {
    for (int c = 0; c < kChunks; ++c) {
      const __m512i p = _mm512_maddubs_epi16(bias, _mm512_loadu_si512(out->q[c][l]));
      acc = _mm512_dpwssd_epi32(acc, p, _mm512_loadu_si512(out->scale[2 * c + l / 4]));
    }
  }
  _mm512_storeu_si512(out->start, _mm512_sub_epi32(_mm512_setzero_si512(), acc));
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

// Block b of the panel times N tokens' activation blocks: each quant vector loaded serves all N.
template <typename Block, int N>
INFERA_AVX512 void block_times_tokens(const KPanelBlock& p, int64_t b, const block_q8_K* const* x,
                                      KTokenState* const* st) {
  // The activation bytes the products read: x itself, or x + 128 for Q6_K.
  alignas(64) uint8_t biased[kIsQ4K<Block> ? 1 : N][QK_K];
  const uint8_t* xq[N];
  for (int u = 0; u < N; ++u) {
    if constexpr (kIsQ4K<Block>) {
      xq[u] = reinterpret_cast<const uint8_t*>(x[u]->qs);
    } else {
      for (int k = 0; k < QK_K; k += 64) {
        const __m512i v = _mm512_loadu_si512(x[u]->qs + k);
        _mm512_store_si512(biased[u] + k,
                           _mm512_xor_si512(v, _mm512_set1_epi8(static_cast<char>(0x80))));
      }
      xq[u] = biased[u];
    }
  }
  // Four independent sums per token (element lanes l and l + 4 share one), joined at the end.
  __m512i sum[N][4];
  for (int u = 0; u < N; ++u)
    for (int k = 0; k < 4; ++k)
      sum[u][k] = !kIsQ4K<Block> && k == 0 ? _mm512_loadu_si512(p.start) : _mm512_setzero_si512();
  for (int h = 0; h < 2; ++h) {  // lanes 4h … 4h + 3
    for (int c = 0; c < kChunks; ++c) {
      const __m512i scale = _mm512_loadu_si512(p.scale[scale_index<Block>(c, h)]);
      for (int k = 0; k < 4; ++k) {
        const int l = 4 * h + k;
        const __m512i q = _mm512_loadu_si512(p.q[c][l]);
        for (int u = 0; u < N; ++u) {
          int32_t four;
          __builtin_memcpy(&four, xq[u] + 32 * c + 4 * l, 4);
          const __m512i xb = _mm512_set1_epi32(four);
          const __m512i pairs =
              kIsQ4K<Block> ? _mm512_maddubs_epi16(q, xb) : _mm512_maddubs_epi16(xb, q);
          sum[u][k] = _mm512_dpwssd_epi32(sum[u][k], pairs, scale);
        }
      }
    }
  }
  for (int u = 0; u < N; ++u) {
    const __m512i isum = _mm512_add_epi32(_mm512_add_epi32(sum[u][0], sum[u][1]),
                                          _mm512_add_epi32(sum[u][2], sum[u][3]));
    const __m512 d = mul_rounded16(_mm512_loadu_ps(p.d), _mm512_set1_ps(x[u]->d));
    __m512 term = mul_rounded16(d, _mm512_cvtepi32_ps(isum));
    if constexpr (kIsQ4K<Block>) {
      const auto* bs = reinterpret_cast<const int32_t*>(x[u]->bsums);  // sub-blocks 2j, 2j + 1
      __m512i m = _mm512_setzero_si512();
      for (int j = 0; j < 8; ++j)
        m = _mm512_dpwssd_epi32(m, _mm512_loadu_si512(p.mins[j]), _mm512_set1_epi32(bs[j]));
      const __m512 dmin = mul_rounded16(_mm512_loadu_ps(p.dmin), _mm512_set1_ps(x[u]->d));
      term = _mm512_sub_ps(term, mul_rounded16(dmin, _mm512_cvtepi32_ps(m)));
    }
    float* lane = st[u]->lane[block_lane(b)];
    _mm512_storeu_ps(lane, _mm512_add_ps(_mm512_loadu_ps(lane), term));
  }
}

// Tokens [t, t + N) over the blocks of one slice.
template <typename Block, int N>
INFERA_AVX512 void slice_times_tokens(const KPanelBlock* slice, int64_t n_blocks, int64_t b0,
                                      const block_q8_K* x, int64_t x_stride_blocks, int64_t t,
                                      KTokenState* state) {
  KTokenState* st[N];
  for (int u = 0; u < N; ++u) st[u] = &state[t + u];
  for (int64_t i = 0; i < n_blocks; ++i) {
    const block_q8_K* xs[N];
    for (int u = 0; u < N; ++u) xs[u] = x + (t + u) * x_stride_blocks + b0 + i;
    block_times_tokens<Block, N>(slice[i], b0 + i, xs, st);
  }
}

template <typename Block>
INFERA_AVX512 void k_panel16(const uint8_t* w, uint64_t w_row_bytes, const block_q8_K* x,
                             int64_t x_stride_blocks, int64_t n_tokens, int64_t nb, float* y,
                             int64_t y_stride) {
  thread_local std::vector<KPanelBlock> slice;
  thread_local std::vector<KTokenState> state;
  slice.resize(static_cast<size_t>(kSliceBlocks));
  // Zeros, not the first block's terms: the reference adds those to +0, which turns a −0 into +0.
  state.assign(static_cast<size_t>(n_tokens), KTokenState{});
  for (int64_t b0 = 0; b0 < nb; b0 += kSliceBlocks) {
    const int64_t n_blocks = std::min(kSliceBlocks, nb - b0);
    for (int64_t i = 0; i < n_blocks; ++i) rewrite_block<Block>(w, w_row_bytes, b0 + i, &slice[i]);
    int64_t t = 0;
    for (; t + kTokens <= n_tokens; t += kTokens)
      slice_times_tokens<Block, kTokens>(slice.data(), n_blocks, b0, x, x_stride_blocks, t,
                                         state.data());
    for (; t < n_tokens; ++t)
      slice_times_tokens<Block, 1>(slice.data(), n_blocks, b0, x, x_stride_blocks, t, state.data());
  }
  for (int64_t t = 0; t < n_tokens; ++t) {
    __m512 l[kBlockLanes];
    for (int k = 0; k < kBlockLanes; ++k) l[k] = _mm512_loadu_ps(state[t].lane[k]);
    const __m512 sum =
        _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(l[0], l[4]), _mm512_add_ps(l[1], l[5])),
                      _mm512_add_ps(_mm512_add_ps(l[2], l[6]), _mm512_add_ps(l[3], l[7])));
    _mm512_storeu_ps(y + t * y_stride, sum);
  }
}

}  // namespace

void k_panel16_avx512(TensorType weight_type, const uint8_t* w, uint64_t w_row_bytes,
                      const block_q8_K* x, int64_t x_stride_blocks, int64_t n_tokens, int64_t nb,
                      float* y, int64_t y_stride) {
  if (weight_type == TensorType::Q4_K) {
    k_panel16<block_q4_K>(w, w_row_bytes, x, x_stride_blocks, n_tokens, nb, y, y_stride);
  } else {
    k_panel16<block_q6_K>(w, w_row_bytes, x, x_stride_blocks, n_tokens, nb, y, y_stride);
  }
}

}  // namespace infera::int_dot_detail

#endif  // x86
