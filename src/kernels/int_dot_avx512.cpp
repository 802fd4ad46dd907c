// AVX-512 kernels of int_dot.h (F, BW, VL and VNNI): the layout of int_dot_avx2.cpp, with the
// integer products done by VNNI dot instructions (vpdpbusd: u8 × s8, vpdpwssd: s16 × s16, both
// summing into int32 without saturation) and Q4_K/Q6_K taken 64 elements at a time in 512-bit
// registers. The float steps are the scalar reference's, one by one, each product rounded before
// any add. Compiled for the baseline target; only these functions use AVX-512, and int_dot.h calls
// them only where cpu_features.h says the CPU (and the OS) has it.
#include "kernels/int_dot.h"

#if defined(__x86_64__) || defined(__i386__)
#include <algorithm>
#include <cstddef>
#include <cstring>
#include <type_traits>

#include "kernels/avx512_intrinsics.h"
#include "kernels/row_stream_prefetch.h"
#include "quant/block_lanes.h"
#include "quant/float16.h"
#include "quant/q4_0_groups.h"

#define INFERA_AVX512 __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")))

namespace infera::int_dot_detail {
namespace {

#define INFERA_SIMD_TARGET INFERA_AVX512
#include "kernels/int_dot_x86_shared.inc"
#undef INFERA_SIMD_TARGET

#include "kernels/panel_avx512.inc"

// Σ w_j x_j over a block as 8 int32 partial sums, exact for every int8 x.
template <W K>
INFERA_AVX512 inline __m256i block_dot(__m256i w, __m256i x) {
  const __m256i zero = _mm256_setzero_si256();
  if constexpr (K == W::kQ4_1 || K == W::kQ5_1) {
    return _mm256_dpbusd_epi32(zero, w, x);  // weights 0..31 are already unsigned
  } else if constexpr (K == W::kQ8_0) {
    // |w| as unsigned (-128 reads as 128) times x with w's sign: exact because activations are
    // never -128 (quantize_q8_block rounds x · 127 / amax, so |q| <= 127).
    return _mm256_dpbusd_epi32(zero, _mm256_abs_epi8(w), _mm256_sign_epi8(x, w));
  } else {
    // Signed weights -16..15: |x| as unsigned (-128 reads as 128) times w with x's sign.
    return _mm256_dpbusd_epi32(zero, _mm256_sign_epi8(x, x), _mm256_sign_epi8(w, x));
  }
}

#define INFERA_SIMD_TARGET INFERA_AVX512
#include "kernels/int_dot_x86_q8_rows.inc"
#undef INFERA_SIMD_TARGET

// ---- Q4_0 … Q8_0 weights × one activation row (decode) ----------------------------------------
//
// Decode reads every weight once per token, so this kernel should run at memory bandwidth; the
// 256-bit q8_tile above was compute-bound even from L2. Here up to 4 weight rows share each
// activation load, 512-bit registers hold 2 (Q8_0) or 4 (nibble types: 16 elements each, one
// register for the low and one for the high nibbles) blocks, and the weights' quants are taken as
// unsigned bytes
//   u = q + c,  c = 8 (Q4_0), 16 (Q5_0), 128 (Q8_0: q XOR 0x80), 0 (Q4_1, Q5_1),
// so that Σ q x = Σ u x - c Σ x is plain vpdpbusd, started from -c Σ x (per int32 lane, computed
// once per group of activation blocks for all the rows). Integer sums are exact in any order;
// the float steps are those of block_terms8, lane for lane.

template <W K>
constexpr int kQuantOffset = K == W::kQ4_0   ? 8
                             : K == W::kQ5_0 ? 16
                             : K == W::kQ8_0 ? 128
                                             : 0;

// The unsigned quants u = q XOR 0x80 of Q8_0 blocks b[0] and b[1] (b[1] only when `second`; else
// the upper half is left unspecified: its activations are zero).
INFERA_AVX512 inline __m512i q8_0_pair_u8(const block_q8_0* b, bool second) {
  __m512i v = _mm512_castsi256_si512(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[0].qs)));
  if (second)
    v = _mm512_inserti64x4(v, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[1].qs)), 1);
  return _mm512_xor_si512(v, _mm512_set1_epi8(static_cast<char>(0x80)));
}

// The quants of activation blocks x[0] and x[1] (zero for x[1] unless `second`).
template <typename Act>
INFERA_AVX512 inline __m512i act_pair(const Act* x, bool second) {
  const __m512i lo =
      _mm512_zextsi256_si512(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[0].qs)));
  if (!second) return lo;
  return _mm512_inserti64x4(lo, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[1].qs)), 1);
}

// Four vectors of int32 partial sums, p[j] holding blocks 2j, 2j + 1 of a group of 8 (8 lanes
// each) → two, lane i (128 bits) of the first holding 4 partial sums of block i, of the second
// of block 4 + i.
INFERA_AVX512 inline void fold_group(const __m512i* p, __m512i* lo, __m512i* hi) {
  *lo = _mm512_add_epi32(_mm512_shuffle_i64x2(p[0], p[1], 0x88),
                         _mm512_shuffle_i64x2(p[0], p[1], 0xdd));
  *hi = _mm512_add_epi32(_mm512_shuffle_i64x2(p[2], p[3], 0x88),
                         _mm512_shuffle_i64x2(p[2], p[3], 0xdd));
}

// Block sums of two rows a, b from their fold_group halves: int32 4i + 0: a's block i, 4i + 1:
// a's block 4 + i, 4i + 2: b's block i, 4i + 3: b's block 4 + i (the "pair layout").
INFERA_AVX512 inline __m512i pair_sums(__m512i a_lo, __m512i a_hi, __m512i b_lo, __m512i b_hi) {
  const __m512i u =
      _mm512_add_epi32(_mm512_unpacklo_epi32(a_lo, a_hi), _mm512_unpackhi_epi32(a_lo, a_hi));
  const __m512i v =
      _mm512_add_epi32(_mm512_unpacklo_epi32(b_lo, b_hi), _mm512_unpackhi_epi32(b_lo, b_hi));
  return _mm512_add_epi32(_mm512_unpacklo_epi64(u, v), _mm512_unpackhi_epi64(u, v));
}

