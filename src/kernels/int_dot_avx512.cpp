// AVX-512 kernels of int_dot.h (F, BW, VL and VNNI): the layout of int_dot_avx2.cpp, with the
// integer products done by VNNI dot instructions (vpdpbusd: u8 × s8, vpdpwssd: s16 × s16, both
// summing into int32 without saturation) and the K-quant sub-blocks taken two at a time in 512-bit
// registers. The float steps are the scalar reference's, one by one, each product rounded before
// any add. Compiled for the baseline target; only these functions use AVX-512, and int_dot.h calls
// them only where cpu_features.h says the CPU (and the OS) has it.
#include "kernels/int_dot.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <type_traits>

#include "quant/float16.h"

// GCC 12's _mm512_undefined_epi32() initialises a variable with itself, which -Wall reports as
// "may be used uninitialized" wherever an intrinsic built on it is inlined: a false positive.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#define INFERA_AVX512 __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")))

namespace infera::int_dot_detail {
namespace {

#define INFERA_SIMD_TARGET INFERA_AVX512
#include "kernels/int_dot_x86_shared.inc"
#undef INFERA_SIMD_TARGET

// Σ w_j x_j over a block as 8 int32 partial sums, exact for every int8 x.
template <W K>
INFERA_AVX512 inline __m256i block_dot(__m256i w, __m256i x) {
  const __m256i zero = _mm256_setzero_si256();
  if constexpr (K == W::kQ4_1 || K == W::kQ5_1) {
    return _mm256_dpbusd_epi32(zero, w, x);  // weights 0..31 are already unsigned
  } else if constexpr (K == W::kQ8_0) {
    // Weights -128..127 shifted to unsigned: Σ (w + 128) x - 128 Σ x.
    const __m256i biased = _mm256_xor_si256(w, _mm256_set1_epi8(static_cast<char>(0x80)));
    const __m256i sum_x = _mm256_dpbusd_epi32(zero, _mm256_set1_epi8(1), x);
    return _mm256_sub_epi32(_mm256_dpbusd_epi32(zero, biased, x), _mm256_slli_epi32(sum_x, 7));
  } else {
    // Signed weights -16..15: |x| as unsigned (-128 reads as 128) times w with x's sign.
    return _mm256_dpbusd_epi32(zero, _mm256_sign_epi8(x, x), _mm256_sign_epi8(w, x));
  }
}

#define INFERA_SIMD_TARGET INFERA_AVX512
#include "kernels/int_dot_x86_q8_rows.inc"
#undef INFERA_SIMD_TARGET

// ---- K-quants × Q8_K --------------------------------------------------------------------------

// Lane l (0..7) = Σ over the elements e ≡ l (mod 8) of scale(e) * q_e * x_e: ggml's aux32[8].
// Two 16-element sub-blocks per 512-bit register; in each, the bytes are interleaved
// [0, 8, 1, 9, ...] so that vpdpwssd pairs elements l and l + 8, which share lane l and the
// sub-block's scale. The two halves of the accumulator (even and odd sub-blocks) add up at the end.
INFERA_AVX512 inline __m256i k_lanes(const KIntBlock& u, const int8_t* xq) {
  const __m256i pair_up = _mm256_setr_epi8(0, 8, 1, 9, 2, 10, 3, 11, 4, 12, 5, 13, 6, 14, 7, 15,  //
                                           0, 8, 1, 9, 2, 10, 3, 11, 4, 12, 5, 13, 6, 14, 7, 15);
  __m512i acc = _mm512_setzero_si512();
  for (int s = 0; s < QK_K / 16; s += 2) {
    const __m256i q8 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(u.q + 16 * s));
    const __m256i x8 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xq + 16 * s));
    const __m512i q = _mm512_cvtepi8_epi16(_mm256_shuffle_epi8(q8, pair_up));
    const __m512i x = _mm512_cvtepi8_epi16(_mm256_shuffle_epi8(x8, pair_up));
    const __m512i scale =
        _mm512_mask_blend_epi16(0xffff0000u, _mm512_set1_epi16(static_cast<int16_t>(u.scale[s])),
                                _mm512_set1_epi16(static_cast<int16_t>(u.scale[s + 1])));
    // |q * scale| <= 32 * 128 fits int16; each int32 pair sum <= 2 * 2^12 * 128.
    acc = _mm512_dpwssd_epi32(acc, _mm512_mullo_epi16(q, scale), x);
  }
  const __m512i halves_swapped = _mm512_shuffle_i64x2(acc, acc, 0x4e);
  return _mm512_castsi512_si256(_mm512_add_epi32(acc, halves_swapped));
}

