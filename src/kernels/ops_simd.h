#pragma once
// SIMD versions of element-wise ops of ops.h (ops.cpp dispatches here where the CPU has them):
// the same bits as the reference.
#include <cstdint>

#include "kernels/exp_f32.h"
#include "quant/float16.h"

namespace infera {

// One element of swiglu, the reference's float steps: silu(g) · u = g / (1 + e^-g) · u. Shared by
// the reference loop and the SIMD path's scalar fallbacks so that they cannot drift apart.
inline float swiglu_element(float g, float u) { return g / (1.0f + exp_f32(-g)) * u; }

// Pairs [first, n_dims / 2) of one head rotated by rope_rotate's angles (ops.h), one at a time:
// the reference loop, and the SIMD path's tail. Each product is mul_rounded (float16.h), never
// fused into its sum: in an FMA-enabled function GCC 12 vectorised this loop into vfmaddsub even
// under -ffp-contract=off.
inline void rope_rotate_pairs(float* head, const float* cos_sin, int64_t first, int64_t n_dims,
                              bool adjacent_pairs) {
  const int64_t half = n_dims / 2;
  for (int64_t i = first; i < half; ++i) {
    const float c = cos_sin[2 * i];
    const float s = cos_sin[2 * i + 1];
    const int64_t i0 = adjacent_pairs ? 2 * i : i;
    const int64_t i1 = adjacent_pairs ? 2 * i + 1 : i + half;
    const float x0 = head[i0];
    const float x1 = head[i1];
    head[i0] = mul_rounded(x0, c) - mul_rounded(x1, s);
    head[i1] = mul_rounded(x0, s) + mul_rounded(x1, c);
  }
}

// GELU(g) · u through the fp16 table (ops.cpp): shared by the reference loop and the SIMD path's
// scalar lanes.
inline float geglu_element(const float* gelu_table, float g, float u) {
  float gelu;
  if (g <= -10.0f) {
    gelu = 0.0f;
  } else if (g >= 10.0f) {
    gelu = g;
  } else {
    gelu = gelu_table[fp32_to_fp16(g)];
  }
  return gelu * u;
}

// GELU of every fp16 value, rounded to fp16, indexed by its bits (ops.cpp).
const float* gelu_fp16_lookup();

// The 1 / rms factor of rms_norm from its sum of squares.
float rms_norm_scale(double sum_of_squares, int64_t n, float eps);

// rms_norm and geglu (ops.h) with AVX2.
void rms_norm_avx2(const float* x, const float* weight, int64_t n, float eps, float* out);
void geglu_avx2(const float* gate, const float* up, int64_t n, float* out);

// rope_rotate (ops.h) with AVX2, for one ordering: adjacent pairs (kNormal) or halves (kNeox).
void rope_rotate_avx2(float* x, int64_t n_heads, int64_t head_dim, const float* cos_sin,
                      int64_t n_dims, bool adjacent_pairs);

// fp32_to_fp16_row (ops.h) with F16C (every CPU with AVX2 here has it).
void fp32_to_fp16_row_avx2(const float* x, uint16_t* y, int64_t n);

// swiglu (ops.h) with AVX-512: exp_f32 8 doubles at a time.
void swiglu_avx512(const float* gate, const float* up, int64_t n, float* out);
// ... and with AVX2: 4 doubles at a time.
void swiglu_avx2(const float* gate, const float* up, int64_t n, float* out);

}  // namespace infera