// The block (0..7 in its group) and row (0, 1) of each int32 of the pair layout.
INFERA_AVX512 inline __m512i pair_layout_block() {
  return _mm512_setr_epi32(0, 4, 0, 4, 1, 5, 1, 5, 2, 6, 2, 6, 3, 7, 3, 7);
}
INFERA_AVX512 inline __m512i pair_layout_row() {
  return _mm512_setr_epi32(0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1, 1);
}

// The first two halves (d, and m or s) of the blocks at base + offsets (those in `keep`), as
// floats in the pair layout; one gather.
struct Halves16 {
  __m512 first, second;
};
template <bool kSecond>
INFERA_AVX512 inline Halves16 gather_halves16(const void* base, __m512i offsets, __mmask16 keep) {
  const __m512i g = _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), keep, offsets, base, 1);
  Halves16 h;
  h.first = _mm512_cvtph_ps(_mm512_cvtepi32_epi16(g));
  if constexpr (kSecond)
    h.second = _mm512_cvtph_ps(_mm512_cvtepi32_epi16(_mm512_srli_epi32(g, 16)));
  return h;
}

// Bytes [off, off + 64) of p, those from `valid` on read as zero (and not read).
INFERA_AVX512 inline __m512i load_upto(const uint8_t* p, int off, int valid) {
  if (valid >= off + 64) return _mm512_loadu_si512(p + off);
  if (valid <= off) return _mm512_setzero_si512();
  return _mm512_maskz_loadu_epi8((uint64_t{1} << (valid - off)) - 1, p + off);
}

// vpermt2w indices that take the 16 quant bytes of blocks 4h .. 4h + 3 of a group of 8 (nibble
// types) into int16 8b .. 8b + 7, b = 0..3, from two 64-byte loads of the group: h = 0 from
// bytes [0, 64) and [64, 128); h = 1 from [4S, 4S + 64) and [8S - 64, 8S), S the block size
// (4S <= 96, so every quant byte lies in one of the two).
struct QuantWords {
  alignas(64) int16_t idx[2][32];
};
template <typename Block>
constexpr QuantWords quant_words() {
  constexpr int kS = sizeof(Block);
  constexpr int kQs = offsetof(Block, qs);
  QuantWords q{};
  for (int w = 0; w < 32; ++w) {
    const int b = w / 8, k = w % 8;
    q.idx[0][w] = static_cast<int16_t>((b * kS + kQs) / 2 + k);
    const int rel = (4 + b) * kS + kQs + 2 * k;
    q.idx[1][w] = static_cast<int16_t>(rel < 4 * kS + 64 ? (rel - 4 * kS) / 2
                                                         : 32 + (rel - (8 * kS - 64)) / 2);
  }
  return q;
}
template <typename Block>
constexpr QuantWords kQuantWords = quant_words<Block>();

// The fifth bits of blocks b[0..3] (those below `count`) of the elements 16h .. 16h + 15 of each
// block: bit 16b + e of the mask for element 16h + e of block b.
template <typename Block>
INFERA_AVX512 inline __mmask64 fifth_bit_mask(const Block* b, int count, int h) {
  uint64_t m = 0;
  for (int k = 0; k < 4; ++k) {
    if (k >= count) break;
    uint16_t half;
    std::memcpy(&half, b[k].qh + 2 * h, sizeof half);
    m |= static_cast<uint64_t>(half) << (16 * k);
  }
  return _cvtu64_mask64(m);
}

// The integer block sums of kRows weight rows times one activation row x, blocks [i, i + count)
// of each (count 8 but in the last group, the missing blocks summing to 0), as fold_group leaves
// them: lane l (128 bits) of lo[r] holds 4 partial sums of row r's block i + l, of hi[r] of its
// block i + 4 + l. kGrouped: Q4_0 rows regrouped (q4_0_groups.h), whose groups hold the quants
// of blocks 4h … 4h + 3 as 64 bytes at 64h, already in the lanes the sums want (a last group of
// 4 blocks is a half group).
template <W K, int kRows, bool kGrouped>
INFERA_AVX512 inline void group_sums(const typename Traits<K>::Block* const* rows,
                                     const typename Traits<K>::Act* x, int64_t i, int count,
                                     __m512i* lo, __m512i* hi) {
  using Block = typename Traits<K>::Block;
  constexpr int kC = kQuantOffset<K>;
  const __m512i c = _mm512_set1_epi8(static_cast<char>(kC));
  __m512i xq[4];
  for (int j = 0; j < 4; ++j)
    xq[j] = 2 * j < count ? act_pair(x + i + 2 * j, 2 * j + 1 < count) : _mm512_setzero_si512();
  if constexpr (K == W::kQ8_0) {
    // Two blocks per register, each in element order, as the activations come.
    __m512i p[kRows][4];
    for (int j = 0; j < 4; ++j) {
      __m512i start = _mm512_setzero_si512();
      start = _mm512_sub_epi32(start, _mm512_dpbusd_epi32(_mm512_setzero_si512(), c, xq[j]));
      for (int r = 0; r < kRows; ++r) {
        p[r][j] = 2 * j < count
                      ? _mm512_dpbusd_epi32(
                            start, q8_0_pair_u8(rows[r] + i + 2 * j, 2 * j + 1 < count), xq[j])
                      : _mm512_setzero_si512();
      }
    }
    for (int r = 0; r < kRows; ++r) fold_group(p[r], &lo[r], &hi[r]);
  } else {
    // Four blocks per register, 16 elements each (128-bit lane b: block 4h + b): one register
    // of the blocks' low nibbles (elements 0..15), one of their high nibbles (16..31), and the
    // activations rearranged to match. Both products go into one set of sums, which is then
    // already what fold_group makes of two-block registers.
    __m512i x_half[2][2], start[2];
    for (int h = 0; h < 2; ++h) {
      x_half[h][0] = _mm512_shuffle_i64x2(xq[2 * h], xq[2 * h + 1], 0x88);
      x_half[h][1] = _mm512_shuffle_i64x2(xq[2 * h], xq[2 * h + 1], 0xdd);
      start[h] = _mm512_setzero_si512();
      if constexpr (kC != 0) {
        start[h] = _mm512_sub_epi32(
            start[h],
            _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(_mm512_setzero_si512(), c, x_half[h][0]), c,
                                x_half[h][1]));
      }
    }
    constexpr int kS = sizeof(Block);
    const __m512i low4 = _mm512_set1_epi8(0x0f);
    const QuantWords& qw = kQuantWords<Block>;
    const int valid = count * kS;
    for (int r = 0; r < kRows; ++r) {
      for (int h = 0; h < 2; ++h) {
        const auto* g = reinterpret_cast<const uint8_t*>(rows[r] + i);
        const int off0 = 4 * kS * h, off1 = h == 0 ? 64 : 8 * kS - 64;
        const __m512i q =
            kGrouped && (count == 8 || (count == 4 && h == 0))
                ? _mm512_loadu_si512(g + 64 * h)
                : _mm512_permutex2var_epi16(
                      count == 8 ? _mm512_loadu_si512(g + off0) : load_upto(g, off0, valid),
                      _mm512_load_si512(qw.idx[h]),
                      count == 8 ? _mm512_loadu_si512(g + off1) : load_upto(g, off1, valid));
        __m512i u0 = _mm512_and_si512(q, low4);
        __m512i u1 = _mm512_and_si512(_mm512_srli_epi16(q, 4), low4);
        if constexpr (K == W::kQ5_0 || K == W::kQ5_1) {
          const __m512i sixteen = _mm512_set1_epi8(16);
          const Block* b = rows[r] + i + 4 * h;
          const int n = count - 4 * h;
          u0 = _mm512_mask_add_epi8(u0, fifth_bit_mask(b, n, 0), u0, sixteen);
          u1 = _mm512_mask_add_epi8(u1, fifth_bit_mask(b, n, 1), u1, sixteen);
        }
        __m512i sums = _mm512_dpbusd_epi32(start[h], u0, x_half[h][0]);
        sums = _mm512_dpbusd_epi32(sums, u1, x_half[h][1]);
        (h == 0 ? lo : hi)[r] = sums;
      }
    }
  }
}

