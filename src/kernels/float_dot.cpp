#include "kernels/float_dot.h"

#include "kernels/cpu_features.h"

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

template <TensorType T>
INFERA_AVX2 float dot_row(const uint8_t* w, const float* x, int64_t n) {
  __m256 acc = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 p = _mm256_mul_ps(load8<T>(w, i), _mm256_loadu_ps(x + i));
    __asm__("" : "+x"(p));  // the product is rounded before the add, as in the reference
    acc = _mm256_add_ps(acc, p);
  }
  alignas(32) float lane[8];
  _mm256_store_ps(lane, acc);
  for (int j = 0; i < n; ++i, ++j) {
    float p = load1<T>(w, i) * x[i];
    __asm__("" : "+x"(p));
    lane[j] += p;
  }
  return ((lane[0] + lane[4]) + (lane[1] + lane[5])) + ((lane[2] + lane[6]) + (lane[3] + lane[7]));
}

inline float sum_lanes(const float* lane) {
  return ((lane[0] + lane[4]) + (lane[1] + lane[5])) + ((lane[2] + lane[6]) + (lane[3] + lane[7]));
}

// Four activation rows at once: four independent accumulator chains hide the add latency, and
// each weight vector is converted once for all four.
template <TensorType T>
INFERA_AVX2 void dot_row4(const uint8_t* w, const float* x, int64_t x_stride, int64_t n, float* y,
                          int64_t y_stride) {
  __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(),
                   _mm256_setzero_ps()};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 wv = load8<T>(w, i);
    for (int t = 0; t < 4; ++t) {
      __m256 p = _mm256_mul_ps(wv, _mm256_loadu_ps(x + t * x_stride + i));
      __asm__("" : "+x"(p));
      acc[t] = _mm256_add_ps(acc[t], p);
    }
  }
  for (int t = 0; t < 4; ++t) {
    alignas(32) float lane[8];
    _mm256_store_ps(lane, acc[t]);
    for (int64_t k = i, j = 0; k < n; ++k, ++j) {
      float p = load1<T>(w, k) * x[t * x_stride + k];
      __asm__("" : "+x"(p));
      lane[j] += p;
    }
    y[t * y_stride] = sum_lanes(lane);
  }
}

template <TensorType T>
void dot_rows(const uint8_t* w, const float* x, int64_t x_stride, int64_t n_rows, int64_t n,
              float* y, int64_t y_stride) {
  int64_t t = 0;
  for (; t + 4 <= n_rows; t += 4)
    dot_row4<T>(w, x + t * x_stride, x_stride, n, y + t * y_stride, y_stride);
  for (; t < n_rows; ++t) y[t * y_stride] = dot_row<T>(w, x + t * x_stride, n);
}

}  // namespace

bool float_dot_simd_available(TensorType type) {
  return (type == TensorType::F32 || type == TensorType::F16 || type == TensorType::BF16) &&
         active_isa() != Isa::kScalar;
}

int64_t float_dot_panel_rows(TensorType type) {
  return float_dot_simd_available(type) && active_isa() == Isa::kAvx512 ? 16 : 0;
}

void float_dot_panel(TensorType type, const void* w, uint64_t w_row_bytes, const float* x,
                     int64_t x_stride, int64_t n_rows, int64_t n, float* y, int64_t y_stride) {
  float_panel16_avx512(type, w, w_row_bytes, x, x_stride, n_rows, n, y, y_stride);
}

void float_dot_simd_rows(TensorType type, const void* w_row, const float* x, int64_t x_stride,
                         int64_t n_rows, int64_t n, float* y, int64_t y_stride) {
  const auto* w = static_cast<const uint8_t*>(w_row);
  switch (type) {
    case TensorType::F32:
      return dot_rows<TensorType::F32>(w, x, x_stride, n_rows, n, y, y_stride);
    case TensorType::F16:
      return dot_rows<TensorType::F16>(w, x, x_stride, n_rows, n, y, y_stride);
    default:
      return dot_rows<TensorType::BF16>(w, x, x_stride, n_rows, n, y, y_stride);
  }
}

}  // namespace infera

#else

namespace infera {
bool float_dot_simd_available(TensorType) { return false; }
int64_t float_dot_panel_rows(TensorType) { return 0; }
void float_dot_panel(TensorType, const void*, uint64_t, const float*, int64_t, int64_t, int64_t,
                     float*, int64_t) {}
void float_dot_simd_rows(TensorType, const void*, const float*, int64_t, int64_t, int64_t, float*,
                         int64_t) {}
}  // namespace infera

#endif
