// AVX2 element-wise ops, the same bits as their references in ops.cpp.
//
// SwiGLU: silu(g) · u = g / (1 + e^-g) · u in the reference's float steps, e^-g by exp_f32's
// algorithm on 4 doubles at a time (the same fused steps, the same table, read by a gather), so
// the same bits as swiglu in ops.cpp. Vectors holding an argument that may overflow or underflow,
// or is not finite, take the scalar path.
#include "kernels/ops_simd.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#include "kernels/exp_f32.h"
#include "kernels/lanes_avx2.h"

#define INFERA_AVX2 __attribute__((target("avx2,fma,f16c")))

namespace infera {
namespace {

using namespace exp_f32_detail;

// exp_f32's steps past its special cases, for 4 doubles.
INFERA_AVX2 inline __m256d exp_steps(__m256d xd) {
  const __m256d inv_ln2n = _mm256_set1_pd(kInvLn2N), shift = _mm256_set1_pd(kShift);
  const __m256d shifted = _mm256_fmadd_pd(inv_ln2n, xd, shift);
  const __m256i ki = _mm256_castpd_si256(shifted);
  const __m256d kd = _mm256_sub_pd(shifted, shift);
  const __m256d r = _mm256_fmsub_pd(inv_ln2n, xd, kd);
  const __m256i idx = _mm256_and_si256(ki, _mm256_set1_epi64x(31));
  const __m256i entry =
      _mm256_i64gather_epi64(reinterpret_cast<const long long*>(kTable), idx, sizeof(uint64_t));
  const __m256d s = _mm256_castsi256_pd(_mm256_add_epi64(entry, _mm256_slli_epi64(ki, 47)));
  const __m256d z = _mm256_fmadd_pd(_mm256_set1_pd(kC0), r, _mm256_set1_pd(kC1));
  const __m256d r2 = _mm256_mul_pd(r, r);
  __m256d y = _mm256_fmadd_pd(_mm256_set1_pd(kC2), r, _mm256_set1_pd(1.0));
  y = _mm256_fmadd_pd(z, r2, y);
  return _mm256_mul_pd(y, s);
}

}  // namespace

INFERA_AVX2 void swiglu_avx2(const float* gate, const float* up, int64_t n, float* out) {
  const __m256 one = _mm256_set1_ps(1.0f);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 g = _mm256_loadu_ps(gate + i);
    const __m256 neg = _mm256_sub_ps(_mm256_setzero_ps(), g);
    const __m256i top =
        _mm256_and_si256(_mm256_srli_epi32(_mm256_castps_si256(neg), 20), _mm256_set1_epi32(0x7ff));
    // Signed compare: top is at most 0x7ff.
    const __m256i large =
        _mm256_cmpgt_epi32(top, _mm256_set1_epi32(static_cast<int>(kLargeTop) - 1));
    if (!_mm256_testz_si256(large, large)) {
      for (int64_t j = i; j < i + 8; ++j) out[j] = swiglu_element(gate[j], up[j]);
      continue;
    }
    const __m128 e_lo = _mm256_cvtpd_ps(exp_steps(_mm256_cvtps_pd(_mm256_castps256_ps128(neg))));
    const __m128 e_hi = _mm256_cvtpd_ps(exp_steps(_mm256_cvtps_pd(_mm256_extractf128_ps(neg, 1))));
    const __m256 e = _mm256_insertf128_ps(_mm256_castps128_ps256(e_lo), e_hi, 1);
    const __m256 silu = _mm256_div_ps(g, _mm256_add_ps(one, e));
    _mm256_storeu_ps(out + i, _mm256_mul_ps(silu, _mm256_loadu_ps(up + i)));
  }
  for (; i < n; ++i) out[i] = swiglu_element(gate[i], up[i]);
}

INFERA_AVX2 void rms_norm_avx2(const float* x, const float* weight, int64_t n, float eps,
                               float* out) {
  // Lanes 0..3 and 4..7 of rms_norm's eight, each product exact in double as in the reference.
  __m256d lo = _mm256_setzero_pd(), hi = _mm256_setzero_pd();
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 v = _mm256_loadu_ps(x + i);
    const __m256d a = _mm256_cvtps_pd(_mm256_castps256_ps128(v));
    const __m256d b = _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1));
    lo = _mm256_add_pd(lo, _mm256_mul_pd(a, a));
    hi = _mm256_add_pd(hi, _mm256_mul_pd(b, b));
  }
  alignas(32) double lane[8];
  _mm256_store_pd(lane, lo);
  _mm256_store_pd(lane + 4, hi);
  for (int64_t j = 0; i < n; ++i, ++j) lane[j] += static_cast<double>(x[i]) * x[i];
  const double sum =
      ((lane[0] + lane[4]) + (lane[1] + lane[5])) + ((lane[2] + lane[6]) + (lane[3] + lane[7]));
  const float scale = rms_norm_scale(sum, n, eps);
  const __m256 s = _mm256_set1_ps(scale);
  i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 scaled = _mm256_mul_ps(_mm256_loadu_ps(x + i), s);
    _mm256_storeu_ps(out + i, weight ? _mm256_mul_ps(scaled, _mm256_loadu_ps(weight + i)) : scaled);
  }
  for (; i < n; ++i) out[i] = weight ? x[i] * scale * weight[i] : x[i] * scale;
}