// The activation row's block scales as floats (d, and s for Q8_1), when the caller has them: one
// load each per group instead of a gather from the blocks (measured +6.5 % in L2).
struct ActScales {
  const float* d = nullptr;
  const float* s = nullptr;
};

// vpermw indices that take the scales of a whole regrouped Q4_0 group of rows a (int16 0 … 7) and
// b (8 … 15) into the pair layout: int16 L takes row · 8 + block of pair_layout_row/block.
INFERA_AVX512 inline __m256i grouped_pair_layout() {
  return _mm256_setr_epi16(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
}

// The scales d of the regrouped Q4_0 groups of kBlocks (8, or 4 for a half group) at a and b
// (the same group of two rows, or of one row twice), as floats in the pair layout; zero for
// blocks past kBlocks.
template <int kBlocks>
INFERA_AVX512 inline __m512 grouped_scales(const void* a, const void* b) {
  constexpr int kScales = kBlocks * QK4_0 / 2;
  const auto* pa = static_cast<const uint8_t*>(a) + kScales;
  const auto* pb = static_cast<const uint8_t*>(b) + kScales;
  auto load = [](const uint8_t* p) INFERA_AVX512 {
    return kBlocks == 8 ? _mm_loadu_si128(reinterpret_cast<const __m128i*>(p))
                        : _mm_loadl_epi64(reinterpret_cast<const __m128i*>(p));
  };
  const __m256i ab = _mm256_inserti128_si256(_mm256_castsi128_si256(load(pa)), load(pb), 1);
  return _mm512_cvtph_ps(_mm256_permutexvar_epi16(grouped_pair_layout(), ab));
}

// kRows (1, 2 or 4) weight rows from `rows` times one activation row x, blocks [i, i + count) of
// them (count 8 but in the last group), into the pair-layout lane sums acc (one vector per two
// rows).
template <W K, int kRows, bool kGrouped>
INFERA_AVX512 inline void one_token_group(const typename Traits<K>::Block* const* rows,
                                          const typename Traits<K>::Act* x, ActScales x_scales,
                                          int64_t i, int count, __m512i x_offsets,
                                          __m512i w_offsets, const RowStreamPrefetch& prefetch,
                                          __m512* acc) {
  using Block = typename Traits<K>::Block;
  constexpr bool kWithSum = !std::is_same_v<typename Traits<K>::Act, block_q8_0>;
  for (int r = 0; r < kRows; ++r) prefetch(rows[r], i * sizeof(Block), count * sizeof(Block));
  __m512i lo[kRows], hi[kRows];
  group_sums<K, kRows, kGrouped>(rows, x, i, count, lo, hi);
  const __mmask16 keep =
      count == 8 ? static_cast<__mmask16>(0xffff)
                 : _mm512_cmplt_epi32_mask(pair_layout_block(), _mm512_set1_epi32(count));
  Halves16 xs;
  if (x_scales.d != nullptr) {
    // Lane L of the pair layout takes block pair_layout_block()[L] of the group.
    const __mmask8 blocks = static_cast<__mmask8>((1u << count) - 1);
    const __m512i block = pair_layout_block();
    xs.first = _mm512_permutexvar_ps(
        block, _mm512_castps256_ps512(_mm256_maskz_loadu_ps(blocks, x_scales.d + i)));
    if constexpr (kWithSum)
      xs.second = _mm512_permutexvar_ps(
          block, _mm512_castps256_ps512(_mm256_maskz_loadu_ps(blocks, x_scales.s + i)));
  } else {
    xs = gather_halves16<kWithSum>(x + i, x_offsets, keep);
  }
  for (int q = 0; q < (kRows + 1) / 2; ++q) {
    // One row alone fills both halves of the pair layout.
    const int b = 2 * q + 1 < kRows ? 2 * q + 1 : 2 * q;
    const __m512 sumi = _mm512_cvtepi32_ps(pair_sums(lo[2 * q], hi[2 * q], lo[b], hi[b]));
    Halves16 ws;
    if (kGrouped && count == 8) {
      ws.first = grouped_scales<8>(rows[2 * q] + i, rows[b] + i);
    } else if (kGrouped && count == 4) {
      ws.first = grouped_scales<4>(rows[2 * q] + i, rows[b] + i);
    } else {
      ws = gather_halves16<kWithSum>(rows[2 * q] + i, w_offsets, keep);
    }
    // As block_terms8: Q8_0 activations sumi * (d_w * d_x); Q8_1 (d_w * d_x) * sumi + m_w * s_x.
    const __m512 dd = mul_rounded16(ws.first, xs.first);
    __m512 terms;
    if constexpr (kWithSum) {
      terms = _mm512_add_ps(mul_rounded16(dd, sumi), mul_rounded16(ws.second, xs.second));
    } else {
      terms = mul_rounded16(sumi, dd);
    }
    // Lanes of missing blocks are left as they are (adding +0 could turn a -0 lane into +0).
    acc[q] = _mm512_mask_add_ps(acc[q], keep, acc[q], terms);
  }
}

// kRows (1, 2 or 4) weight rows, w_row_bytes apart, times one activation row: y[r] for row r.
// Block i's term goes to lane i % 8 of its row and the lanes add up as in q8_tile.
template <W K, int kRows, bool kGrouped>
INFERA_AVX512 void q8_one_token(const uint8_t* w, uint64_t w_row_bytes, const uint8_t* x_row,
                                ActScales x_scales, int64_t nb, float* y) {
  using Block = typename Traits<K>::Block;
  using Act = typename Traits<K>::Act;
  const auto* x = reinterpret_cast<const Act*>(x_row);
  const Block* rows[kRows];
  for (int r = 0; r < kRows; ++r) rows[r] = reinterpret_cast<const Block*>(w + r * w_row_bytes);
  const __m512i block = pair_layout_block();
  const __m512i x_offsets = _mm512_mullo_epi32(block, _mm512_set1_epi32(sizeof(Act)));
  // A row alone stands for both rows of the pair layout.
  const __m512i w_offsets = _mm512_add_epi32(
      _mm512_mullo_epi32(block, _mm512_set1_epi32(sizeof(Block))),
      _mm512_mullo_epi32(pair_layout_row(),
                         _mm512_set1_epi32(kRows > 1 ? static_cast<int>(w_row_bytes) : 0)));
  __m512 acc[(kRows + 1) / 2];
  for (auto& a : acc) a = _mm512_setzero_ps();
  const RowStreamPrefetch prefetch(w_row_bytes, kRows, kDecodeRowLeadBytes);
  const int64_t full = nb / 8 * 8;
  for (int64_t i = 0; i < full; i += 8)
    one_token_group<K, kRows, kGrouped>(rows, x, x_scales, i, 8, x_offsets, w_offsets, prefetch,
                                        acc);
  if (nb > full)
    one_token_group<K, kRows, kGrouped>(rows, x, x_scales, full, static_cast<int>(nb - full),
                                        x_offsets, w_offsets, prefetch, acc);
  for (int r = 0; r < kRows; ++r) {
    alignas(64) float lane16[16];
    _mm512_store_ps(lane16, acc[r / 2]);
    // Lane l of row r sits at 4l + 2 (r % 2) for l < 4, at 4 (l - 4) + 1 + 2 (r % 2) for l >= 4.
    const float* l = lane16 + 2 * (r % 2);
    y[r] = ((l[0] + l[1]) + (l[4] + l[5])) + ((l[8] + l[9]) + (l[12] + l[13]));
  }
}

// Runs pass(std::integral_constant<int, R>{}, r) over rows [0, n_rows): passes of R = 4 rows, then
// at most one of 2 and one of 1 (the decode kernels take 1, 2 or 4 rows at a time).
template <typename Pass>
inline void in_row_passes(int64_t n_rows, const Pass& pass) {
  int64_t r = 0;
  for (; r + 4 <= n_rows; r += 4) pass(std::integral_constant<int, 4>{}, r);
  if (r + 2 <= n_rows) {
    pass(std::integral_constant<int, 2>{}, r);
    r += 2;
  }
  if (r < n_rows) pass(std::integral_constant<int, 1>{}, r);
}

// n_rows weight rows times one activation row.
template <W K, bool kGrouped = false>
INFERA_AVX512 void q8_weight_rows(const void* w_rows, uint64_t w_row_bytes, int64_t n_rows,
                                  const uint8_t* x, ActScales x_scales, int64_t nb, float* y) {
  static_assert(!kGrouped || K == W::kQ4_0);
  const auto* w = static_cast<const uint8_t*>(w_rows);
  in_row_passes(n_rows, [&](auto rows, int64_t r) {
    q8_one_token<K, decltype(rows)::value, kGrouped>(w + r * w_row_bytes, w_row_bytes, x, x_scales,
                                                     nb, y + r);
  });
}

// ---- K-quants × Q8_K --------------------------------------------------------------------------

// acc + the int16 pair sums p times the int16 scales sc, pairwise into int32, in one vpdpwssd.
INFERA_AVX512 inline __m256i k_madd_scaled(__m256i acc, __m256i p, __m256i sc) {
  return _mm256_dpwssd_epi32(acc, p, sc);
}

#define INFERA_SIMD_TARGET INFERA_AVX512
#include "kernels/int_dot_x86_k.inc"
#undef INFERA_SIMD_TARGET

// Q4_K and Q6_K two chunks (64 elements) per 512-bit register. Int32 element k of a product
// holds lane k % 8 of chunk 2p + k / 8; the two halves add up into the 8 lanes at the end of the
// block (exact integers, any order).
INFERA_AVX512 inline __m256i k_fold(__m512i acc) {
  return _mm256_add_epi32(_mm512_castsi512_si256(acc), _mm512_extracti64x4_epi64(acc, 1));
}

// vpermw indices: int16 k takes int16 first + k / group of the source.
struct Spread16 {
  alignas(64) int16_t idx[32];
};
constexpr Spread16 spread16(int first, int group) {
  Spread16 s{};
  for (int k = 0; k < 32; ++k) s.idx[k] = static_cast<int16_t>(first + k / group);
  return s;
}
// Q4_K: scales 2j, 2j + 1 (16 int16 each); Q6_K: scales 4j .. 4j + 3 (8 int16 each).
constexpr Spread16 kQ4Spread[4] = {spread16(0, 16), spread16(2, 16), spread16(4, 16),
                                   spread16(6, 16)};
constexpr Spread16 kQ6Spread[4] = {spread16(0, 8), spread16(4, 8), spread16(8, 8), spread16(12, 8)};
// Q6_K, vectors 2m and 2m + 1 packed (k_q6_block): int16 j of 128-bit lane l holds the sums of
// the 16 elements of scale 8m + l + 4 (j / 4).
constexpr Spread16 q6_pack_spread(int m) {
  Spread16 s{};
  for (int k = 0; k < 32; ++k) s.idx[k] = static_cast<int16_t>(8 * m + k / 8 + 4 * ((k % 8) / 4));
  return s;
}
constexpr Spread16 kQ6PackSpread[2] = {q6_pack_spread(0), q6_pack_spread(1)};

INFERA_AVX512 inline __m512i k_spread16(__m512i v, const Spread16& s) {
  return _mm512_permutexvar_epi16(_mm512_load_si512(s.idx), v);
}

// Chunk pair p: elements 64p .. 64p + 63 (0..15 as bytes), scale 2p in int16 0..15 and 2p + 1 in
// 16..31; mins16 as in Q4KBlock.
struct Q4KBlock512 {
  __m512i q[4], sc[4];
  __m256i mins16;
  float d, dmin;
};

INFERA_AVX512 inline void decode_q4_k_512(const unsigned char* p, Q4KBlock512* b) {
  b->d = k_half(p + offsetof(block_q4_K, d));
  b->dmin = k_half(p + offsetof(block_q4_K, dmin));
  uint64_t scales, mins;
  k4_scales_mins(p + offsetof(block_q4_K, scales), &scales, &mins);
  const __m128i sc8 = _mm_cvtepu8_epi16(_mm_cvtsi64_si128(static_cast<int64_t>(scales)));
  const __m128i m8 = _mm_cvtepu8_epi16(_mm_cvtsi64_si128(static_cast<int64_t>(mins)));
  b->mins16 = _mm256_setr_m128i(_mm_unpacklo_epi16(m8, m8), _mm_unpackhi_epi16(m8, m8));
  const __m512i low4 = _mm512_set1_epi8(0x0f);
  const unsigned char* qs = p + offsetof(block_q4_K, qs);
  for (int j = 0; j < 4; ++j) {  // element 64j + 32k + r: nibble k of qs[32j + r]
    const __m256i raw = k_load32(qs + 32 * j);
    const __m512i both =
        _mm512_inserti64x4(_mm512_castsi256_si512(raw), _mm256_srli_epi16(raw, 4), 1);
    b->q[j] = _mm512_and_si512(both, low4);
    b->sc[j] = k_spread16(_mm512_castsi128_si512(sc8), kQ4Spread[j]);
  }
}

INFERA_AVX512 inline void q4_k_row_512(const Q4KBlock512& b, const block_q8_K& x, int64_t i,
                                       KRowSums* r) {
  __m512i acc = _mm512_setzero_si512();
  for (int j = 0; j < 4; ++j) {
    const __m512i xj = _mm512_loadu_si512(x.qs + 64 * j);
    acc = _mm512_dpwssd_epi32(acc, _mm512_maddubs_epi16(b.q[j], xj), b.sc[j]);
  }
  const int32_t summs = hsum8(_mm256_madd_epi16(k_load32(x.bsums), b.mins16));
  r->lane[block_lane(i)] += k_term_with_min(b.d * x.d, hsum8(k_fold(acc)), b.dmin * x.d, summs);
}

// Chunk pair p: elements 64p .. 64p + 63 as 0..63 (32 not yet taken off), the scales of
// sub-blocks 4p .. 4p + 3 in int16 0..7, 8..15, 16..23, 24..31.
struct Q6KBlock512 {
  __m512i q[4], sc[4];
  float d;
};

INFERA_AVX512 inline void decode_q6_k_512(const unsigned char* p, Q6KBlock512* b) {
  b->d = k_half(p + offsetof(block_q6_K, d));
  const __m512i low4 = _mm512_set1_epi8(0x0f);
  const __m512i bits45 = _mm512_set1_epi8(0x30);
  const unsigned char* ql = p + offsetof(block_q6_K, ql);
  const unsigned char* qhp = p + offsetof(block_q6_K, qh);
  for (int h = 0; h < 2; ++h) {
    // Element 128h + 32c + r: nibble c / 2 of ql[64h + 32 (c % 2) + r], bits 2c, 2c + 1 of
    // qh[32h + r]: chunks 4h, 4h + 1 take the low nibbles of ql[64h ..] and bits 0..1, 2..3 of qh;
    // chunks 4h + 2, 4h + 3 the high nibbles and bits 4..5, 6..7. The 16-bit shifts bring those
    // two bits to bits 4..5 of their own byte.
    const __m512i qlz = _mm512_loadu_si512(ql + 64 * h);
    const __m256i qh = k_load32(qhp + 32 * h);
    const __m512i qhz = _mm512_inserti64x4(_mm512_castsi256_si512(qh), _mm256_srli_epi16(qh, 2), 1);
    b->q[2 * h] = _mm512_or_si512(_mm512_and_si512(qlz, low4),
                                  _mm512_and_si512(_mm512_slli_epi16(qhz, 4), bits45));
    b->q[2 * h + 1] = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(qlz, 4), low4),
                                      _mm512_and_si512(qhz, bits45));
  }
  const __m512i sc16 = _mm512_castsi256_si512(_mm256_cvtepi8_epi16(
      _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + offsetof(block_q6_K, scales)))));
  for (int j = 0; j < 4; ++j) b->sc[j] = k_spread16(sc16, kQ6Spread[j]);
}

