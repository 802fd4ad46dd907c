// AVX2 decode kernels for Q4_0 … Q8_0 weights that read activations in the pair form
// (pair_activations_avx2): the product of many weight rows with one activation row. Prompt
// processing reads the same form (int_dot_avx2_lanes.cpp).
//
// Why a form of its own: the 16 quant bytes of a 4-bit block hold elements 0..15 in their low
// nibbles and 16..31 in their high ones. Two blocks a, b side by side in one register give, after
// one mask and one shift, [a 0..15 | b 0..15] and [a 16..31 | b 16..31]; the activations are laid
// out the same way once per token, so every maddubs works on whole registers with no per-block
// shuffling (Q8_0 blocks take one lane permute per half). 4- and 5-bit weights are taken unsigned
// (Q4_0's −8 and Q5_0's −16 come back as 8 or 16 · Σ x, an exact integer correction), so maddubs
// needs no sign tricks and the halves' int16 pair sums add before one madd. Unpacks and adds then
// give the 8 block sums of a group of 8 blocks in one vector, and the float steps run on the 8
// blocks at once, as the reference's (block_terms8): the same bits as dot_unpacked_q8_0/q8_1.
// No gathers: the block scales are picked up one by one, or read in one load from Q4_0 rows
// regrouped (q4_0_groups.h); a gather of 8 scales cost more than the rest of a group.
#include "kernels/int_dot.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <type_traits>

#include "kernels/quantized_dot.h"
#include "kernels/row_stream_prefetch.h"
#include "quant/float16.h"
#include "quant/q4_0_groups.h"

#define INFERA_AVX2 __attribute__((target("avx2,fma,f16c")))
// The pieces of a group's product: inlined into the kernels, so that a group's registers never go
// through memory (left to itself, GCC 12 called add_group and spilled the weight group).
#define INFERA_AVX2_INLINE __attribute__((target("avx2,fma,f16c"), always_inline)) inline
#define INFERA_AVX2_LAMBDA __attribute__((target("avx2,fma,f16c"), always_inline))

namespace infera::int_dot_detail {
namespace {

#define INFERA_SIMD_TARGET INFERA_AVX2
#include "kernels/int_dot_x86_shared.inc"
#undef INFERA_SIMD_TARGET

// Lanes. A register of a pair holds blocks 2k (low half) and 2k + 1 (high half) of a group of 8,
// so the group's 8 block sums come out of the reduction (group_sums) in the order kLaneBlock:
// lane j holds block kLaneBlock[j]. The float steps run in that order (the activations' scales
// are stored in it, the weights' are put in it) and lane_sum adds the lanes in the reference's
// tree by block.
constexpr int kLaneBlock[8] = {0, 2, 4, 6, 1, 3, 5, 7};

// The weights of a pair as unsigned nibbles: [a 0..15 | b 0..15] and [a 16..31 | b 16..31].
struct PairNibbles {
  __m256i lo, hi;
};
INFERA_AVX2_INLINE PairNibbles pair_nibbles(__m256i quants) {
  const __m256i low4 = _mm256_set1_epi8(0x0f);
  return {_mm256_and_si256(quants, low4), _mm256_and_si256(_mm256_srli_epi16(quants, 4), low4)};
}

// Σ w · x of the pair as 8 int32: lanes 0..3 block a, 4..7 block b. x: the pair's 64 bytes of
// the pair form. 4- and 5-bit weights as unsigned bytes (|pair| <= 2 · 31 · 127, so the halves'
// int16 sums add unsaturated); Q8_0's signed weights as |w| times x with w's sign, each half to
// int32 on its own (a pair reaches 2 · 128 · 127).
template <W K>
INFERA_AVX2_INLINE __m256i pair_sums(const PairNibbles& w, const int8_t* x) {
  const __m256i x_lo = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x));
  const __m256i x_hi = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + 32));
  const __m256i ones = _mm256_set1_epi16(1);
  if constexpr (K == W::kQ8_0) {
    const __m256i lo = _mm256_maddubs_epi16(_mm256_abs_epi8(w.lo), _mm256_sign_epi8(x_lo, w.lo));
    const __m256i hi = _mm256_maddubs_epi16(_mm256_abs_epi8(w.hi), _mm256_sign_epi8(x_hi, w.hi));
    return _mm256_add_epi32(_mm256_madd_epi16(lo, ones), _mm256_madd_epi16(hi, ones));
  } else {
    const __m256i lo = _mm256_maddubs_epi16(w.lo, x_lo);
    const __m256i hi = _mm256_maddubs_epi16(w.hi, x_hi);
    return _mm256_madd_epi16(_mm256_add_epi16(lo, hi), ones);
  }
}

