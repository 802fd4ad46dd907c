// AVX2 kernels of int_dot.h. The integer sum of each block is computed in 8 int32 lanes and
// reduced (exact in any order); the float steps repeat the scalar reference's, product by product,
// with each product rounded before any add (mul_rounded / mul_rounded8: FMA contraction would
// change the bits). Compiled for the baseline target; only these functions use AVX2, and
// int_dot.h calls them only where cpu_features.h says the CPU has it.
#include "kernels/int_dot.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <type_traits>
#include <vector>

#include "kernels/row_stream_prefetch.h"
#include "quant/block_lanes.h"
#include "quant/float16.h"

#define INFERA_AVX2 __attribute__((target("avx2,fma,f16c")))

namespace infera::int_dot_detail {
namespace {

#define INFERA_SIMD_TARGET INFERA_AVX2
#include "kernels/int_dot_x86_shared.inc"
#undef INFERA_SIMD_TARGET

// Σ w_j x_j over a block as 8 int32 partial sums, exact for every int8 x (for Q8_0 weights every
// x but -128, which activations never hold).
template <W K>
INFERA_AVX2 inline __m256i block_dot(__m256i w, __m256i x) {
  const __m256i ones = _mm256_set1_epi16(1);
  if constexpr (K == W::kQ4_1 || K == W::kQ5_1) {
    // Weights 0..31 as unsigned bytes: |pair of products| <= 2 * 31 * 128, no int16 saturation.
    return _mm256_madd_epi16(_mm256_maddubs_epi16(w, x), ones);
  } else if constexpr (K == W::kQ8_0) {
    // |w| as unsigned (-128 reads as 128) times x with w's sign: exact because activations are
    // never -128 (quantize_q8_block rounds x · 127 / amax, so |q| <= 127); a pair of products
    // is at most 2 · 128 · 127, inside int16.
    return _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_abs_epi8(w), _mm256_sign_epi8(x, w)),
                             ones);
  } else {
    // Signed weights -16..15: |x| as unsigned (-128 reads as 128) times w with x's sign;
    // |pair| <= 2 * 128 * 16.
    const __m256i ax = _mm256_sign_epi8(x, x);
    const __m256i sw = _mm256_sign_epi8(w, x);
    return _mm256_madd_epi16(_mm256_maddubs_epi16(ax, sw), ones);
  }
}

#define INFERA_SIMD_TARGET INFERA_AVX2
#include "kernels/int_dot_x86_q8_rows.inc"
#undef INFERA_SIMD_TARGET

// ---- K-quants × Q8_K --------------------------------------------------------------------------

// acc + the int16 pair sums p times the int16 scales sc, pairwise into int32 (|p| <= 2^14 and
// |sc| <= 128: no overflow).
INFERA_AVX2 inline __m256i k_madd_scaled(__m256i acc, __m256i p, __m256i sc) {
  return _mm256_add_epi32(acc, _mm256_madd_epi16(p, sc));
}

#define INFERA_SIMD_TARGET INFERA_AVX2
#include "kernels/int_dot_x86_k.inc"
#undef INFERA_SIMD_TARGET

// ---- K-quant decode: many weight rows times one Q8_K row --------------------------------------
// Each block's integer sums stay in a vector of 8 lanes until a group of 8 blocks is complete;
// then one reduction gives the group's 8 block sums in block order and the float steps of the
// reference (vec_dot_k.h) run on the 8 blocks at once, block i's term into lane i % 8.

// [Σ v[0], …, Σ v[7]]: the lane sums of 8 vectors (unpacks and adds, cheaper than hadd here).
INFERA_AVX2 inline __m256i lane_sums8(const __m256i* v) {
  __m256i s[4];
  for (int k = 0; k < 4; ++k)
    s[k] = _mm256_add_epi32(_mm256_unpacklo_epi32(v[2 * k], v[2 * k + 1]),
                            _mm256_unpackhi_epi32(v[2 * k], v[2 * k + 1]));
  // Per 128-bit half: partial sums of v0..v3 and of v4..v7.
  const __m256i u0 =
      _mm256_add_epi32(_mm256_unpacklo_epi64(s[0], s[1]), _mm256_unpackhi_epi64(s[0], s[1]));
  const __m256i u1 =
      _mm256_add_epi32(_mm256_unpacklo_epi64(s[2], s[3]), _mm256_unpackhi_epi64(s[2], s[3]));
  return _mm256_add_epi32(_mm256_permute2x128_si256(u0, u1, 0x20),
                          _mm256_permute2x128_si256(u0, u1, 0x31));
}