INFERA_AVX512 inline void q6_k_row_512(const Q6KBlock512& b, const block_q8_K& x, int64_t i,
                                       KRowSums* r) {
  const __m512i thirty_two = _mm512_set1_epi8(32);
  __m512i acc = _mm512_setzero_si512();
  for (int j = 0; j < 4; ++j) {
    const __m512i xj = _mm512_loadu_si512(x.qs + 64 * j);
    // Σ (q - 32) x per pair, from the unsigned q: exact, |result| <= 2 * 32 * 128 fits int16.
    const __m512i p16 =
        _mm512_sub_epi16(_mm512_maddubs_epi16(b.q[j], xj), _mm512_maddubs_epi16(thirty_two, xj));
    acc = _mm512_dpwssd_epi32(acc, p16, b.sc[j]);
  }
  r->lane[block_lane(i)] += k_term(b.d * x.d, hsum8(k_fold(acc)));
}

// ---- Q4_K and Q6_K weights × one activation row (decode) ---------------------------------------
//
// The row kernels above finish every block with a horizontal sum and scalar float steps, and
// decode each block's scales in full; from L2 they ran at ~10 (Q4_K) and ~15 (Q6_K) GB/s on one
// core, too slow for the memory. Here up to 4 weight rows share each activation block, every
// block leaves 8 int32 partial sums of its isum (and of its summs, Q4_K) in a small buffer, and
// the reference's float steps run once per group of 8 blocks and row, block b of the group in
// lane b of a vector: its lane of block_lanes.h, as the groups start at multiples of 8.

