#pragma once
// Dot products of f32 activations with F32, F16 or BF16 weight rows, in AVX2 where the CPU has
// it, giving the same bits as the reference: dequantize the row exactly to f32, then dot_f32
// (matmul.h) — eight lanes, lane j summing the products of the elements i ≡ j (mod 8) in order,
// each product rounded before it is added, lanes combined in a fixed tree. One 8-wide vector
// accumulator is exactly those eight lanes.
#include <cstdint>

#include "quant/tensor_type.h"

namespace infera {

// Whether float_dot_simd() serves `type` now: F32, F16 or BF16, and the selected ISA is not the
// scalar reference (AVX2, F16C and FMA come with every ISA above it).
bool float_dot_simd_available(TensorType type);

// Σ w_i · x_i of a weight row of `type` (as stored, any alignment) with each of n_rows rows of n
// f32 activations (x_stride floats apart), into y[t · y_stride]. Only where
// float_dot_simd_available(type).
void float_dot_simd_rows(TensorType type, const void* w_row, const float* x, int64_t x_stride,
                         int64_t n_rows, int64_t n, float* y, int64_t y_stride);

}  // namespace infera
