// AVX-512 quantization of activation rows to Q8_0 / Q8_1 blocks: the same bits as
// quantize_q8_block in quantized_dot.cpp (amax ignoring NaN, 127 / amax, round half to even, the
// int sum of the quants), 32 elements in two vectors.
#include "kernels/quantize_simd.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cstring>

#include "kernels/avx512_intrinsics.h"
#include "quant/float16.h"

#define INFERA_AVX512 __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl")))

namespace infera {
namespace {

// max(|x|) over 32 floats, NaN taken as 0 (std::fmax skips NaN; amax starts at 0).
INFERA_AVX512 inline float abs_max32(__m512 a, __m512 b) {
  const __m512 abs_a = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(a, a, _CMP_ORD_Q), _mm512_abs_ps(a));
  const __m512 abs_b = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(b, b, _CMP_ORD_Q), _mm512_abs_ps(b));
  return _mm512_reduce_max_ps(_mm512_max_ps(abs_a, abs_b));
}

// Quantizes one block; returns the int sum of its quants.
template <typename Block>
INFERA_AVX512 inline int quantize_block(const float* x, Block* y, float* d_out) {
  const __m512 a = _mm512_loadu_ps(x);
  const __m512 b = _mm512_loadu_ps(x + 16);
  const float amax = abs_max32(a, b);
  const float d = amax / 127.0f;
  const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
  const __m512 vid = _mm512_set1_ps(id);
  // Current rounding mode (to nearest even), as std::nearbyint.
  const __m512i qa = _mm512_cvtps_epi32(_mm512_mul_ps(a, vid));
  const __m512i qb = _mm512_cvtps_epi32(_mm512_mul_ps(b, vid));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(y->qs), _mm512_cvtepi32_epi8(qa));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(y->qs + 16), _mm512_cvtepi32_epi8(qb));
  y->d = fp32_to_fp16(d);
  *d_out = d;
  // Vector adds wrap, as the scalar quantizer's unsigned sum does (only NaN or infinite inputs,
  // whose quants are INT_MIN, can overflow); _mm512_reduce_add_epi32 would add as signed int.
  const __m256i s8 = _mm256_add_epi32(_mm512_castsi512_si256(_mm512_add_epi32(qa, qb)),
                                      _mm512_extracti64x4_epi64(_mm512_add_epi32(qa, qb), 1));
  alignas(32) uint32_t lanes[8];
  _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), s8);
  uint32_t sum = 0;
  for (uint32_t l : lanes) sum += l;
  return static_cast<int32_t>(sum);
}

}  // namespace

INFERA_AVX512 void quantize_q8_0_avx512(const float* x, block_q8_0* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    float d;
    quantize_block(x + 32 * i, y + i, &d);
  }
}

INFERA_AVX512 void quantize_q8_1_avx512(const float* x, block_q8_1* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    float d;
    const int sum = quantize_block(x + 32 * i, y + i, &d);
    y[i].s = fp32_to_fp16(d * static_cast<float>(sum));
  }
}

INFERA_AVX512 void quantize_q8_K_avx512(const float* x, block_q8_K* y, int64_t nb) {
  constexpr int kVectors = QK_K / 16;  // one per bsum
  for (int64_t i = 0; i < nb; ++i, x += QK_K) {
    __m512 v[kVectors], abs[kVectors];
    __m512 m = _mm512_setzero_ps();
    for (int k = 0; k < kVectors; ++k) {
      v[k] = _mm512_loadu_ps(x + 16 * k);
      // NaN as 0: the reference's `|x| > amax` never takes a NaN.
      abs[k] = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(v[k], v[k], _CMP_ORD_Q), _mm512_abs_ps(v[k]));
      m = _mm512_max_ps(m, abs[k]);
    }
    const float amax = _mm512_reduce_max_ps(m);
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
      const __mmask16 at = _mm512_cmp_ps_mask(abs[k], _mm512_set1_ps(amax), _CMP_EQ_OQ);
      if (at != 0) {
        max = x[16 * k + __builtin_ctz(at)];
        break;
      }
    }
    const float iscale = -127.0f / max;
    const __m512 vscale = _mm512_set1_ps(iscale);
    for (int k = 0; k < kVectors; ++k) {
      // nearest_int(iscale · x): + 1.5 · 2^23 leaves the rounded value + 2^22 in the low mantissa
      // bits (NaN gives 0), then at most 127. Every result lies in -127 … 127 (|x| <= |max|;
      // an infinite max makes the scale ±0 and the products 0 or NaN).
      const __m512 shifted =
          _mm512_add_ps(_mm512_mul_ps(vscale, v[k]), _mm512_set1_ps(12582912.0f));
      __m512i q = _mm512_sub_epi32(
          _mm512_and_si512(_mm512_castps_si512(shifted), _mm512_set1_epi32(0x007fffff)),
          _mm512_set1_epi32(0x00400000));
      q = _mm512_min_epi32(q, _mm512_set1_epi32(127));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(b.qs + 16 * k), _mm512_cvtepi32_epi8(q));
      b.bsums[k] = static_cast<int16_t>(_mm512_reduce_add_epi32(q));
    }
    b.d = 1.0f / iscale;
  }
}

INFERA_AVX512 void round_to_fp16_avx512(const float* x, float* y, int64_t n) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m512 v = _mm512_loadu_ps(x + i);
    // vcvtps2ph rounds to nearest even as fp32_to_fp16 does, but quiets a NaN: those go scalar.
    if (_mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q) != 0) {
      for (int64_t j = i; j < i + 16; ++j) y[j] = fp16_to_fp32(fp32_to_fp16(x[j]));
      continue;
    }
    const __m256i h = _mm512_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    _mm512_storeu_ps(y + i, _mm512_cvtph_ps(h));
  }
  for (; i < n; ++i) y[i] = fp16_to_fp32(fp32_to_fp16(x[i]));
}

}  // namespace infera

#endif  // x86
