#pragma once
// SIMD versions of element-wise ops of ops.h (ops.cpp dispatches here where the CPU has them):
// the same bits as the reference.
#include <cstdint>

namespace infera {

// swiglu (ops.h) with AVX-512: exp_f32 8 doubles at a time.
void swiglu_avx512(const float* gate, const float* up, int64_t n, float* out);

}  // namespace infera
