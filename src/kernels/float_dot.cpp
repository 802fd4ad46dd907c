#include "kernels/float_dot.h"

#include <algorithm>
#include <cmath>

#include "kernels/cpu_features.h"
#include "kernels/row_stream_prefetch.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#define INFERA_AVX2 __attribute__((target("avx2,fma,f16c")))

namespace infera {
namespace {

// Eight f32 weights from the row, converted exactly.
template <TensorType T>
INFERA_AVX2 inline __m256 load8(const uint8_t* w, int64_t i) {
  if constexpr (T == TensorType::F32) {
    return _mm256_loadu_ps(reinterpret_cast<const float*>(w) + i);
  } else if constexpr (T == TensorType::F16) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w + 2 * i)));
  } else {
    // bf16 is the high half of an f32.
    const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(w + 2 * i));
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
  }
}

template <TensorType T>
INFERA_AVX2 inline float load1(const uint8_t* w, int64_t i) {
  uint16_t h;
  if constexpr (T == TensorType::F32) {
    float f;
    __builtin_memcpy(&f, w + 4 * i, 4);
    return f;
  } else {
    __builtin_memcpy(&h, w + 2 * i, 2);
    if constexpr (T == TensorType::F16) {
      return _cvtsh_ss(h);
    } else {
      const uint32_t bits = static_cast<uint32_t>(h) << 16;
      float f;
      __builtin_memcpy(&f, &bits, 4);
      return f;
    }
  }
}

inline float sum_lanes(const float* lane) {
  return ((lane[0] + lane[4]) + (lane[1] + lane[5])) + ((lane[2] + lane[6]) + (lane[3] + lane[7]));
}

// R weight rows (w_row_bytes apart) times one activation row, into y[r]. Each row's eight lanes
// are one chain of FMAs, bound by their latency (4 cycles per 8 elements): R chains side by side
// keep both FMA ports busy, and the activations are loaded once for all R rows.
template <TensorType T, int R>
INFERA_AVX2 void dot_w_rows(const uint8_t* w, uint64_t w_row_bytes, const float* x, int64_t n,
                            float* y) {
  __m256 acc[R];
  for (int r = 0; r < R; ++r) acc[r] = _mm256_setzero_ps();
  constexpr int64_t kElementBytes = T == TensorType::F32 ? 4 : 2;
  const RowStreamPrefetch prefetch(w_row_bytes, R, kDecodeRowLeadBytes);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    if (const uint64_t pos = i * kElementBytes; pos % 64 == 0) {
      const uint64_t bytes = std::min<uint64_t>(64, w_row_bytes - pos);
      for (int r = 0; r < R; ++r) prefetch(w + r * w_row_bytes, pos, bytes);
    }
    const __m256 xv = _mm256_loadu_ps(x + i);
    for (int r = 0; r < R; ++r)
      acc[r] = _mm256_fmadd_ps(load8<T>(w + r * w_row_bytes, i), xv, acc[r]);
  }
  for (int r = 0; r < R; ++r) {
    alignas(32) float lane[8];
    _mm256_store_ps(lane, acc[r]);
    for (int64_t k = i, j = 0; k < n; ++k, ++j)
      lane[j] = std::fma(load1<T>(w + r * w_row_bytes, k), x[k], lane[j]);
    y[r] = sum_lanes(lane);
  }
}

// Activation rows a tile takes (kTileTokens; the last two of a prefill go together as well) and
// weight rows it takes at a time (kTileRows, fewer for the last rows of a chunk).
constexpr int kTileTokens = 3;
constexpr int kTileRows = 4;
// Columns of a tile's activation rows multiplied before the next weight rows: 3 × 2048 f32 = 24
// KiB of activations stay in L1 while every weight row of the chunk streams past them from L2.
// Blocks of 512 or 1024 columns ran 5–10 % slower: each block reloads and stores the tile's sums.
constexpr int64_t kColumnBlock = 2048;
// Weight rows whose partial sums a tile keeps between column blocks (3 KiB of lanes).
constexpr int64_t kChunkRows = 32;