// The block sums of the 4 pairs of a group in lane order: per 128-bit half, the 4 lanes of each
// pair added (unpacks and adds: cheaper than hadd here).
INFERA_AVX2_INLINE __m256i group_sums(const __m256i* p) {
  const __m256i s01 =
      _mm256_add_epi32(_mm256_unpacklo_epi32(p[0], p[1]), _mm256_unpackhi_epi32(p[0], p[1]));
  const __m256i s23 =
      _mm256_add_epi32(_mm256_unpacklo_epi32(p[2], p[3]), _mm256_unpackhi_epi32(p[2], p[3]));
  return _mm256_add_epi32(_mm256_unpacklo_epi64(s01, s23), _mm256_unpackhi_epi64(s01, s23));
}

// Lanes whose block is below count.
INFERA_AVX2_INLINE __m256 lanes_below(int count) {
  const __m256i block = _mm256_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7);
  return _mm256_castsi256_ps(_mm256_cmpgt_epi32(_mm256_set1_epi32(count), block));
}

// The reference's lane sum ((l0 + l4) + (l1 + l5)) + ((l2 + l6) + (l3 + l7)) of block lanes l.
INFERA_AVX2_INLINE float lane_sum(__m256 acc) {
  alignas(32) float a[8];
  _mm256_store_ps(a, acc);
  // Block b sits in lane b / 2 (b even) or 4 + b / 2 (b odd).
  return ((a[0] + a[2]) + (a[4] + a[6])) + ((a[1] + a[3]) + (a[5] + a[7]));
}

// A group of up to 8 weight blocks: the pairs (zero past the blocks) and the scales in lane order
// (d; m for Q4_1).
struct WeightGroup {
  PairNibbles pair[4];
  __m256 d, m;
};

INFERA_AVX2_INLINE __m256i load_pair(const uint8_t* a, const uint8_t* b) {
  return _mm256_inserti128_si256(
      _mm256_castsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(a))),
      _mm_loadu_si128(reinterpret_cast<const __m128i*>(b)), 1);
}

template <W K>
constexpr bool kWithMin = K == W::kQ4_1 || K == W::kQ5_1;

// d (and m) of block kLaneBlock[j] into 16-bit lane j, for lanes j >= J; blocks past count stay
// zero. Recursive so that every lane index is a constant, as the instruction needs.
template <W K, int J>
INFERA_AVX2_INLINE void put_scales(const typename Traits<K>::Block* w, int count, __m128i* d,
                                   __m128i* m) {
  if constexpr (J < 8) {
    constexpr int kBlock = kLaneBlock[J];
    if (kBlock < count) {
      *d = _mm_insert_epi16(*d, w[kBlock].d, J);
      if constexpr (kWithMin<K>) *m = _mm_insert_epi16(*m, w[kBlock].m, J);
    }
    put_scales<K, J + 1>(w, count, d, m);
  }
}

// The 32-bit qh word of a Q5 block as 0x10 in the bytes of its set bits, for the pair halves:
// bytes 0..15 of lo from bits 0..15, of hi from bits 16..31 (each 128-bit half one block).
INFERA_AVX2_INLINE PairNibbles fifth_bit_pair(const uint8_t* qh_a, const uint8_t* qh_b) {
  uint32_t a, b = 0;
  std::memcpy(&a, qh_a, sizeof a);
  if (qh_b != nullptr) std::memcpy(&b, qh_b, sizeof b);
  const __m256i words =
      _mm256_setr_epi32(static_cast<int>(a), 0, 0, 0, static_cast<int>(b), 0, 0, 0);
  const __m256i bit = _mm256_set1_epi64x(static_cast<int64_t>(0x8040201008040201ULL));
  auto spread = [&](int first_byte) INFERA_AVX2_LAMBDA {
    const __m256i bytes = _mm256_shuffle_epi8(
        words, _mm256_setr_epi8(first_byte, first_byte, first_byte, first_byte, first_byte,
                                first_byte, first_byte, first_byte, first_byte + 1, first_byte + 1,
                                first_byte + 1, first_byte + 1, first_byte + 1, first_byte + 1,
                                first_byte + 1, first_byte + 1, first_byte, first_byte, first_byte,
                                first_byte, first_byte, first_byte, first_byte, first_byte,
                                first_byte + 1, first_byte + 1, first_byte + 1, first_byte + 1,
                                first_byte + 1, first_byte + 1, first_byte + 1, first_byte + 1));
    return _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(bytes, bit), bit),
                            _mm256_set1_epi8(0x10));
  };
  return {spread(0), spread(2)};
}

