// AVX2 quantization of activation rows to Q8_0 / Q8_1 / Q8_K blocks and their rounding through
// fp16: the same bits as the scalar code (quantize_q8_block in quantized_dot.cpp, the Q8_K
// quantizer of quant/), as quantize_avx512.cpp, 8 floats at a time.
#include "kernels/quantize_simd.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#include <cstring>

#include "quant/float16.h"

#define INFERA_AVX2 __attribute__((target("avx2,fma,f16c")))

namespace infera {
namespace {

// |v| with NaN as 0 (std::fmax skips NaN; amax starts at 0).
INFERA_AVX2 inline __m256 abs_or_zero(__m256 v) {
  const __m256 abs = _mm256_and_ps(v, _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff)));
  return _mm256_and_ps(abs, _mm256_cmp_ps(v, v, _CMP_ORD_Q));
}

INFERA_AVX2 inline float max8(__m256 v) {
  __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m = _mm_max_ps(m, _mm_movehl_ps(m, m));
  m = _mm_max_ss(m, _mm_movehdup_ps(m));
  return _mm_cvtss_f32(m);
}

// The wrapping sum of 8 int32 lanes (the scalar code sums as uint32).
INFERA_AVX2 inline int32_t wrapping_sum8(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
  return _mm_cvtsi128_si32(s);
}

// The low byte of each int32 of a and b (truncation, as the scalar static_cast<int8_t>; a NaN's
// INT_MIN gives 0), a's 8 then b's 8.
INFERA_AVX2 inline __m128i low_bytes16(__m256i a, __m256i b) {
  const __m256i pick =
      _mm256_setr_epi8(0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 0, 4, 8, 12, -1,
                       -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1);
  // Per input: dword 0 of each 128-bit half holds 4 bytes.
  const __m256i pa = _mm256_shuffle_epi8(a, pick);
  const __m256i pb = _mm256_shuffle_epi8(b, pick);
  const __m256i ab = _mm256_unpacklo_epi32(pa, pb);  // per half: a4 b4 (0, 0)
  // Dwords: [a0..3, b0..3, 0, 0 | a4..7, b4..7, 0, 0] → a0..3 a4..7 b0..3 b4..7.
  const __m256i order = _mm256_permutevar8x32_epi32(ab, _mm256_setr_epi32(0, 4, 1, 5, 0, 0, 0, 0));
  return _mm256_castsi256_si128(order);
}

template <typename Block>
INFERA_AVX2 inline int32_t quantize_block(const float* x, Block* y, float* d_out) {
  const __m256 v[4] = {_mm256_loadu_ps(x), _mm256_loadu_ps(x + 8), _mm256_loadu_ps(x + 16),
                       _mm256_loadu_ps(x + 24)};
  const float amax = max8(_mm256_max_ps(_mm256_max_ps(abs_or_zero(v[0]), abs_or_zero(v[1])),
                                        _mm256_max_ps(abs_or_zero(v[2]), abs_or_zero(v[3]))));
  const float d = amax / 127.0f;
  const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
  const __m256 vid = _mm256_set1_ps(id);
  __m256i q[4];
  // Current rounding mode (to nearest even), as std::nearbyint.
  for (int k = 0; k < 4; ++k) q[k] = _mm256_cvtps_epi32(_mm256_mul_ps(v[k], vid));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(y->qs), low_bytes16(q[0], q[1]));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(y->qs + 16), low_bytes16(q[2], q[3]));
  y->d = fp32_to_fp16(d);
  *d_out = d;
  return wrapping_sum8(
      _mm256_add_epi32(_mm256_add_epi32(q[0], q[1]), _mm256_add_epi32(q[2], q[3])));
}

}  // namespace

INFERA_AVX2 void quantize_q8_0_avx2(const float* x, block_q8_0* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    float d;
    quantize_block(x + 32 * i, y + i, &d);
  }
}

INFERA_AVX2 void quantize_q8_1_avx2(const float* x, block_q8_1* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    float d;
    const int32_t sum = quantize_block(x + 32 * i, y + i, &d);
    y[i].s = fp32_to_fp16(d * static_cast<float>(sum));
  }
}

INFERA_AVX2 void quantize_q8_K_avx2(const float* x, block_q8_K* y, int64_t nb) {
  constexpr int kVectors = QK_K / 8;
  for (int64_t i = 0; i < nb; ++i, x += QK_K) {
    __m256 v[kVectors];
    __m256 m = _mm256_setzero_ps();
    for (int k = 0; k < kVectors; ++k) {
      v[k] = _mm256_loadu_ps(x + 8 * k);
      // NaN as 0: the reference's `|x| > amax` never takes a NaN.
      m = _mm256_max_ps(m, abs_or_zero(v[k]));
    }
    const float amax = max8(m);
    block_q8_K& b = y[i];
    if (amax == 0.0f) {
      b.d = 0.0f;
      std::memset(b.qs, 0, sizeof b.qs);
      std::memset(b.bsums, 0, sizeof b.bsums);
      continue;
    }
    // The first value of largest magnitude sets the scale, as in the reference.
    float max = 0.0f;
    for (int k = 0; k < kVectors; ++k) {
      const int at =
          _mm256_movemask_ps(_mm256_cmp_ps(abs_or_zero(v[k]), _mm256_set1_ps(amax), _CMP_EQ_OQ));
      if (at != 0) {
        max = x[8 * k + __builtin_ctz(static_cast<unsigned>(at))];
        break;
      }
    }
    const float iscale = -127.0f / max;
    const __m256 vscale = _mm256_set1_ps(iscale);
    for (int k = 0; k < kVectors; k += 2) {
      __m256i q[2];
      for (int h = 0; h < 2; ++h) {
        // nearest_int(iscale · x): + 1.5 · 2^23 leaves the rounded value + 2^22 in the low
        // mantissa bits (NaN gives 0), then at most 127 (as quantize_avx512.cpp).
        const __m256 shifted =
            _mm256_add_ps(_mm256_mul_ps(vscale, v[k + h]), _mm256_set1_ps(12582912.0f));
        q[h] = _mm256_min_epi32(_mm256_sub_epi32(_mm256_and_si256(_mm256_castps_si256(shifted),
                                                                  _mm256_set1_epi32(0x007fffff)),
                                                 _mm256_set1_epi32(0x00400000)),
                                _mm256_set1_epi32(127));
      }
      _mm_storeu_si128(reinterpret_cast<__m128i*>(b.qs + 8 * k), low_bytes16(q[0], q[1]));
      b.bsums[k / 2] = static_cast<int16_t>(wrapping_sum8(_mm256_add_epi32(q[0], q[1])));
    }
    b.d = 1.0f / iscale;
  }
}

INFERA_AVX2 void round_to_fp16_avx2(const float* x, float* y, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 v = _mm256_loadu_ps(x + i);
    // vcvtps2ph rounds to nearest even as fp32_to_fp16 does, but quiets a NaN: those go scalar.
    if (_mm256_movemask_ps(_mm256_cmp_ps(v, v, _CMP_UNORD_Q)) != 0) {
      for (int64_t j = i; j < i + 8; ++j) y[j] = fp16_to_fp32(fp32_to_fp16(x[j]));
      continue;
    }
    const __m128i h = _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    _mm256_storeu_ps(y + i, _mm256_cvtph_ps(h));
  }
  for (; i < n; ++i) y[i] = fp16_to_fp32(fp32_to_fp16(x[i]));
}

}  // namespace infera

#endif  // x86