constexpr int kKGroup = 8;

// vpshufb controls that widen one byte of each 128-bit lane into int16s of the lane (odd bytes
// zeroed), picking a Q4_K block's scales (bytes 0 … 7 of k4_scales_mins_x4's lanes) or mins
// (bytes 8 … 15).
struct BytePick {
  alignas(64) uint8_t idx[64];
};
// For a 256-bit half: mins 0 … 3 / 4 … 7 each twice, to pair with the 16 bsums.
constexpr BytePick q4_min_pick() {
  BytePick p{};
  for (int i = 0; i < 64; ++i) {
    const int half = (i / 16) % 2, t = (i % 16) / 2;  // int16 t of 128-bit lane `half`
    p.idx[i] = i % 2 == 1 ? 0x80 : static_cast<uint8_t>(8 + 4 * half + t / 2);
  }
  return p;
}
constexpr BytePick kQ4MinPick = q4_min_pick();
// Q4_K, half h packed (k_q4_block): int16 j of 128-bit lane l holds the sums of sub-block
// 4h + 2 (l / 2) + j / 4 (vpackssdw takes 4 int32 of each source per lane).
constexpr BytePick q4_pack_pick(int h) {
  BytePick p{};
  for (int i = 0; i < 64; ++i) {
    const int lane = i / 16, j = (i % 16) / 2;
    p.idx[i] = i % 2 == 1 ? 0x80 : static_cast<uint8_t>(4 * h + 2 * (lane / 2) + j / 4);
  }
  return p;
}
constexpr BytePick kQ4PackPick[2] = {q4_pack_pick(0), q4_pack_pick(1)};