// The eight lanes of each of R (1 to 4) rows' sums combined as sum_lanes does, into y[0, R):
// ((l0 + l4) + (l1 + l5)) + ((l2 + l6) + (l3 + l7)) is the halves added, then two pairwise adds.
template <int R>
INFERA_AVX2 inline void store_row_sums(const __m256* acc, float* y) {
  __m128 half[4];
  for (int r = 0; r < 4; ++r)
    half[r] = r < R ? _mm_add_ps(_mm256_castps256_ps128(acc[r]), _mm256_extractf128_ps(acc[r], 1))
                    : _mm_setzero_ps();
  const __m128 sums = _mm_hadd_ps(_mm_hadd_ps(half[0], half[1]), _mm_hadd_ps(half[2], half[3]));
  if constexpr (R == 4) {
    _mm_storeu_ps(y, sums);
  } else {
    alignas(16) float s[4];
    _mm_store_ps(s, sums);
    for (int r = 0; r < R; ++r) y[r] = s[r];
  }
}

// R (1 to 4) weight rows times TT activation rows over columns [begin, end) (whole vectors). Each
// (row, token) is one chain of FMAs over the columns in order, in eight lanes: the first block
// starts them at zero, later ones continue them from lanes[r][t] (R × TT × 8 floats); a block that
// ends the row stores the sums into y[t · y_stride + r] where y is given, else the lanes. So the
// bits are dot_f32's however the columns are blocked. Four rows × three tokens are twelve
// independent chains, where an FMA's latency of 4 cycles on two ports needs eight in flight: with
// exactly eight (two rows × four tokens) a late operand left a port idle, and the kernel ran 8–17 %
// slower (2 threads). The 12 sums, 3 activation vectors and the weight vector fill the 16
// registers; each weight vector is converted once for three tokens and each activation vector
// loaded once for four rows.
template <TensorType T, int R, int TT>
INFERA_AVX2 void fma_tile(const uint8_t* w, uint64_t w_row_bytes, const float* x, int64_t x_stride,
                          int64_t begin, int64_t end, float* lanes, float* y, int64_t y_stride) {
  __m256 acc[R][TT];
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < TT; ++t)
      acc[r][t] = begin == 0 ? _mm256_setzero_ps() : _mm256_loadu_ps(lanes + (r * TT + t) * 8);
  for (int64_t i = begin; i < end; i += 8) {
    __m256 xv[TT];
    for (int t = 0; t < TT; ++t) xv[t] = _mm256_loadu_ps(x + t * x_stride + i);
    // Each loaded once into a register for all R rows: GCC 12 otherwise folds the load into each
    // row's FMA, and the loads outran the two 256-bit loads a cycle.
    if constexpr (R > 1) {
      static_assert(TT == 2 || TT == 3);
      if constexpr (TT == 3) __asm__("" : "+x"(xv[0]), "+x"(xv[1]), "+x"(xv[2]));
      if constexpr (TT == 2) __asm__("" : "+x"(xv[0]), "+x"(xv[1]));
    }
    for (int r = 0; r < R; ++r) {
      const __m256 wv = load8<T>(w + r * w_row_bytes, i);
      for (int t = 0; t < TT; ++t) acc[r][t] = _mm256_fmadd_ps(wv, xv[t], acc[r][t]);
    }
  }
  if (y != nullptr) {
    // The sums leave in registers, four rows of a token in one store: through the lanes in memory
    // and one scalar store each (y's rows are a whole row of outputs apart), the kernel ran ~10 %
    // slower (one thread, 2048 × 2048 by 128 tokens).
    for (int t = 0; t < TT; ++t) {
      __m256 col[R];
      for (int r = 0; r < R; ++r) col[r] = acc[r][t];
      store_row_sums<R>(col, y + t * y_stride);
    }
    return;
  }
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < TT; ++t) _mm256_storeu_ps(lanes + (r * TT + t) * 8, acc[r][t]);
}