// Σ over sub-blocks of min * bsum (as the reference's min_term).
inline int32_t min_term(const KIntBlock& u, const block_q8_K& x) {
  int32_t sum = 0;
  for (int s = 0; s < QK_K / 16; ++s) sum += u.min[s] * x.bsums[s];
  return sum;
}

INFERA_AVX512 float dot_q2_k(const KIntBlock* w, const float* d, const float* dmin,
                             const block_q8_K* x, int64_t nb) {
  float sumf = 0.0f;
  for (int64_t i = 0; i < nb; ++i) {
    const int32_t isum = hsum8(k_lanes(w[i], x[i].qs));
    const int32_t summs = min_term(w[i], x[i]);
    const float dall = x[i].d * d[i];
    const float dm = x[i].d * dmin[i];
    sumf +=
        mul_rounded(dall, static_cast<float>(isum)) - mul_rounded(dm, static_cast<float>(summs));
  }
  return sumf;
}

template <bool kHasMin>
INFERA_AVX512 float dot_lanes(const KIntBlock* w, const float* d, const float* dmin,
                              const block_q8_K* x, int64_t nb) {
  __m256 sums = _mm256_setzero_ps();
  float sumf = 0.0f;
  for (int64_t i = 0; i < nb; ++i) {
    const __m256 lanes = _mm256_cvtepi32_ps(k_lanes(w[i], x[i].qs));  // |lane| <= 2^24: exact
    const float dd = d[i] * x[i].d;
    sums = _mm256_add_ps(sums, mul_rounded8(_mm256_set1_ps(dd), lanes));
    if constexpr (kHasMin) {
      const float dm = dmin[i] * x[i].d;
      sumf -= mul_rounded(dm, static_cast<float>(min_term(w[i], x[i])));
    }
  }
  alignas(32) float s[8];
  _mm256_store_ps(s, sums);
  for (int l = 0; l < 8; ++l) sumf += s[l];
  return sumf;
}

}  // namespace

void q8_rows_avx512(TensorType weight_type, const void* w_row, const uint8_t* x_rows,
                    uint64_t x_stride, int64_t n_rows, int64_t nb, float* y, int64_t y_stride) {
  switch (weight_type) {
    case TensorType::Q4_0:
      return q8_rows<W::kQ4_0>(w_row, x_rows, x_stride, n_rows, nb, y, y_stride);
    case TensorType::Q4_1:
      return q8_rows<W::kQ4_1>(w_row, x_rows, x_stride, n_rows, nb, y, y_stride);
    case TensorType::Q5_0:
      return q8_rows<W::kQ5_0>(w_row, x_rows, x_stride, n_rows, nb, y, y_stride);
    case TensorType::Q5_1:
      return q8_rows<W::kQ5_1>(w_row, x_rows, x_stride, n_rows, nb, y, y_stride);
    default:
      return q8_rows<W::kQ8_0>(w_row, x_rows, x_stride, n_rows, nb, y, y_stride);
  }
}

KDotFn k_kernel_avx512(KDotKind kind) {
  switch (kind) {
    case KDotKind::kQ2K:
      return &dot_q2_k;
    case KDotKind::kLanesWithMin:
      return &dot_lanes<true>;
    default:
      return &dot_lanes<false>;
  }
}

}  // namespace infera::int_dot_detail

#endif  // x86