// The pair of blocks w[0], w[1] (or w[0] and zeros) as stored, in the halves of the pair form.
template <W K>
INFERA_AVX2_INLINE PairNibbles stored_pair(const typename Traits<K>::Block* w, bool both) {
  if constexpr (K == W::kQ8_0) {
    const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w[0].qs));
    const __m256i b = both ? _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w[1].qs))
                           : _mm256_setzero_si256();
    return {_mm256_permute2x128_si256(a, b, 0x20), _mm256_permute2x128_si256(a, b, 0x31)};
  } else {
    const __m256i quants =
        both ? load_pair(w[0].qs, w[1].qs)
             : _mm256_zextsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w[0].qs)));
    PairNibbles p = pair_nibbles(quants);
    if constexpr (K == W::kQ5_0 || K == W::kQ5_1) {
      const PairNibbles fifth = fifth_bit_pair(w[0].qh, both ? w[1].qh : nullptr);
      p.lo = _mm256_or_si256(p.lo, fifth.lo);
      p.hi = _mm256_or_si256(p.hi, fifth.hi);
    }
    return p;
  }
}

// d (and m) of a whole group's 8 blocks in lane order. Each block's first dword (d, then m or the
// block's next bytes) goes in with one insert, on two independent chains of four (even blocks,
// odd blocks); a byte shuffle splits d from m. Word by word (put_scales) the scales of Q4_1 took
// 16 dependent inserts, about a quarter of the kernel's time on 576-column rows.
template <W K>
INFERA_AVX2_INLINE void full_group_scales(const typename Traits<K>::Block* w, __m128i* d,
                                          __m128i* m) {
  using Block = typename Traits<K>::Block;
  static_assert(offsetof(Block, d) == 0 && sizeof(Block) >= 4);
  if constexpr (kWithMin<K>) static_assert(offsetof(Block, m) == 2);
  const auto* bytes = reinterpret_cast<const uint8_t*>(w);
  auto head = [&](int b) {
    int32_t v;
    std::memcpy(&v, bytes + b * sizeof(Block), sizeof v);
    return v;
  };
  // Words 0, 2, 4, 6 (the d) to the low 8 bytes, words 1, 3, 5, 7 (m) to the high 8.
  const __m128i split = _mm_setr_epi8(0, 1, 4, 5, 8, 9, 12, 13, 2, 3, 6, 7, 10, 11, 14, 15);
  const __m128i even = _mm_shuffle_epi8(_mm_setr_epi32(head(0), head(2), head(4), head(6)), split);
  const __m128i odd = _mm_shuffle_epi8(_mm_setr_epi32(head(1), head(3), head(5), head(7)), split);
  // Lane order kLaneBlock: the even blocks, then the odd ones.
  *d = _mm_unpacklo_epi64(even, odd);
  if constexpr (kWithMin<K>) *m = _mm_unpackhi_epi64(even, odd);
}

// Blocks [0, count) of a group as stored: the scales of a whole group by full_group_scales, of a
// last partial one word by word (no gather: a gather cost more than the rest of the group here).
template <W K>
INFERA_AVX2_INLINE void stored_group(const typename Traits<K>::Block* w, int count,
                                     WeightGroup* g) {
  for (int k = 0; k < 4; ++k) {
    const int a = 2 * k;
    g->pair[k] = a >= count ? PairNibbles{_mm256_setzero_si256(), _mm256_setzero_si256()}
                            : stored_pair<K>(w + a, a + 1 < count);
  }
  __m128i d = _mm_setzero_si128(), m = _mm_setzero_si128();
  if (count == 8) {
    full_group_scales<K>(w, &d, &m);
  } else {
    put_scales<K, 0>(w, count, &d, &m);
  }
  g->d = _mm256_cvtph_ps(d);
  g->m = _mm256_cvtph_ps(m);
}