// fma_tile for the last 1 to 3 rows of a chunk.
template <TensorType T, int TT>
INFERA_AVX2 void fma_tile_rest(int64_t rows, const uint8_t* w, uint64_t w_row_bytes, const float* x,
                               int64_t x_stride, int64_t begin, int64_t end, float* lanes, float* y,
                               int64_t y_stride) {
  switch (rows) {
    case 3:
      return fma_tile<T, 3, TT>(w, w_row_bytes, x, x_stride, begin, end, lanes, y, y_stride);
    case 2:
      return fma_tile<T, 2, TT>(w, w_row_bytes, x, x_stride, begin, end, lanes, y, y_stride);
    default:
      return fma_tile<T, 1, TT>(w, w_row_bytes, x, x_stride, begin, end, lanes, y, y_stride);
  }
}

// n_w_rows (at most kChunkRows) weight rows times TT activation rows, column block by column
// block; where the columns are not whole vectors, each sum's tail columns and lanes after.
template <TensorType T, int TT>
INFERA_AVX2 void dot_tile_chunk(const uint8_t* w, uint64_t w_row_bytes, int64_t n_w_rows,
                                const float* x, int64_t x_stride, int64_t n, float* y,
                                int64_t y_stride) {
  alignas(32) float lanes[kChunkRows][TT][8];
  const int64_t whole = n / 8 * 8;
  if (whole == 0) std::fill_n(&lanes[0][0][0], kChunkRows * TT * 8, 0.0f);
  for (int64_t begin = 0; begin < whole; begin += kColumnBlock) {
    const int64_t end = std::min(begin + kColumnBlock, whole);
    const bool into_y = end == n;
    int64_t r = 0;
    for (; r + kTileRows <= n_w_rows; r += kTileRows)
      fma_tile<T, kTileRows, TT>(w + r * w_row_bytes, w_row_bytes, x, x_stride, begin, end,
                                 &lanes[r][0][0], into_y ? y + r : nullptr, y_stride);
    if (r < n_w_rows)
      fma_tile_rest<T, TT>(n_w_rows - r, w + r * w_row_bytes, w_row_bytes, x, x_stride, begin, end,
                           &lanes[r][0][0], into_y ? y + r : nullptr, y_stride);
  }
  if (whole == n) return;
  for (int64_t r = 0; r < n_w_rows; ++r) {
    for (int t = 0; t < TT; ++t) {
      float* lane = lanes[r][t];
      for (int64_t k = whole, j = 0; k < n; ++k, ++j)
        lane[j] = std::fma(load1<T>(w + r * w_row_bytes, k), x[t * x_stride + k], lane[j]);
      y[t * y_stride + r] = sum_lanes(lane);
    }
  }
}

// Every chunk of weight rows times the TT activation rows at x.
template <TensorType T, int TT>
void dot_rows_tile(const uint8_t* w, uint64_t w_row_bytes, int64_t n_w_rows, const float* x,
                   int64_t x_stride, int64_t n, float* y, int64_t y_stride) {
  for (int64_t r = 0; r < n_w_rows; r += kChunkRows)
    dot_tile_chunk<T, TT>(w + r * w_row_bytes, w_row_bytes, std::min(kChunkRows, n_w_rows - r), x,
                          x_stride, n, y + r, y_stride);
}