// One activation block as the weight blocks of a group take it.
struct KActBlock {
  __m512i q[4];  // Q4_K: elements {0 … 31, 64 … 95}, {32 … 63, 96 … 127}, then +128; Q6_K: 64j …
  __m256i bsums;  // the 16 sums of 16 elements
};

template <typename Block>
INFERA_AVX512 inline KActBlock k_act_block(const block_q8_K& x) {
  KActBlock a;
  __m512i v[4];
  for (int j = 0; j < 4; ++j) v[j] = _mm512_loadu_si512(x.qs + 64 * j);
  if constexpr (std::is_same_v<Block, block_q4_K>) {
    // qs[32j + i] holds element 64j + i in its low nibble and 64j + 32 + i in its high one, so one
    // 64-byte load of the quants covers chunks {0, 2} (low nibbles) and {1, 3} (high) of a half.
    for (int h = 0; h < 2; ++h) {
      a.q[2 * h] = _mm512_shuffle_i64x2(v[2 * h], v[2 * h + 1], 0x44);
      a.q[2 * h + 1] = _mm512_shuffle_i64x2(v[2 * h], v[2 * h + 1], 0xee);
    }
  } else {
    for (int j = 0; j < 4; ++j) a.q[j] = v[j];
  }
  a.bsums = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x.bsums));
  return a;
}

// Where one block of a row leaves its integers: 8 partial sums of isum, of summs (Q4_K), and the
// block's d (low half) and dmin (high half) as stored.
struct KBlockOut {
  int32_t* isum;
  int32_t* summs;
  uint32_t* d;
};

// The scales and mins of up to four Q4_K blocks at once (get_scale_min_k4 in byte lanes): block r's
// in 128-bit lane r, bytes 0 … 7 its eight 6-bit scales and 8 … 15 its mins. Scalar, one block at a
// time, this decoding took a fifth of the decode kernel's time.
template <int kRows>
INFERA_AVX512 inline __m512i k4_scales_mins_x4(const unsigned char* const* blocks) {
  static_assert(kRows >= 1 && kRows <= 4);
  const auto packed = [&](int r) {  // 16 bytes from the 12 of scales: the 4 after are quants
    return _mm_loadu_si128(
        reinterpret_cast<const __m128i*>(blocks[r] + offsetof(block_q4_K, scales)));
  };
  __m512i u = _mm512_castsi128_si512(packed(0));
  if constexpr (kRows > 1) u = _mm512_inserti32x4(u, packed(1), 1);
  if constexpr (kRows > 2) u = _mm512_inserti32x4(u, packed(2), 2);
  if constexpr (kRows > 3) u = _mm512_inserti32x4(u, packed(3), 3);
  // Scales 0 … 3 and mins 0 … 3: the low 6 bits of bytes 0 … 3 and 4 … 7; scales 4 … 7 and mins
  // 4 … 7: the low and high nibbles of bytes 8 … 11, with the top 2 bits of bytes 0 … 3 / 4 … 7
  // as bits 4 … 5.
  const __m512i low = _mm512_shuffle_epi8(
      u, _mm512_broadcast_i32x4(_mm_setr_epi8(0, 1, 2, 3, 8, 9, 10, 11, 4, 5, 6, 7, 8, 9, 10, 11)));
  const __m512i top =
      _mm512_shuffle_epi8(u, _mm512_broadcast_i32x4(_mm_setr_epi8(-1, -1, -1, -1, 0, 1, 2, 3, -1,
                                                                  -1, -1, -1, 4, 5, 6, 7)));
  const __m512i mask = _mm512_broadcast_i32x4(_mm_setr_epi8(
      0x3f, 0x3f, 0x3f, 0x3f, 0x0f, 0x0f, 0x0f, 0x0f, 0x3f, 0x3f, 0x3f, 0x3f, 0, 0, 0, 0));
  __m512i v = _mm512_and_si512(low, mask);
  v = _mm512_mask_and_epi32(v, 0x8888, _mm512_srli_epi16(low, 4), _mm512_set1_epi8(0x0f));
  // v | ((top >> 2) & 0x30): the 16-bit shift brings bits 6 … 7 of each byte to 4 … 5.
  return _mm512_ternarylogic_epi32(v, _mm512_srli_epi16(top, 2), _mm512_set1_epi8(0x30), 0xf8);
}

// 128-bit lane r (0 … 3) of v in all four (vshufi32x4 takes its lanes as an immediate: the cases
// keep it one where r is not a constant, as in unoptimised builds).
INFERA_AVX512 inline __m512i lane_in_all(__m512i v, int r) {
  switch (r) {
    case 0:
      return _mm512_shuffle_i32x4(v, v, 0x00);
    case 1:
      return _mm512_shuffle_i32x4(v, v, 0x55);
    case 2:
      return _mm512_shuffle_i32x4(v, v, 0xaa);
    default:
      return _mm512_shuffle_i32x4(v, v, 0xff);
  }
}