// The reference's products and sums, none fused: x0·c − x1·s and x0·s + x1·c (the second as
// x1·c + x0·s, the same sum). The adjacent pairs' products are lanes_avx2::mul_rounded: GCC 12
// turned a product and an addsub into vfmaddsub even under -ffp-contract=off.
INFERA_AVX2 void rope_rotate_avx2(float* x, int64_t n_heads, int64_t head_dim, const float* cos_sin,
                                  int64_t n_dims, bool adjacent_pairs) {
  const int64_t half = n_dims / 2;
  for (int64_t h = 0; h < n_heads; ++h) {
    float* head = x + h * head_dim;
    int64_t i = 0;  // the pair
    if (adjacent_pairs) {
      // 4 pairs: x = (x0, x1, …), cos_sin = (c, s, …). addsub subtracts in the even lanes and
      // adds in the odd: (x0·c − x1·s, x1·c + x0·s).
      for (; i + 4 <= half; i += 4) {
        const __m256 v = _mm256_loadu_ps(head + 2 * i);
        const __m256 cs = _mm256_loadu_ps(cos_sin + 2 * i);
        const __m256 swapped = _mm256_permute_ps(v, 0xb1);
        _mm256_storeu_ps(
            head + 2 * i,
            _mm256_addsub_ps(lanes_avx2::mul_rounded(v, _mm256_moveldup_ps(cs)),
                             lanes_avx2::mul_rounded(swapped, _mm256_movehdup_ps(cs))));
      }
    } else {
      // 8 pairs: x0 from the first half, x1 from the second; cos_sin's 16 floats split into
      // cosines and sines (shuffle within 128-bit lanes, then the 64-bit quarters in order).
      for (; i + 8 <= half; i += 8) {
        const __m256 a = _mm256_loadu_ps(cos_sin + 2 * i);
        const __m256 b = _mm256_loadu_ps(cos_sin + 2 * i + 8);
        const __m256 c = _mm256_castpd_ps(_mm256_permute4x64_pd(
            _mm256_castps_pd(_mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0))), 0xd8));
        const __m256 s = _mm256_castpd_ps(_mm256_permute4x64_pd(
            _mm256_castps_pd(_mm256_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1))), 0xd8));
        const __m256 x0 = _mm256_loadu_ps(head + i);
        const __m256 x1 = _mm256_loadu_ps(head + half + i);
        _mm256_storeu_ps(head + i, _mm256_sub_ps(_mm256_mul_ps(x0, c), _mm256_mul_ps(x1, s)));
        _mm256_storeu_ps(head + half + i,
                         _mm256_add_ps(_mm256_mul_ps(x0, s), _mm256_mul_ps(x1, c)));
      }
    }
    rope_rotate_pairs(head, cos_sin, i, n_dims, adjacent_pairs);
  }
}

INFERA_AVX2 void geglu_avx2(const float* gate, const float* up, int64_t n, float* out) {
  const float* table = gelu_fp16_lookup();
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 g = _mm256_loadu_ps(gate + i);
    // F16C rounds as fp32_to_fp16 does (to nearest even) for every number; NaN, whose payload
    // may differ, gives NaN either way.
    const __m256i half = _mm256_cvtepu16_epi32(_mm256_cvtps_ph(g, _MM_FROUND_TO_NEAREST_INT));
    __m256 gelu = _mm256_i32gather_ps(table, half, sizeof(float));
    gelu = _mm256_blendv_ps(gelu, g, _mm256_cmp_ps(g, _mm256_set1_ps(10.0f), _CMP_GE_OQ));
    gelu = _mm256_andnot_ps(_mm256_cmp_ps(g, _mm256_set1_ps(-10.0f), _CMP_LE_OQ), gelu);
    _mm256_storeu_ps(out + i, _mm256_mul_ps(gelu, _mm256_loadu_ps(up + i)));
  }
  for (; i < n; ++i) out[i] = geglu_element(table, gate[i], up[i]);
}

INFERA_AVX2 void fp32_to_fp16_row_avx2(const float* x, uint16_t* y, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 v = _mm256_loadu_ps(x + i);
    // vcvtps2ph rounds to nearest even as fp32_to_fp16 does, but quiets a NaN: those go scalar.
    if (_mm256_movemask_ps(_mm256_cmp_ps(v, v, _CMP_UNORD_Q)) != 0) {
      for (int64_t j = i; j < i + 8; ++j) y[j] = fp32_to_fp16(x[j]);
      continue;
    }
    _mm_storeu_si128(reinterpret_cast<__m128i*>(y + i),
                     _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  }
  for (; i < n; ++i) y[i] = fp32_to_fp16(x[i]);
}

}  // namespace infera

#endif  // x86