// Q4_K / Q5_K block by block, without the Q4KBlock of the row kernels: from cache the kernel ran
// at the core's dispatch width, so its instructions per block were its limit, and Q4KBlock's
// scalar unpacking of the packed scales and mins (k4_scales_mins) and its scalar d, dmin took
// about a third of them.
// Bytes 0..15 of the block (d, dmin and the 12 packed scale bytes) are loaded into both 128-bit
// halves; as k4_scales_mins, but in vectors, dwords 1 and 2 of `lo` then hold scales 0..3 and
// mins 0..3, those of `hi` scales 4..7 and mins 4..7 (dword 0: d, dmin; dword 3: not used).
struct K4ScalesMins {
  __m256i lo, hi;
};
INFERA_AVX2 inline K4ScalesMins k4_scales_mins8(__m256i head) {
  // Dwords [d|dmin, u0, u1, u2]: scales 0..3 = u0 & 0x3f.., mins 0..3 = u1 & 0x3f..; scales 4..7 =
  // (u2 & 0x0f..) | (u0's top 2 bits of each byte at bits 4..5), mins 4..7 = ((u2 >> 4) & 0x0f..) |
  // (u1's top bits likewise). The 16-bit shift by 2 moves bits 6..7 of each byte to its bits 4..5.
  const __m256i u2 = _mm256_srlv_epi32(_mm256_shuffle_epi32(head, 0xff),
                                       _mm256_setr_epi32(0, 0, 4, 0, 0, 0, 4, 0));
  const __m256i top = _mm256_and_si256(_mm256_srli_epi16(head, 2), _mm256_set1_epi8(0x30));
  return {_mm256_and_si256(head, _mm256_set1_epi8(0x3f)),
          _mm256_or_si256(_mm256_and_si256(u2, _mm256_set1_epi8(0x0f)), top)};
}

// Scale byte `byte` of v zero-extended into every int16 (bit 7 of a shuffle index gives zero).
INFERA_AVX2 inline __m256i k_scale16(__m256i v, int byte) {
  return _mm256_shuffle_epi8(v, _mm256_set1_epi16(static_cast<int16_t>(0x8000 | byte)));
}