// sm: the block's scales (bytes 0 … 7) and mins (8 … 15) in every 128-bit lane.
INFERA_AVX512 inline void k_q4_block(const unsigned char* p, __m512i sm, const KActBlock& a,
                                     KBlockOut out) {
  const __m512i low4 = _mm512_set1_epi8(0x0f);
  const unsigned char* qs = p + offsetof(block_q4_K, qs);
  // Per half: vpdpbusd sums 4 products per int32 (|sum| <= 4 · 15 · 128, exact in int16), the
  // two vectors' sums packed to int16, then one vpdpwssd against their sub-blocks' scales.
  __m512i acc = _mm512_setzero_si512();
  for (int h = 0; h < 2; ++h) {
    const __m512i raw = _mm512_loadu_si512(qs + 64 * h);
    const __m512i lo =
        _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_and_si512(raw, low4), a.q[2 * h]);
    const __m512i hi = _mm512_dpbusd_epi32(
        _mm512_setzero_si512(), _mm512_and_si512(_mm512_srli_epi16(raw, 4), low4), a.q[2 * h + 1]);
    const __m512i sc = _mm512_shuffle_epi8(sm, _mm512_load_si512(kQ4PackPick[h].idx));
    acc = _mm512_dpwssd_epi32(acc, _mm512_packs_epi32(lo, hi), sc);
  }
  _mm256_store_si256(reinterpret_cast<__m256i*>(out.isum), k_fold(acc));
  const __m256i mins16 =
      _mm256_shuffle_epi8(_mm512_castsi512_si256(sm),
                          _mm256_load_si256(reinterpret_cast<const __m256i*>(kQ4MinPick.idx)));
  _mm256_store_si256(reinterpret_cast<__m256i*>(out.summs), _mm256_madd_epi16(a.bsums, mins16));
  std::memcpy(out.d, p + offsetof(block_q4_K, d), sizeof(uint32_t));
}

INFERA_AVX512 inline void k_q6_block(const unsigned char* p, const KActBlock& a, KBlockOut out) {
  Q6KBlock512 b;
  decode_q6_k_512(p, &b);
  const __m256i sc16 = _mm256_cvtepi8_epi16(
      _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + offsetof(block_q6_K, scales))));
  // As k_q4_block: vpdpbusd (|sum| <= 4 · 63 · 128, exact in int16), two vectors packed, one
  // vpdpwssd against the scales (per 16 elements: one 128-bit lane of a vpdpbusd result).
  __m512i acc = _mm512_setzero_si512();
  for (int m = 0; m < 2; ++m) {
    const __m512i lo = _mm512_dpbusd_epi32(_mm512_setzero_si512(), b.q[2 * m], a.q[2 * m]);
    const __m512i hi = _mm512_dpbusd_epi32(_mm512_setzero_si512(), b.q[2 * m + 1], a.q[2 * m + 1]);
    acc = _mm512_dpwssd_epi32(acc, _mm512_packs_epi32(lo, hi),
                              k_spread16(_mm512_castsi256_si512(sc16), kQ6PackSpread[m]));
  }
  // Σ scale · (q − 32) · x = Σ scale · q · x − 32 · Σ scale · bsum, from the unsigned q.
  const __m256i bias = _mm256_slli_epi32(_mm256_madd_epi16(sc16, a.bsums), 5);
  _mm256_store_si256(reinterpret_cast<__m256i*>(out.isum), _mm256_sub_epi32(k_fold(acc), bias));
  uint16_t d;
  std::memcpy(&d, p + offsetof(block_q6_K, d), sizeof d);
  *out.d = d;
}

// The integers of one group (count blocks from `first`) of kRows weight rows, then the float steps
// into each row's eight lanes.
template <typename Block, int kRows>
INFERA_AVX512 void k_one_token_group(const unsigned char* const* rows, const block_q8_K* x,
                                     int64_t first, int count, const RowStreamPrefetch& prefetch,
                                     __m256* lanes) {
  constexpr bool kQ4 = std::is_same_v<Block, block_q4_K>;
  alignas(32) int32_t isum[kRows][kKGroup][8];
  alignas(32) int32_t summs[kQ4 ? kRows : 1][kKGroup][8];
  alignas(32) uint32_t d[kRows][kKGroup];
  alignas(32) float xd[kKGroup];
  // Block by block: a burst of every line of the group (72 for Q4_K) streamed ~10 % slower.
  for (int b = 0; b < count; ++b) {
    for (int r = 0; r < kRows; ++r) prefetch(rows[r], (first + b) * sizeof(Block), sizeof(Block));
    const block_q8_K& xb = x[first + b];
    xd[b] = xb.d;
    const KActBlock a = k_act_block<Block>(xb);
    const unsigned char* p[kRows];
    for (int r = 0; r < kRows; ++r)
      p[r] = rows[r] + (first + b) * static_cast<int64_t>(sizeof(Block));
    [[maybe_unused]] __m512i sm4;
    if constexpr (kQ4) sm4 = k4_scales_mins_x4<kRows>(p);
    for (int r = 0; r < kRows; ++r) {
      const KBlockOut out{isum[r][b], summs[kQ4 ? r : 0][b], &d[r][b]};
      if constexpr (kQ4) {
        k_q4_block(p[r], lane_in_all(sm4, r), a, out);
      } else {
        k_q6_block(p[r], a, out);
      }
    }
  }
  for (int b = count; b < kKGroup; ++b) {  // lanes left as they are below; defined all the same
    xd[b] = 0.0f;
    for (int r = 0; r < kRows; ++r) {
      std::memset(isum[r][b], 0, sizeof isum[r][b]);
      std::memset(summs[kQ4 ? r : 0][b], 0, sizeof summs[0][b]);
      d[r][b] = 0;
    }
  }
  const __mmask8 keep = static_cast<__mmask8>((1u << count) - 1);
  const __m256 x_d = _mm256_load_ps(xd);
  for (int r = 0; r < kRows; ++r) {
    __m256i v[kKGroup];
    for (int b = 0; b < kKGroup; ++b)
      v[b] = _mm256_load_si256(reinterpret_cast<const __m256i*>(isum[r][b]));
    const __m256i halves = _mm256_load_si256(reinterpret_cast<const __m256i*>(d[r]));
    const __m256 w_d = _mm256_cvtph_ps(_mm256_cvtepi32_epi16(halves));
    // As the reference: (d · d(x)) · isum, less (dmin · d(x)) · summs, each product rounded.
    __m256 term = mul_rounded8(mul_rounded8(w_d, x_d), _mm256_cvtepi32_ps(hsum8x8(v)));
    if constexpr (kQ4) {
      for (int b = 0; b < kKGroup; ++b)
        v[b] = _mm256_load_si256(reinterpret_cast<const __m256i*>(summs[r][b]));
      const __m256 w_dmin = _mm256_cvtph_ps(_mm256_cvtepi32_epi16(_mm256_srli_epi32(halves, 16)));
      term = _mm256_sub_ps(term,
                           mul_rounded8(mul_rounded8(w_dmin, x_d), _mm256_cvtepi32_ps(hsum8x8(v))));
    }
    // Lanes of missing blocks are left as they are (adding +0 could turn a −0 lane into +0).
    lanes[r] = _mm256_mask_add_ps(lanes[r], keep, lanes[r], term);
  }
}

