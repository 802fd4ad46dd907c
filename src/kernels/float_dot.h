#pragma once
// Dot products of f32 activations with F32, F16 or BF16 weight rows, in AVX2 where the CPU has
// it, giving the same bits as the reference: dequantize the row exactly to f32, then dot_f32
// (matmul.h) — eight lanes, lane j summing the products of the elements i ≡ j (mod 8) in order,
// each step a fused multiply-add (one rounding), lanes combined in a fixed tree. One 8-wide vector
// accumulator updated by _mm256_fmadd_ps is exactly those eight lanes.
#include <cstdint>

#include "quant/tensor_type.h"

namespace infera {

// Whether float_dot_simd() serves `type` now: F32, F16 or BF16, and the selected ISA is not the
// scalar reference (AVX2, F16C and FMA come with every ISA above it).
bool float_dot_simd_available(TensorType type);

// Σ w_i · x_i of each of n_w_rows weight rows of `type` (w_row_bytes apart, as stored, any
// alignment) with each of n_x_rows rows of n f32 activations (x_stride floats apart), into
// y[t · y_stride + r] for weight row r and activation row t. Only where
// float_dot_simd_available(type).
void float_dot_simd_rows(TensorType type, const void* w_rows, uint64_t w_row_bytes,
                         int64_t n_w_rows, const float* x, int64_t x_stride, int64_t n_x_rows,
                         int64_t n, float* y, int64_t y_stride);

// Weight rows float_dot_panel takes at a time for `type` on this CPU (it takes any multiple of
// them); 0 where it has no kernel (it needs AVX-512).
int64_t float_dot_panel_rows(TensorType type);

// Columns the AVX-512 float panel rewrites as f32 at a time; wider rows go a block of columns at a
// time (float_dot_avx512_panel.cpp).
constexpr int64_t kFloatPanelColumnBlock = 2048;

// Bytes of one panel of float_dot_panel_rows weight rows of n columns as the kernel rewrites it
// (f32, a block of columns at a time).
int64_t float_dot_panel_bytes(int64_t n);

// n_w_rows (a multiple of float_dot_panel_rows(type)) consecutive weight rows, w_row_bytes apart,
// times n_rows rows of n f32 activations (x_stride floats apart), writing y[t · y_stride + r] for
// row r: the same bits as float_dot_simd_rows row by row, and faster when many activation rows
// share the weights.
void float_dot_panel(TensorType type, const void* w, uint64_t w_row_bytes, int64_t n_w_rows,
                     const float* x, int64_t x_stride, int64_t n_rows, int64_t n, float* y,
                     int64_t y_stride);

// The AVX-512 kernel behind float_dot_panel (float_dot_avx512_panel.cpp).
void float_panel16_avx512(TensorType type, const void* w_rows, uint64_t w_row_bytes,
                          int64_t n_w_rows, const float* x, int64_t x_stride, int64_t n_tokens,
                          int64_t n, float* y, int64_t y_stride);

}  // namespace infera