// A Q4_K (Q5_K) block times x: its integer sums as 8 lanes (isum; lanes 0..3 and 4..7 of chunk c
// are its sub-blocks, scaled on the way) and the lanes of Σ min · bsum (summs).
template <bool kFifthBit>
INFERA_AVX2 inline void q45_k_block_lanes(const uint8_t* p, const block_q8_K& x, __m256i* isum,
                                          __m256i* summs) {
  using Block = std::conditional_t<kFifthBit, block_q5_K, block_q4_K>;
  const K4ScalesMins sm = k4_scales_mins8(
      _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))));
  const __m256i low4 = _mm256_set1_epi8(0x0f);
  __m256i fifth[8];
  if constexpr (kFifthBit) {
    const __m256i qh = k_load32(p + offsetof(Block, qh));
    fifth[0] = k_fifth_bits<0>(qh);
    fifth[1] = k_fifth_bits<1>(qh);
    fifth[2] = k_fifth_bits<2>(qh);
    fifth[3] = k_fifth_bits<3>(qh);
    fifth[4] = k_fifth_bits<4>(qh);
    fifth[5] = k_fifth_bits<5>(qh);
    fifth[6] = k_fifth_bits<6>(qh);
    fifth[7] = k_fifth_bits<7>(qh);
  }
  // Two accumulators: chunks 2j (low nibbles) and 2j + 1 (high nibbles) of each 32 bytes.
  __m256i acc[2] = {_mm256_setzero_si256(), _mm256_setzero_si256()};
  for (int j = 0; j < 4; ++j) {
    const __m256i raw = k_load32(p + offsetof(Block, qs) + 32 * j);
    __m256i q[2] = {_mm256_and_si256(raw, low4), _mm256_and_si256(_mm256_srli_epi16(raw, 4), low4)};
    for (int k = 0; k < 2; ++k) {
      const int c = 2 * j + k;
      if constexpr (kFifthBit) q[k] = _mm256_or_si256(q[k], fifth[c]);
      acc[k] = k_chunk_unsigned(acc[k], q[k], k_load32(x.qs + 32 * c),
                                k_scale16(c < 4 ? sm.lo : sm.hi, 4 + c % 4));
    }
  }
  *isum = _mm256_add_epi32(acc[0], acc[1]);
  // Min s / 2 against bsums s: mins 0..3 (bytes 8..11 of lo) in the low half, 4..7 in the high.
  const __m256i mins16 = _mm256_shuffle_epi8(
      _mm256_blend_epi32(sm.lo, sm.hi, 0xf0),
      _mm256_setr_epi8(8, -1, 8, -1, 9, -1, 9, -1, 10, -1, 10, -1, 11, -1, 11, -1,  //
                       8, -1, 8, -1, 9, -1, 9, -1, 10, -1, 10, -1, 11, -1, 11, -1));
  *summs = _mm256_madd_epi16(k_load32(x.bsums), mins16);
}

// Q6_K: the quants taken unsigned (0..63, |pair| <= 2 · 63 · 127), their −32 returned as
// 32 · Σ scale · bsum: exact, and a maddubs per chunk fewer than subtracting 32 · x there.
INFERA_AVX2 inline void q6_k_block_lanes(const uint8_t* p, const block_q8_K& x, __m256i* isum,
                                         __m256i*) {
  Q6KBlock b;
  decode_q6_k(p, &b);
  __m256i acc = _mm256_setzero_si256();
  for (int c = 0; c < 8; ++c)
    acc = k_madd_scaled(acc, _mm256_maddubs_epi16(b.q[c], k_load32(x.qs + 32 * c)), b.sc[c]);
  const __m256i offset = _mm256_madd_epi16(b.scales16, k_load32(x.bsums));
  *isum = _mm256_sub_epi32(acc, _mm256_slli_epi32(offset, 5));
}

// What the decode kernel needs of a K type: its block size, where d (and dmin) lie, its lanes.
struct Q4KDecode {
  using Block = block_q4_K;
  static constexpr bool kWithMin = true;
  INFERA_AVX2 static void lanes(const uint8_t* p, const block_q8_K& x, __m256i* isum,
                                __m256i* summs) {
    q45_k_block_lanes<false>(p, x, isum, summs);
  }
};
struct Q5KDecode {
  using Block = block_q5_K;
  static constexpr bool kWithMin = true;
  INFERA_AVX2 static void lanes(const uint8_t* p, const block_q8_K& x, __m256i* isum,
                                __m256i* summs) {
    q45_k_block_lanes<true>(p, x, isum, summs);
  }
};
struct Q6KDecode {
  using Block = block_q6_K;
  static constexpr bool kWithMin = false;
  INFERA_AVX2 static void lanes(const uint8_t* p, const block_q8_K& x, __m256i* isum,
                                __m256i* summs) {
    q6_k_block_lanes(p, x, isum, summs);
  }
};