// kRows weight rows, w_row_bytes apart, times one activation row: y[r] for row r.
template <typename Block, int kRows>
INFERA_AVX512 void k_one_token(const uint8_t* w, uint64_t w_row_bytes, const block_q8_K* x,
                               int64_t nb, float* y) {
  const unsigned char* rows[kRows];
  for (int r = 0; r < kRows; ++r) rows[r] = w + r * w_row_bytes;
  __m256 lanes[kRows];
  for (auto& l : lanes) l = _mm256_setzero_ps();
  const RowStreamPrefetch prefetch(w_row_bytes, kRows, kDecodeRowLeadBytes);
  for (int64_t i = 0; i < nb; i += kKGroup)
    k_one_token_group<Block, kRows>(
        rows, x, i, static_cast<int>(std::min<int64_t>(kKGroup, nb - i)), prefetch, lanes);
  for (int r = 0; r < kRows; ++r) {
    alignas(32) float l[kKGroup];
    _mm256_store_ps(l, lanes[r]);
    y[r] = sum_block_lanes(l);
  }
}

template <typename Block>
INFERA_AVX512 void k_weight_rows(const void* w_rows, uint64_t w_row_bytes, int64_t n_rows,
                                 const block_q8_K* x, int64_t nb, float* y) {
  const auto* w = static_cast<const uint8_t*>(w_rows);
  in_row_passes(n_rows, [&](auto rows, int64_t r) {
    k_one_token<Block, decltype(rows)::value>(w + r * w_row_bytes, w_row_bytes, x, nb, y + r);
  });
}

}  // namespace

void q8_rows_avx512(TensorType weight_type, const void* w_row, const uint8_t* x_rows,
                    uint64_t x_stride, int64_t n_rows, int64_t nb, float* y, int64_t y_stride) {
  // One activation row: the decode kernel (one weight row of it).
  if (n_rows == 1)
    return q8_weight_rows_avx512(weight_type, w_row, 0, 1, x_rows, nullptr, nullptr, nb, y);
  q8_rows_of_type(weight_type, w_row, x_rows, x_stride, n_rows, nb, y, y_stride);
}

void q8_weight_rows_avx512(TensorType weight_type, const void* w_rows, uint64_t w_row_bytes,
                           int64_t n_rows, const uint8_t* x, const float* x_d, const float* x_s,
                           int64_t nb, float* y) {
  const ActScales sc{x_d, x_s};
  switch (weight_type) {
    case TensorType::Q4_0:
      return q8_weight_rows<W::kQ4_0>(w_rows, w_row_bytes, n_rows, x, sc, nb, y);
    case TensorType::Q4_1:
      return q8_weight_rows<W::kQ4_1>(w_rows, w_row_bytes, n_rows, x, sc, nb, y);
    case TensorType::Q5_0:
      return q8_weight_rows<W::kQ5_0>(w_rows, w_row_bytes, n_rows, x, sc, nb, y);
    case TensorType::Q5_1:
      return q8_weight_rows<W::kQ5_1>(w_rows, w_row_bytes, n_rows, x, sc, nb, y);
    default:
      return q8_weight_rows<W::kQ8_0>(w_rows, w_row_bytes, n_rows, x, sc, nb, y);
  }
}

void q4_0_groups_weight_rows_avx512(const void* w_rows, uint64_t w_row_bytes, int64_t n_rows,
                                    const uint8_t* x, const float* x_d, int64_t nb, float* y) {
  q8_weight_rows<W::kQ4_0, true>(w_rows, w_row_bytes, n_rows, x, ActScales{x_d, nullptr}, nb, y);
}

bool k_rows_avx512(TensorType weight_type, const void* w_row, const block_q8_K* x,
                   int64_t x_stride_blocks, int64_t n_rows, int64_t nb, float* y,
                   int64_t y_stride) {
  switch (weight_type) {
    case TensorType::Q4_K:
      k_rows<Q4KBlock512, decode_q4_k_512, q4_k_row_512, sizeof(block_q4_K)>(
          w_row, x, x_stride_blocks, n_rows, nb, y, y_stride);
      return true;
    case TensorType::Q6_K:
      k_rows<Q6KBlock512, decode_q6_k_512, q6_k_row_512, sizeof(block_q6_K)>(
          w_row, x, x_stride_blocks, n_rows, nb, y, y_stride);
      return true;
    default:
      return k_rows_packed(weight_type, w_row, x, x_stride_blocks, n_rows, nb, y, y_stride);
  }
}

bool k_weight_rows_avx512(TensorType weight_type, const void* w_rows, uint64_t w_row_bytes,
                          int64_t n_rows, const block_q8_K* x, int64_t nb, float* y) {
  switch (weight_type) {
    case TensorType::Q4_K:
      k_weight_rows<block_q4_K>(w_rows, w_row_bytes, n_rows, x, nb, y);
      return true;
    case TensorType::Q6_K:
      k_weight_rows<block_q6_K>(w_rows, w_row_bytes, n_rows, x, nb, y);
      return true;
    default:
      return false;
  }
}

KDotFn k_kernel_avx512(KDotKind kind) {
  switch (kind) {
    case KDotKind::kWithMin:
      return &dot_blocks<true>;
    default:
      return &dot_blocks<false>;
  }
}

}  // namespace infera::int_dot_detail

#endif  // x86
