// AVX-512: a panel of 16 F32/F16/BF16 weight rows times many f32 activation rows, the
// prompt-processing GEMM of float weights. The panel is first rewritten as f32 with lane r of a
// vector holding row r (element i of the 16 rows in one vector), a slice of columns at a time so
// that it stays in L1. Then each activation x_i, broadcast, weights the 16 rows at once. dot_f32's
// eight lanes become eight vectors, element i going to vector i % 8, each step one fused
// multiply-add as in dot_f32, and the lanes join in dot_f32's tree: the same bits as the
// reference per row.
#include "kernels/float_dot.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <vector>

// GCC 12's _mm512_undefined_*() initialise a variable with itself, which -Wall reports as "used"
// or "may be used uninitialized" wherever an intrinsic built on them is inlined: a false positive.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

#define INFERA_AVX512 __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl")))

namespace infera {
namespace {

#include "kernels/panel_avx512.inc"

constexpr int kRows = 16;
// Columns rewritten at a time: 16 rows × 256 columns × 4 bytes = 16 KiB.
constexpr int64_t kSlice = 256;
// Activation rows that share each load of the panel: 3 × 8 lane vectors take 24 of the 32 zmm
// registers. Per column, one panel load and 3 broadcasts feed 3 FMAs; the loads bound the loop
// (2 tokens: 3 loads per 2 FMAs, F32 t128 62 GFLOP/s against 96 for 3 tokens on one core).
constexpr int kTokens = 3;

// Elements [c0, c0 + 16) of one row as f32 (the lanes at or past n read as 0).
INFERA_AVX512 inline __m512 load_row16(TensorType type, const uint8_t* row, int64_t c0, int64_t n) {
  const int64_t left = n - c0;
  const __mmask16 lanes =
      left >= 16 ? static_cast<__mmask16>(0xffff) : static_cast<__mmask16>((1u << left) - 1);
  switch (type) {
    case TensorType::F32:
      return _mm512_maskz_loadu_ps(lanes, reinterpret_cast<const float*>(row) + c0);
    case TensorType::F16:
      return _mm512_cvtph_ps(
          _mm256_maskz_loadu_epi16(lanes, reinterpret_cast<const uint16_t*>(row) + c0));
    default: {  // BF16: the bits of the upper half of an f32
      const __m256i h =
          _mm256_maskz_loadu_epi16(lanes, reinterpret_cast<const uint16_t*>(row) + c0);
      return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
    }
  }
}

// Columns [c0, c0 + len) of the 16 rows into panel[i - c0] (16 floats: the rows' element i).
INFERA_AVX512 void rewrite_slice(TensorType type, const uint8_t* w, uint64_t w_row_bytes,
                                 int64_t c0, int64_t len, int64_t n, float* panel) {
  for (int64_t c = 0; c < len; c += 16) {
    __m512 in[16], out[16];
    for (int r = 0; r < kRows; ++r) in[r] = load_row16(type, w + r * w_row_bytes, c0 + c, n);
    transpose16(in, out);
    for (int i = 0; i < 16; ++i) _mm512_storeu_ps(panel + (c + i) * kRows, out[i]);
  }
}

// T activation rows (x_stride floats apart, from column c0 of the slice) times the slice's len
// columns, accumulated into their eight lane vectors each in lanes (T × 8 × 16 floats, zero where
// first). c0 is a multiple of 8, so column i of the slice goes to lane i % 8.
template <int T>
INFERA_AVX512 inline void tokens_times_slice(const float* panel, int64_t len, const float* x,
                                             int64_t x_stride, bool first, float* lanes) {
  __m512 lane[T][8];
  for (int u = 0; u < T; ++u)
    for (int j = 0; j < 8; ++j)
      lane[u][j] = first ? _mm512_setzero_ps() : _mm512_loadu_ps(lanes + (u * 8 + j) * kRows);
  int64_t i0 = 0;
  for (; i0 + 8 <= len; i0 += 8) {
    for (int j = 0; j < 8; ++j) {
      __m512 wi = _mm512_loadu_ps(panel + (i0 + j) * kRows);
      // One load of the weights for all T tokens: left to itself, GCC folds it into every FMA,
      // and the loads, not the FMAs, bound the loop.
      __asm__("" : "+v"(wi));
      for (int u = 0; u < T; ++u)
        lane[u][j] = _mm512_fmadd_ps(wi, _mm512_set1_ps(x[u * x_stride + i0 + j]), lane[u][j]);
    }
  }
  if (i0 < len) {  // the last columns of the row, fewer than 8
    for (int j = 0; j < 8; ++j) {
      if (i0 + j >= len) break;
      const __m512 wi = _mm512_loadu_ps(panel + (i0 + j) * kRows);
      for (int u = 0; u < T; ++u)
        lane[u][j] = _mm512_fmadd_ps(wi, _mm512_set1_ps(x[u * x_stride + i0 + j]), lane[u][j]);
    }
  }
  for (int u = 0; u < T; ++u)
    for (int j = 0; j < 8; ++j) _mm512_storeu_ps(lanes + (u * 8 + j) * kRows, lane[u][j]);
}

}  // namespace

INFERA_AVX512 void float_panel16_avx512(TensorType type, const void* w_rows, uint64_t w_row_bytes,
                                        const float* x, int64_t x_stride, int64_t n_tokens,
                                        int64_t n, float* y, int64_t y_stride) {
  const auto* w = static_cast<const uint8_t*>(w_rows);
  thread_local std::vector<float> panel_store, lane_store;
  panel_store.resize(static_cast<size_t>((kSlice + 16) * kRows));
  // The eight lane vectors of every token, kept across slices.
  lane_store.resize(static_cast<size_t>(n_tokens * 8 * kRows));  // written by the first slice
  float* panel = panel_store.data();
  for (int64_t c0 = 0; c0 < n; c0 += kSlice) {
    const int64_t len = std::min(kSlice, n - c0);
    rewrite_slice(type, w, w_row_bytes, c0, len, n, panel);
    const bool first = c0 == 0;
    auto lanes_of = [&](int64_t t) { return lane_store.data() + t * 8 * kRows; };
    int64_t t = 0;
    for (; t + kTokens <= n_tokens; t += kTokens)
      tokens_times_slice<kTokens>(panel, len, x + t * x_stride + c0, x_stride, first, lanes_of(t));
    if (n_tokens - t == 2)
      tokens_times_slice<2>(panel, len, x + t * x_stride + c0, x_stride, first, lanes_of(t));
    else if (n_tokens - t == 1)
      tokens_times_slice<1>(panel, len, x + t * x_stride + c0, x_stride, first, lanes_of(t));
  }
  for (int64_t t = 0; t < n_tokens; ++t) {
    const float* l = lane_store.data() + t * 8 * kRows;
    __m512 v[8];
    for (int k = 0; k < 8; ++k) v[k] = _mm512_loadu_ps(l + k * kRows);
    const __m512 sum =
        _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(v[0], v[4]), _mm512_add_ps(v[1], v[5])),
                      _mm512_add_ps(_mm512_add_ps(v[2], v[6]), _mm512_add_ps(v[3], v[7])));
    _mm512_storeu_ps(y + t * y_stride, sum);
  }
}

}  // namespace infera

#endif  // x86