// d (and dmin) of the `count` (1 … 8) blocks of a group from `first` on, in block order, as
// floats; zero past them. Each block's d sits in a dword read whole (Q4_K/Q5_K: d, dmin at bytes
// 0..3; Q6_K: d the high half of its last 4 bytes, so the read stays inside the block); a byte
// shuffle splits the halves.
template <typename K>
INFERA_AVX2 inline void group_scales(const uint8_t* first, int count, __m256* d, __m256* dmin) {
  using Block = typename K::Block;
  constexpr size_t kDword = K::kWithMin ? offsetof(Block, d) : sizeof(Block) - 4;
  if constexpr (K::kWithMin) {
    static_assert(offsetof(Block, dmin) == offsetof(Block, d) + 2);
  } else {
    static_assert(offsetof(Block, d) == sizeof(Block) - 2);
  }
  auto dword = [&](int b) {
    int32_t v = 0;
    if (b < count) std::memcpy(&v, first + b * sizeof(Block) + kDword, sizeof v);
    return v;
  };
  // The d of 4 blocks to the low 8 bytes, their dmin (or their other half) to the high 8.
  const __m128i split = K::kWithMin
                            ? _mm_setr_epi8(0, 1, 4, 5, 8, 9, 12, 13, 2, 3, 6, 7, 10, 11, 14, 15)
                            : _mm_setr_epi8(2, 3, 6, 7, 10, 11, 14, 15, 0, 1, 4, 5, 8, 9, 12, 13);
  const __m128i a = _mm_shuffle_epi8(_mm_setr_epi32(dword(0), dword(1), dword(2), dword(3)), split);
  const __m128i b = _mm_shuffle_epi8(_mm_setr_epi32(dword(4), dword(5), dword(6), dword(7)), split);
  *d = _mm256_cvtph_ps(_mm_unpacklo_epi64(a, b));
  *dmin = K::kWithMin ? _mm256_cvtph_ps(_mm_unpackhi_epi64(a, b)) : _mm256_setzero_ps();
}

template <typename K>
INFERA_AVX2 void k_weight_rows_impl(const uint8_t* w, uint64_t w_row_bytes, int64_t n_rows,
                                    const block_q8_K* x, int64_t nb, float* y) {
  using Block = typename K::Block;
  constexpr size_t kBlockBytes = sizeof(Block);
  thread_local std::vector<float> x_d;
  x_d.resize(static_cast<size_t>(nb + 8));
  for (int64_t i = 0; i < nb; ++i) x_d[i] = x[i].d;
  for (int64_t i = nb; i < nb + 8; ++i) x_d[i] = 0.0f;
  const RowStreamPrefetch prefetch(w_row_bytes, 1, kDecodeRowLeadBytes);
  for (int64_t r = 0; r < n_rows; ++r) {
    const uint8_t* row = w + r * w_row_bytes;
    __m256 acc = _mm256_setzero_ps();
    for (int64_t i = 0; i < nb; i += 8) {
      const int count = static_cast<int>(std::min<int64_t>(8, nb - i));
      const uint8_t* first = row + i * kBlockBytes;
      prefetch(row, i * kBlockBytes, count * kBlockBytes);
      // The blocks of a last partial group, and zeros past them, the same way: zeroing the
      // arrays first made GCC emit two `rep stos` a group, ~35 % of the kernel's time on
      // 1024-column rows (4 blocks, Gemma 3 270M's attention output).
      __m256i isum[8], summs[8];
#pragma GCC unroll 8
      for (int k = 0; k < 8; ++k) {
        if (k < count) {
          K::lanes(first + k * kBlockBytes, x[i + k], &isum[k], &summs[k]);
        } else {
          isum[k] = summs[k] = _mm256_setzero_si256();
        }
      }
      __m256 d, dmin;
      group_scales<K>(first, count, &d, &dmin);
      const __m256 xd = _mm256_loadu_ps(x_d.data() + i);
      // As k_term / k_term_with_min: (d · d_x) · isum [− (dmin · d_x) · summs], each product
      // rounded.
      __m256 terms = mul_rounded8(mul_rounded8(d, xd), _mm256_cvtepi32_ps(lane_sums8(isum)));
      if constexpr (K::kWithMin)
        terms = _mm256_sub_ps(
            terms, mul_rounded8(mul_rounded8(dmin, xd), _mm256_cvtepi32_ps(lane_sums8(summs))));
      if (count == 8) {
        acc = _mm256_add_ps(acc, terms);
      } else {
        // Lanes of missing blocks are left as they are (adding +0 could turn a -0 lane into +0).
        const __m256i keep =
            _mm256_cmpgt_epi32(_mm256_set1_epi32(count), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
        acc = _mm256_blendv_ps(acc, _mm256_add_ps(acc, terms), _mm256_castsi256_ps(keep));
      }
    }
    alignas(32) float lane[8];
    _mm256_store_ps(lane, acc);
    y[r] = sum_block_lanes(lane);
  }
}

// ---- K-quant unpacking (element order of blocks.h) --------------------------------------------

INFERA_AVX2 inline __m256i load32(const uint8_t* p) {
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
}
INFERA_AVX2 inline void store32(int8_t* p, __m256i v) {
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), v);
}

