// AVX-512 SwiGLU: silu(g) · u = g / (1 + e^-g) · u in the reference's float steps, e^-g by
// exp_f32's algorithm on 8 doubles at a time (the same fused steps, the same table), so the same
// bits as swiglu in ops.cpp. Vectors holding an argument that may overflow or underflow, or is not
// finite, take the scalar path.
#include "kernels/ops_simd.h"

#if defined(__x86_64__) || defined(__i386__)
#include "kernels/avx512_intrinsics.h"
#include "kernels/exp_f32.h"

#define INFERA_AVX512 __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl")))

namespace infera {
namespace {

using namespace exp_f32_detail;

// exp_f32's steps past its special cases, for 8 doubles.
INFERA_AVX512 inline __m512d exp_steps(__m512d xd) {
  const __m512d inv_ln2n = _mm512_set1_pd(kInvLn2N), shift = _mm512_set1_pd(kShift);
  const __m512d shifted = _mm512_fmadd_pd(inv_ln2n, xd, shift);
  const __m512i ki = _mm512_castpd_si512(shifted);
  const __m512d kd = _mm512_sub_pd(shifted, shift);
  const __m512d r = _mm512_fmsub_pd(inv_ln2n, xd, kd);
  // kTable[ki % 32]: entries 0 … 15 and 16 … 31 by two-source permutes, then bit 4 picks.
  const __m512i* t = reinterpret_cast<const __m512i*>(kTable);
  const __m512i idx = _mm512_and_si512(ki, _mm512_set1_epi64(31));
  const __m512i low =
      _mm512_permutex2var_epi64(_mm512_loadu_si512(t), idx, _mm512_loadu_si512(t + 1));
  const __m512i high =
      _mm512_permutex2var_epi64(_mm512_loadu_si512(t + 2), idx, _mm512_loadu_si512(t + 3));
  const __mmask8 upper = _mm512_test_epi64_mask(idx, _mm512_set1_epi64(16));
  const __m512i entry = _mm512_mask_blend_epi64(upper, low, high);
  const __m512d s = _mm512_castsi512_pd(_mm512_add_epi64(entry, _mm512_slli_epi64(ki, 47)));
  const __m512d z = _mm512_fmadd_pd(_mm512_set1_pd(kC0), r, _mm512_set1_pd(kC1));
  const __m512d r2 = _mm512_mul_pd(r, r);
  __m512d y = _mm512_fmadd_pd(_mm512_set1_pd(kC2), r, _mm512_set1_pd(1.0));
  y = _mm512_fmadd_pd(z, r2, y);
  return _mm512_mul_pd(y, s);
}

}  // namespace

INFERA_AVX512 void swiglu_avx512(const float* gate, const float* up, int64_t n, float* out) {
  const __m512 one = _mm512_set1_ps(1.0f);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m512 g = _mm512_loadu_ps(gate + i);
    const __m512 neg = _mm512_sub_ps(_mm512_setzero_ps(), g);
    const __m512i top =
        _mm512_and_si512(_mm512_srli_epi32(_mm512_castps_si512(neg), 20), _mm512_set1_epi32(0x7ff));
    if (_mm512_cmpge_epi32_mask(top, _mm512_set1_epi32(static_cast<int>(kLargeTop))) != 0) {
      for (int64_t j = i; j < i + 16; ++j) out[j] = swiglu_element(gate[j], up[j]);
      continue;
    }
    const __m256 e_lo = _mm512_cvtpd_ps(exp_steps(_mm512_cvtps_pd(_mm512_castps512_ps256(neg))));
    const __m256 e_hi = _mm512_cvtpd_ps(exp_steps(
        _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(neg), 1)))));
    const __m512 e = _mm512_castpd_ps(_mm512_insertf64x4(
        _mm512_castpd256_pd512(_mm256_castps_pd(e_lo)), _mm256_castps_pd(e_hi), 1));
    const __m512 silu = _mm512_div_ps(g, _mm512_add_ps(one, e));
    _mm512_storeu_ps(out + i, _mm512_mul_ps(silu, _mm512_loadu_ps(up + i)));
  }
  for (; i < n; ++i) out[i] = swiglu_element(gate[i], up[i]);
}

}  // namespace infera

#endif  // x86
