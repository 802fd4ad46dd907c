// AVX2 SwiGLU: silu(g) · u = g / (1 + e^-g) · u in the reference's float steps, e^-g by exp_f32's
// algorithm on 4 doubles at a time (the same fused steps, the same table, read by a gather), so
// the same bits as swiglu in ops.cpp. Vectors holding an argument that may overflow or underflow,
// or is not finite, take the scalar path.
#include "kernels/ops_simd.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#include "kernels/exp_f32.h"

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

}  // namespace infera

#endif  // x86