// The 2-bit fields (bits 2c, 2c + 1) of 32 bytes.
INFERA_AVX2 inline __m256i crumbs(__m256i v, int c) {
  return _mm256_and_si256(_mm256_srli_epi16(v, 2 * c), _mm256_set1_epi8(3));
}

// 0xff in the bytes of v that have bit b set.
INFERA_AVX2 inline __m256i bit_set(__m256i v, int b) {
  const __m256i m = _mm256_set1_epi8(static_cast<char>(1 << b));
  return _mm256_cmpeq_epi8(_mm256_and_si256(v, m), m);
}

// Element i = 128h + 32c + r of Q2_K/Q3_K: bits 2c of qs[32h + r].
INFERA_AVX2 void unpack_q2_k(const void* block, KIntBlock* u) {
  block_q2_K b;
  std::memcpy(&b, block, sizeof b);
  for (int h = 0; h < 2; ++h) {
    const __m256i qs = load32(b.qs + 32 * h);
    for (int c = 0; c < 4; ++c) store32(u->q + 128 * h + 32 * c, crumbs(qs, c));
  }
  for (int s = 0; s < QK_K / 16; ++s) {
    u->scale[s] = b.scales[s] & 0x0f;
    u->min[s] = b.scales[s] >> 4;
  }
}

// ... minus 4 where bit 4h + c of hmask[r] is clear.
INFERA_AVX2 void unpack_q3_k(const void* block, KIntBlock* u) {
  block_q3_K b;
  std::memcpy(&b, block, sizeof b);
  const __m256i hmask = load32(b.hmask);
  for (int h = 0; h < 2; ++h) {
    const __m256i qs = load32(b.qs + 32 * h);
    for (int c = 0; c < 4; ++c) {
      const __m256i offset = _mm256_andnot_si256(bit_set(hmask, 4 * h + c), _mm256_set1_epi8(4));
      store32(u->q + 128 * h + 32 * c, _mm256_sub_epi8(crumbs(qs, c), offset));
    }
  }
  for (int s = 0; s < QK_K / 16; ++s) {
    u->scale[s] = q3k_scale(b.scales, s);
    u->min[s] = 0;
  }
}

INFERA_AVX2 inline void scales_mins_k4(const uint8_t* scales, KIntBlock* u) {
  for (int s = 0; s < QK_K / 16; ++s) {
    uint8_t sc, m;
    q4k_scale_min(scales, s / 2, &sc, &m);
    u->scale[s] = sc;
    u->min[s] = m;
  }
}

// Element i = 64j + 32k + r of Q4_K/Q5_K: nibble k of qs[32j + r]; Q5_K adds bit 2j + k of
// qh[r] as 16.
template <bool kFifthBit>
INFERA_AVX2 void unpack_q45_k(const void* block, KIntBlock* u) {
  using Block = std::conditional_t<kFifthBit, block_q5_K, block_q4_K>;
  Block b;
  std::memcpy(&b, block, sizeof b);
  const __m256i low4 = _mm256_set1_epi8(0x0f);
  for (int j = 0; j < 4; ++j) {
    const __m256i qs = load32(b.qs + 32 * j);
    __m256i lo = _mm256_and_si256(qs, low4);
    __m256i hi = _mm256_and_si256(_mm256_srli_epi16(qs, 4), low4);
    if constexpr (kFifthBit) {
      const __m256i qh = load32(b.qh);
      const __m256i sixteen = _mm256_set1_epi8(16);
      lo = _mm256_or_si256(lo, _mm256_and_si256(bit_set(qh, 2 * j), sixteen));
      hi = _mm256_or_si256(hi, _mm256_and_si256(bit_set(qh, 2 * j + 1), sixteen));
    }
    store32(u->q + 64 * j, lo);
    store32(u->q + 64 * j + 32, hi);
  }
  scales_mins_k4(b.scales, u);
}

