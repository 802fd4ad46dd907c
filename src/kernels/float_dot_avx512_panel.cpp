// AVX-512: a panel of 16 F32/F16/BF16 weight rows times many f32 activation rows, the
// prompt-processing GEMM of float weights. dot_f32 keeps eight lanes, element i going to lane
// i % 8: per 8 columns, one vector holds the 8 lanes of one row and of the next (8 lanes each),
// so rows 2q and 2q + 1 of the panel, rewritten as f32 a slice of columns at a time (it stays in
// L1), weight the same 8 activations of a token broadcast to both halves in one fused
// multiply-add per lane, as dot_f32 does, in its order. 8 row pairs × 3 tokens take 24 zmm
// accumulators, each panel vector feeding 3 of them and each activation vector 8. At the end the
// lanes join in dot_f32's tree: the same bits as the reference per row.
#include "kernels/float_dot.h"

#if defined(__x86_64__) || defined(__i386__)
#include <algorithm>
#include <cstdint>
#include <optional>
#include <vector>

#include "kernels/avx512_intrinsics.h"

#define INFERA_AVX512 __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl")))

namespace infera {
namespace {

#include "kernels/panel_avx512.inc"

constexpr int kRows = 16;
// Columns rewritten at a time: 16 rows × 512 columns × 4 bytes = 32 KiB.
constexpr int64_t kSlice = 512;
// Activation rows that share each load of the panel: 3 tokens × 8 row pairs take 24 of the 32 zmm
// registers as accumulators. Per step of 8 columns, 8 panel loads and 3 activation loads feed 24
// FMAs.
constexpr int kTokens = 3;
// Tokens that pass over a slice before the next slice: their lane vectors (8 KiB per 16 tokens)
// stay in L1 and their activation rows in L2 while every panel of a block takes them. More tokens
// than this go in groups over the rewritten panels. Groups of 6 to 21 tokens ran alike
// (bench-kernels F16 2048×8192 t512: ~119–121 GFLOP/s on one core); 63 ran at 100–105, its
// activation rows (2 MiB at 8192 columns) falling out of L2.
constexpr int64_t kGroupTokens = 21;

// Columns whose panels are rewritten together: wider rows are taken a block of columns at a time,
// each token's lanes kept from one block to the next, so that a block holds several panels (4 at
// 2048 columns: 512 KiB) and a group's activation rows are read from L2 by all of them. With one
// panel per block (8192 columns), every panel read every activation row from L3: 114–121 GFLOP/s
// on one core (bench-kernels F16 2048×8192 t512) against 129–135 at 2048 columns.
constexpr int64_t kColumnBlock = kFloatPanelColumnBlock;

// v in both halves of a vector (an AVX512F broadcast; f32x8 would need DQ).
INFERA_AVX512 inline __m512 broadcast8(__m256 v) {
  return _mm512_castpd_ps(_mm512_broadcast_f64x4(_mm256_castps_pd(v)));
}

// Lanes [0, count) of 8 (all 8 where count >= 8).
INFERA_AVX512 inline __mmask8 first_lanes8(int64_t count) {
  return count >= 8 ? static_cast<__mmask8>(0xff) : static_cast<__mmask8>((1u << count) - 1);
}

// Elements [c, c + 8) of rows a (lanes 0..7) and b (lanes 8..15) as f32; with Masked, the lanes
// at or past n read as 0.
template <bool Masked>
INFERA_AVX512 inline __m512 load_pair8(TensorType type, const uint8_t* a, const uint8_t* b,
                                       int64_t c, int64_t n) {
  const __mmask8 lanes = Masked ? first_lanes8(n - c) : static_cast<__mmask8>(0xff);
  if (type == TensorType::F32) {
    const float* fa = reinterpret_cast<const float*>(a) + c;
    const float* fb = reinterpret_cast<const float*>(b) + c;
    const __m256 lo = Masked ? _mm256_maskz_loadu_ps(lanes, fa) : _mm256_loadu_ps(fa);
    const __m256 hi = Masked ? _mm256_maskz_loadu_ps(lanes, fb) : _mm256_loadu_ps(fb);
    return _mm512_castpd_ps(
        _mm512_insertf64x4(_mm512_castpd256_pd512(_mm256_castps_pd(lo)), _mm256_castps_pd(hi), 1));
  }
  const auto* ha = reinterpret_cast<const uint16_t*>(a) + c;
  const auto* hb = reinterpret_cast<const uint16_t*>(b) + c;
  const __m128i lo = Masked ? _mm_maskz_loadu_epi16(lanes, ha)
                            : _mm_loadu_si128(reinterpret_cast<const __m128i*>(ha));
  const __m128i hi = Masked ? _mm_maskz_loadu_epi16(lanes, hb)
                            : _mm_loadu_si128(reinterpret_cast<const __m128i*>(hb));
  const __m256i h = _mm256_inserti128_si256(_mm256_castsi128_si256(lo), hi, 1);
  if (type == TensorType::F16) return _mm512_cvtph_ps(h);
  // BF16: the bits of the upper half of an f32
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

// Columns [c0, c0 + len) of the 16 rows as f32, row pair by row pair: elements c0 + 8s … + 7 of
// rows 2q (lanes 0..7) and 2q + 1 (lanes 8..15) at panel[(s · 8 + q) · 16]: the 8 vectors of a step
// together.
template <TensorType Type>
INFERA_AVX512 void rewrite_slice(const uint8_t* w, uint64_t w_row_bytes, int64_t c0, int64_t len,
                                 int64_t n, float* panel) {
  const int64_t whole = len / 8;
  for (int64_t s = 0; s < whole; ++s) {
    const int64_t c = c0 + 8 * s;
    for (int q = 0; q < kRows / 2; ++q) {
      const uint8_t* a = w + 2 * q * w_row_bytes;
      _mm512_storeu_ps(panel + (s * 8 + q) * 16, load_pair8<false>(Type, a, a + w_row_bytes, c, n));
    }
  }
  if (whole * 8 < len) {
    for (int q = 0; q < kRows / 2; ++q) {
      const uint8_t* a = w + 2 * q * w_row_bytes;
      _mm512_storeu_ps(panel + (whole * 8 + q) * 16,
                       load_pair8<true>(Type, a, a + w_row_bytes, c0 + 8 * whole, n));
    }
  }
}

// T activation rows (x_stride floats apart, from column c0 of the slice) times the slice's
// columns, `steps` whole steps of 8 and then `rem` (< 8) more, accumulated into their eight
// row-pair vectors each in lanes (T × 8 × 16 floats, zero where first): lane 8h + j of vector q of
// a token is lane j of dot_f32 for row 2q + h, column c of the row going to lane c % 8 as there.
template <int T>
INFERA_AVX512 void tokens_times_slice(const float* panel, int64_t steps, int64_t rem,
                                      const float* x, int64_t x_stride, bool first, float* lanes) {
  __m512 acc[kRows / 2][T];
  for (int q = 0; q < kRows / 2; ++q)
    for (int u = 0; u < T; ++u)
      acc[q][u] = first ? _mm512_setzero_ps() : _mm512_loadu_ps(lanes + (u * 8 + q) * 16);
  for (int64_t s = 0; s < steps; ++s) {
    __m512 xs[T];
    for (int u = 0; u < T; ++u) xs[u] = broadcast8(_mm256_loadu_ps(x + u * x_stride + 8 * s));
    for (int q = 0; q < kRows / 2; ++q) {
      __m512 wq = _mm512_loadu_ps(panel + (s * 8 + q) * 16);
      // One load of the weights for all T tokens, not one folded into every FMA.
      __asm__("" : "+v"(wq));
      for (int u = 0; u < T; ++u) acc[q][u] = _mm512_fmadd_ps(wq, xs[u], acc[q][u]);
    }
  }
  if (rem > 0) {  // the last columns of the row, fewer than 8
    const __mmask8 m8 = first_lanes8(rem);
    const __mmask16 m16 = static_cast<__mmask16>(m8 | (m8 << 8));
    __m512 xs[T];
    for (int u = 0; u < T; ++u)
      xs[u] = broadcast8(_mm256_maskz_loadu_ps(m8, x + u * x_stride + 8 * steps));
    for (int q = 0; q < kRows / 2; ++q) {
      const __m512 wq = _mm512_loadu_ps(panel + (steps * 8 + q) * 16);
      for (int u = 0; u < T; ++u) acc[q][u] = _mm512_mask3_fmadd_ps(wq, xs[u], acc[q][u], m16);
    }
  }
  for (int q = 0; q < kRows / 2; ++q)
    for (int u = 0; u < T; ++u) _mm512_storeu_ps(lanes + (u * 8 + q) * 16, acc[q][u]);
}

// Indices of the permutes in join_lanes (permutex2var: 0..15 the first vector, 16..31 the second).
struct JoinIndex {
  alignas(64) int32_t a1[16], b1[16], a2[16], b2[16], a3[16], b3[16];
};
constexpr JoinIndex make_join_index() {
  JoinIndex j{};
  // Level 1: s_k = l_k + l_(k+4) at lane 4ρ + k for row 4p + ρ, from vectors 2p and 2p + 1.
  for (int rho = 0; rho < 4; ++rho) {
    for (int k = 0; k < 4; ++k) {
      j.a1[rho * 4 + k] = rho * 8 + k;
      j.b1[rho * 4 + k] = rho * 8 + k + 4;
    }
  }
  // Level 2: s0 + s1 at lane σ and s2 + s3 at lane 8 + σ for row 8m + σ, from level-1 vectors 2m
  // and 2m + 1.
  for (int sg = 0; sg < 8; ++sg) {
    j.a2[sg] = sg * 4;
    j.a2[8 + sg] = sg * 4 + 2;
    j.b2[sg] = sg * 4 + 1;
    j.b2[8 + sg] = sg * 4 + 3;
  }
  // Level 3: (s0 + s1) + (s2 + s3) at lane r for row r, from level-2 vectors 0 and 1.
  for (int r = 0; r < 16; ++r) {
    j.a3[r] = (r / 8) * 16 + r % 8;
    j.b3[r] = (r / 8) * 16 + 8 + r % 8;
  }
  return j;
}
constexpr JoinIndex kJoin = make_join_index();

// dot_f32's join of the eight lanes, ((l0 + l4) + (l1 + l5)) + ((l2 + l6) + (l3 + l7)), for the 16
// rows of one token from its eight row-pair vectors at l: the result's lane r is row r.
INFERA_AVX512 inline __m512 join_lanes(const float* l) {
  const __m512i a1 = _mm512_load_si512(kJoin.a1), b1 = _mm512_load_si512(kJoin.b1);
  const __m512i a2 = _mm512_load_si512(kJoin.a2), b2 = _mm512_load_si512(kJoin.b2);
  const __m512i a3 = _mm512_load_si512(kJoin.a3), b3 = _mm512_load_si512(kJoin.b3);
  __m512 s[4], t[2];
  for (int p = 0; p < 4; ++p) {
    const __m512 v0 = _mm512_loadu_ps(l + 2 * p * 16), v1 = _mm512_loadu_ps(l + (2 * p + 1) * 16);
    s[p] = _mm512_add_ps(_mm512_permutex2var_ps(v0, a1, v1), _mm512_permutex2var_ps(v0, b1, v1));
  }
  for (int m = 0; m < 2; ++m)
    t[m] = _mm512_add_ps(_mm512_permutex2var_ps(s[2 * m], a2, s[2 * m + 1]),
                         _mm512_permutex2var_ps(s[2 * m], b2, s[2 * m + 1]));
  return _mm512_add_ps(_mm512_permutex2var_ps(t[0], a3, t[1]),
                       _mm512_permutex2var_ps(t[0], b3, t[1]));
}

}  // namespace

INFERA_AVX512 void float_panel16_avx512(TensorType type, const void* w_rows, uint64_t w_row_bytes,
                                        int64_t n_w_rows, const float* x, int64_t x_stride,
                                        int64_t n_tokens, int64_t n, float* y, int64_t y_stride) {
  const auto* w = static_cast<const uint8_t*>(w_rows);
  thread_local std::vector<float> panel_store, lane_store;
  // Both on 64-byte lines: a vector that straddles two lines costs two loads.
  auto aligned = [](std::vector<float>& v, int64_t floats) {
    v.resize(static_cast<size_t>(floats + 16));
    const auto at = reinterpret_cast<uintptr_t>(v.data());
    return v.data() + ((64 - at % 64) % 64) / sizeof(float);
  };
  // Every panel of the block as f32, slice after slice, for one block of columns: rewritten as
  // the first group of tokens reaches each slice, then read again (from L2) by the groups after it,
  // so that each group's activations are read from L2 by all the panels of the block rather than
  // from L3 by each.
  const int64_t n_panels = n_w_rows / kRows;
  const int64_t columns = std::min(n, kColumnBlock);
  const int64_t panel_floats = (columns + kSlice - 1) / kSlice * kSlice * kRows;
  float* panels = aligned(panel_store, n_panels * panel_floats);
  // The eight row-pair vectors of a token and panel, kept across slices (written by the first):
  // of each token of a group when the rows are one block of columns, else of every token and
  // panel until the last block of columns.
  const bool one_block = n <= kColumnBlock;
  const int64_t lane_sets = one_block ? std::min(n_tokens, kGroupTokens) : n_panels * n_tokens;
  float* lane_base = aligned(lane_store, lane_sets * 8 * kRows);
  auto lanes_of = [&](int64_t p, int64_t t) {
    return lane_base + (one_block ? t % kGroupTokens : p * n_tokens + t) * 8 * kRows;
  };
  const int64_t element_bytes = type == TensorType::F32 ? 4 : 2;
  for (int64_t b0 = 0; b0 < n; b0 += kColumnBlock) {
    const int64_t b_end = std::min(n, b0 + kColumnBlock);
    for (int64_t t0 = 0; t0 < n_tokens; t0 += kGroupTokens) {
      const int64_t g_tokens = std::min(kGroupTokens, n_tokens - t0);
      const float* xg = x + t0 * x_stride;
      const bool rewrite = t0 == 0;
      for (int64_t p = 0; p < n_panels; ++p) {
        const uint8_t* wp = w + p * kRows * w_row_bytes;
        for (int64_t c0 = b0; c0 < b_end; c0 += kSlice) {
          const int64_t len = std::min(kSlice, b_end - c0);
          float* slice = panels + p * panel_floats + (c0 - b0) * kRows;
          if (rewrite) {
            switch (type) {
              case TensorType::F32:
                rewrite_slice<TensorType::F32>(wp, w_row_bytes, c0, len, n, slice);
                break;
              case TensorType::F16:
                rewrite_slice<TensorType::F16>(wp, w_row_bytes, c0, len, n, slice);
                break;
              default:
                rewrite_slice<TensorType::BF16>(wp, w_row_bytes, c0, len, n, slice);
                break;
            }
          }
          const bool first = c0 == 0;
          const int64_t steps = len / 8, rem = len % 8;
          // The first group prefetches what it rewrites next; the others read the panel rewritten.
          std::optional<NextSlicePrefetch> next;
          if (rewrite)
            next.emplace(wp, w_row_bytes, c0 * element_bytes, len * element_bytes,
                         g_tokens / kTokens);
          const float* xs = xg + c0;
          int64_t u = 0;
          for (; u + kTokens <= g_tokens; u += kTokens) {
            if (next) next->before_pass();
            tokens_times_slice<kTokens>(slice, steps, rem, xs + u * x_stride, x_stride, first,
                                        lanes_of(p, t0 + u));
          }
          if (g_tokens - u == 2)
            tokens_times_slice<2>(slice, steps, rem, xs + u * x_stride, x_stride, first,
                                  lanes_of(p, t0 + u));
          else if (g_tokens - u == 1)
            tokens_times_slice<1>(slice, steps, rem, xs + u * x_stride, x_stride, first,
                                  lanes_of(p, t0 + u));
        }
        if (b_end == n) {
          for (int64_t u = 0; u < g_tokens; ++u)
            _mm512_storeu_ps(y + (t0 + u) * y_stride + p * kRows, join_lanes(lanes_of(p, t0 + u)));
        }
      }
    }
  }
}

}  // namespace infera

#endif  // x86