template <TensorType T>
void dot_rows(const uint8_t* w, uint64_t w_row_bytes, int64_t n_w_rows, const float* x,
              int64_t x_stride, int64_t n_x_rows, int64_t n, float* y, int64_t y_stride) {
  int64_t t = 0;
  // Three activation rows at a time, a chunk of weight rows at a time, then two left together ...
  for (; t + kTileTokens <= n_x_rows; t += kTileTokens)
    dot_rows_tile<T, kTileTokens>(w, w_row_bytes, n_w_rows, x + t * x_stride, x_stride, n,
                                  y + t * y_stride, y_stride);
  if (n_x_rows - t == 2)
    return dot_rows_tile<T, 2>(w, w_row_bytes, n_w_rows, x + t * x_stride, x_stride, n,
                               y + t * y_stride, y_stride);
  if (t == n_x_rows) return;
  // ... or one alone (decode), up to four weight rows at a time.
  const float* xt = x + t * x_stride;
  float* yt = y + t * y_stride;
  int64_t r = 0;
  for (; r + 4 <= n_w_rows; r += 4)
    dot_w_rows<T, 4>(w + r * w_row_bytes, w_row_bytes, xt, n, yt + r);
  switch (n_w_rows - r) {
    case 3:
      dot_w_rows<T, 3>(w + r * w_row_bytes, w_row_bytes, xt, n, yt + r);
      break;
    case 2:
      dot_w_rows<T, 2>(w + r * w_row_bytes, w_row_bytes, xt, n, yt + r);
      break;
    case 1:
      dot_w_rows<T, 1>(w + r * w_row_bytes, w_row_bytes, xt, n, yt + r);
      break;
    default:
      break;
  }
}

}  // namespace

bool float_dot_simd_available(TensorType type) {
  return (type == TensorType::F32 || type == TensorType::F16 || type == TensorType::BF16) &&
         active_isa() != Isa::kScalar;
}

// Rows of float_panel16_avx512's panel.
constexpr int64_t kFloatPanelRows = 16;

int64_t float_dot_panel_rows(TensorType type) {
  return float_dot_simd_available(type) && active_isa() == Isa::kAvx512 ? kFloatPanelRows : 0;
}

int64_t float_dot_panel_bytes(int64_t n) {
  return kFloatPanelRows * std::clamp<int64_t>(n, 1, kFloatPanelColumnBlock) *
         static_cast<int64_t>(sizeof(float));
}

void float_dot_panel(TensorType type, const void* w, uint64_t w_row_bytes, int64_t n_w_rows,
                     const float* x, int64_t x_stride, int64_t n_rows, int64_t n, float* y,
                     int64_t y_stride) {
  float_panel16_avx512(type, w, w_row_bytes, n_w_rows, x, x_stride, n_rows, n, y, y_stride);
}

void float_dot_simd_rows(TensorType type, const void* w_rows, uint64_t w_row_bytes,
                         int64_t n_w_rows, const float* x, int64_t x_stride, int64_t n_x_rows,
                         int64_t n, float* y, int64_t y_stride) {
  const auto* w = static_cast<const uint8_t*>(w_rows);
  switch (type) {
    case TensorType::F32:
      return dot_rows<TensorType::F32>(w, w_row_bytes, n_w_rows, x, x_stride, n_x_rows, n, y,
                                       y_stride);
    case TensorType::F16:
      return dot_rows<TensorType::F16>(w, w_row_bytes, n_w_rows, x, x_stride, n_x_rows, n, y,
                                       y_stride);
    default:
      return dot_rows<TensorType::BF16>(w, w_row_bytes, n_w_rows, x, x_stride, n_x_rows, n, y,
                                        y_stride);
  }
}

}  // namespace infera

#else

namespace infera {
bool float_dot_simd_available(TensorType) { return false; }
int64_t float_dot_panel_rows(TensorType) { return 0; }
int64_t float_dot_panel_bytes(int64_t) { return 0; }
void float_dot_panel(TensorType, const void*, uint64_t, int64_t, const float*, int64_t, int64_t,
                     int64_t, float*, int64_t) {}
void float_dot_simd_rows(TensorType, const void*, uint64_t, int64_t, const float*, int64_t, int64_t,
                         int64_t, float*, int64_t) {}
}  // namespace infera

#endif