// Element i = 128h + 32c + r of Q6_K: nibble c / 2 of ql[64h + 32(c % 2) + r], plus bits 2c of
// qh[32h + r] as bits 4..5, minus 32.
INFERA_AVX2 void unpack_q6_k(const void* block, KIntBlock* u) {
  block_q6_K b;
  std::memcpy(&b, block, sizeof b);
  const __m256i low4 = _mm256_set1_epi8(0x0f);
  for (int h = 0; h < 2; ++h) {
    const __m256i ql[2] = {load32(b.ql + 64 * h), load32(b.ql + 64 * h + 32)};
    const __m256i qh = load32(b.qh + 32 * h);
    for (int c = 0; c < 4; ++c) {
      const __m256i low = _mm256_and_si256(_mm256_srli_epi16(ql[c % 2], 4 * (c / 2)), low4);
      const __m256i high = _mm256_slli_epi16(crumbs(qh, c), 4);  // <= 0x30 per byte: no carry
      store32(u->q + 128 * h + 32 * c,
              _mm256_sub_epi8(_mm256_or_si256(low, high), _mm256_set1_epi8(32)));
    }
  }
  for (int s = 0; s < QK_K / 16; ++s) {
    u->scale[s] = b.scales[s];
    u->min[s] = 0;
  }
}

}  // namespace

KUnpackFn k_unpack_avx2(TensorType weight_type) {
  switch (weight_type) {
    case TensorType::Q2_K:
      return &unpack_q2_k;
    case TensorType::Q3_K:
      return &unpack_q3_k;
    case TensorType::Q4_K:
      return &unpack_q45_k<false>;
    case TensorType::Q5_K:
      return &unpack_q45_k<true>;
    case TensorType::Q6_K:
      return &unpack_q6_k;
    default:
      return nullptr;
  }
}

void q8_rows_avx2(TensorType weight_type, const void* w_row, const uint8_t* x_rows,
                  uint64_t x_stride, int64_t n_rows, int64_t nb, float* y, int64_t y_stride) {
  q8_rows_of_type(weight_type, w_row, x_rows, x_stride, n_rows, nb, y, y_stride);
}

bool k_rows_avx2(TensorType weight_type, const void* w_row, const block_q8_K* x,
                 int64_t x_stride_blocks, int64_t n_rows, int64_t nb, float* y, int64_t y_stride) {
  return k_rows_packed(weight_type, w_row, x, x_stride_blocks, n_rows, nb, y, y_stride);
}

bool k_weight_rows_avx2(TensorType weight_type, const void* w_rows, uint64_t w_row_bytes,
                        int64_t n_rows, const block_q8_K* x, int64_t nb, float* y) {
  const auto* w = static_cast<const uint8_t*>(w_rows);
  switch (weight_type) {
    case TensorType::Q4_K:
      k_weight_rows_impl<Q4KDecode>(w, w_row_bytes, n_rows, x, nb, y);
      return true;
    case TensorType::Q5_K:
      k_weight_rows_impl<Q5KDecode>(w, w_row_bytes, n_rows, x, nb, y);
      return true;
    case TensorType::Q6_K:
      k_weight_rows_impl<Q6KDecode>(w, w_row_bytes, n_rows, x, nb, y);
      return true;
    default:
      return false;
  }
}

KDotFn k_kernel_avx2(KDotKind kind) {
  switch (kind) {
    case KDotKind::kWithMin:
      return &dot_blocks<true>;
    default:
      return &dot_blocks<false>;
  }
}

}  // namespace infera::int_dot_detail

#endif  // x86