// A regrouped Q4_0 group of n blocks (8, or 4 for a half group; q4_0_groups.h).
template <int kBlocks>
INFERA_AVX2_INLINE void regrouped_group(const uint8_t* group, WeightGroup* g) {
  for (int k = 0; k < 4; ++k) {
    g->pair[k] =
        2 * k < kBlocks
            ? pair_nibbles(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(group + 32 * k)))
            : PairNibbles{_mm256_setzero_si256(), _mm256_setzero_si256()};
  }
  const uint8_t* scales = group + 16 * kBlocks;
  const __m128i d = kBlocks == 8 ? _mm_loadu_si128(reinterpret_cast<const __m128i*>(scales))
                                 : _mm_loadl_epi64(reinterpret_cast<const __m128i*>(scales));
  g->d = _mm256_permutevar8x32_ps(_mm256_cvtph_ps(d), _mm256_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7));
  g->m = _mm256_setzero_ps();
}

// A weight row's groups, whatever its layout: visit(i, count, group) for blocks [i, i + count),
// in order.
template <W K, typename Visit>
INFERA_AVX2_INLINE void for_each_group(const uint8_t* row, int64_t nb, WeightLayout layout,
                                       const Visit& visit) {
  using Block = typename Traits<K>::Block;
  const auto* blocks = reinterpret_cast<const Block*>(row);
  const int64_t full = nb / 8 * 8;
  const bool regrouped = K == W::kQ4_0 && layout == WeightLayout::kQ4_0Groups;
  WeightGroup g;
  for (int64_t i = 0; i < full; i += 8) {
    if (regrouped) {
      regrouped_group<8>(row + i * sizeof(Block), &g);
    } else {
      stored_group<K>(blocks + i, 8, &g);
    }
    visit(i, 8, g);
  }
  const int count = static_cast<int>(nb - full);
  if (count == 0) return;
  if (regrouped && q4_0_half_group(nb)) {
    regrouped_group<4>(row + full * sizeof(Block), &g);
  } else {
    stored_group<K>(blocks + full, count, &g);
  }
  visit(full, count, g);
}

// The float terms of a group from its integer sums, in lane order (as block_terms8): Q4_0, Q5_0
// sumi · (d_w · d_x), with sumi = Σ w · x − 8 (16) Σ x for the weights taken unsigned (exact:
// small integers); Q8_0 sumi · (d_w · d_x); Q4_1, Q5_1 (d_w · d_x) · sumi + m_w · s_x.
template <W K>
INFERA_AVX2_INLINE __m256 group_terms(const WeightGroup& w, __m256 x_d, __m256 x_s, __m256i sums) {
  const __m256 dd = mul_rounded8(w.d, x_d);
  if constexpr (K == W::kQ4_0 || K == W::kQ5_0) {
    const float offset = K == W::kQ4_0 ? 8.0f : 16.0f;
    const __m256 sumi = _mm256_fnmadd_ps(_mm256_set1_ps(offset), x_s, _mm256_cvtepi32_ps(sums));
    return mul_rounded8(sumi, dd);
  } else if constexpr (K == W::kQ8_0) {
    return mul_rounded8(_mm256_cvtepi32_ps(sums), dd);
  } else {
    return _mm256_add_ps(mul_rounded8(dd, _mm256_cvtepi32_ps(sums)), mul_rounded8(w.m, x_s));
  }
}

// acc + the terms of weight group g times x's blocks [i, i + count); lanes of blocks past count
// are left as they are (adding +0 could turn a -0 lane into +0).
template <W K>
INFERA_AVX2_INLINE __m256 add_group(__m256 acc, const WeightGroup& g, const PanelTokenRow& x,
                                    int64_t i, int count) {
  const int8_t* xq = reinterpret_cast<const int8_t*>(x.quants) + 32 * i;
  __m256i p[4];
  for (int k = 0; k < 4; ++k)
    p[k] = 2 * k < count ? pair_sums<K>(g.pair[k], xq + 64 * k) : _mm256_setzero_si256();
  const __m256 terms =
      group_terms<K>(g, _mm256_loadu_ps(x.d + i), _mm256_loadu_ps(x.s + i), group_sums(p));
  if (count == 8) return _mm256_add_ps(acc, terms);
  return _mm256_blendv_ps(acc, _mm256_add_ps(acc, terms), lanes_below(count));
}

