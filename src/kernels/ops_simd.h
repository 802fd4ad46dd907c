#pragma once
// SIMD versions of element-wise ops of ops.h (ops.cpp dispatches here where the CPU has them):
// the same bits as the reference.
#include <cstdint>

#include "kernels/exp_f32.h"

namespace infera {

// One element of swiglu, the reference's float steps: silu(g) · u = g / (1 + e^-g) · u. Shared by
// the reference loop and the SIMD path's scalar fallbacks so that they cannot drift apart.
inline float swiglu_element(float g, float u) { return g / (1.0f + exp_f32(-g)) * u; }

// swiglu (ops.h) with AVX-512: exp_f32 8 doubles at a time.
void swiglu_avx512(const float* gate, const float* up, int64_t n, float* out);
// ... and with AVX2: 4 doubles at a time.
void swiglu_avx2(const float* gate, const float* up, int64_t n, float* out);

}  // namespace infera