template <W K>
INFERA_AVX2 void pair_weight_rows(const uint8_t* w, uint64_t w_row_bytes, int64_t n_rows,
                                  const PanelTokenRow& x, int64_t nb, WeightLayout layout,
                                  float* y) {
  using Block = typename Traits<K>::Block;
  const RowStreamPrefetch prefetch(w_row_bytes, 1, kDecodeRowLeadBytes);
  for (int64_t r = 0; r < n_rows; ++r) {
    const uint8_t* row = w + r * w_row_bytes;
    __m256 acc = _mm256_setzero_ps();
    for_each_group<K>(row, nb, layout,
                      [&](int64_t i, int count, const WeightGroup& g) INFERA_AVX2_LAMBDA {
                        prefetch(row, i * sizeof(Block), count * sizeof(Block));
                        acc = add_group<K>(acc, g, x, i, count);
                      });
    y[r] = lane_sum(acc);
  }
}

}  // namespace

void pair_activations_avx2(TensorType weight_type, const void* x_row, int64_t nb, uint8_t* dst) {
  const PanelTokenRow out = panel_token_row(dst, nb);
  auto* d = const_cast<float*>(out.d);
  auto* s = const_cast<float*>(out.s);
  auto* q = reinterpret_cast<int8_t*>(dst);
  const int64_t padded = panel_token_row_blocks(nb);
  // Past the last block: zero quants and scales, so that whole groups can be read.
  std::memset(q + 32 * nb, 0, static_cast<size_t>(32 * (padded - nb)));
  const bool with_sum = activation_type_for(weight_type) == TensorType::Q8_1;
  for (int64_t b = 0; b < padded; ++b) {
    const int64_t lane = pair_scale_index(b);
    if (b >= nb) {
      d[lane] = 0.0f;
      s[lane] = 0.0f;
      continue;
    }
    const int8_t* xq;
    if (with_sum) {
      const auto& x = static_cast<const block_q8_1*>(x_row)[b];
      xq = x.qs;
      d[lane] = fp16_to_fp32(x.d);
      s[lane] = fp16_to_fp32(x.s);
    } else {
      const auto& x = static_cast<const block_q8_0*>(x_row)[b];
      xq = x.qs;
      d[lane] = fp16_to_fp32(x.d);
      int sum = 0;
      for (int j = 0; j < QK8_0; ++j) sum += xq[j];
      s[lane] = static_cast<float>(sum);
    }
    std::memcpy(q + pair_quant_offset(b, 0), xq, 16);
    std::memcpy(q + pair_quant_offset(b, 4), xq + 16, 16);
  }
}

// Calls kernel(W constant) for the W of weight_type (one of int_dot_q8_type's).
template <typename Kernel>
void with_weight_kind(TensorType weight_type, const Kernel& kernel) {
  switch (weight_type) {
    case TensorType::Q4_0:
      return kernel(std::integral_constant<W, W::kQ4_0>{});
    case TensorType::Q4_1:
      return kernel(std::integral_constant<W, W::kQ4_1>{});
    case TensorType::Q5_0:
      return kernel(std::integral_constant<W, W::kQ5_0>{});
    case TensorType::Q5_1:
      return kernel(std::integral_constant<W, W::kQ5_1>{});
    default:
      return kernel(std::integral_constant<W, W::kQ8_0>{});
  }
}

void pair_weight_rows_avx2(TensorType weight_type, const void* w_rows, uint64_t w_row_bytes,
                           int64_t n_rows, const uint8_t* x_pair_row, int64_t nb, float* y,
                           WeightLayout layout) {
  const auto* w = static_cast<const uint8_t*>(w_rows);
  const PanelTokenRow x = panel_token_row(x_pair_row, nb);
  with_weight_kind(weight_type, [&](auto kind) {
    pair_weight_rows<decltype(kind)::value>(w, w_row_bytes, n_rows, x, nb, layout, y);
  });
}

}  // namespace infera::int_dot_detail

#endif  // x86
