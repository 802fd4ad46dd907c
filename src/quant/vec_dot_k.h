#pragma once
// Scalar reference integer dot products of a K-quant weight row with a Q8_K activation row: the
// arithmetic of llama.cpp's CPU backend for K-quant matmuls (activations quantized to Q8_K by
// quantize_row(TensorType::Q8_K, ...), then integer products scaled per block), with the float
// steps of the Q4_0 … Q8_0 dot products (quant/block_lanes.h), which SIMD kernels
// (kernels/int_dot.h, equal to this to the bit) can keep in vector registers.
#include <cstdint>

#include "quant/blocks.h"
#include "quant/tensor_type.h"

namespace infera {

// sum over the n elements of w_i * x_i, where w is a row of `weight_type` (Q2_K, Q3_K, Q4_K, Q5_K
// or Q6_K) and x a row of n / 256 Q8_K blocks:
//   per block i, exact integers: isum = Σ over 16-element sub-blocks of scale · Σ q · x, and for
//   the types with mins (Q2_K, Q4_K, Q5_K) summs = Σ over sub-blocks of min · bsum;
//   term_i = (d(w)·d(x))·isum, minus (dmin(w)·d(x))·summs for the types with mins, each product
//   rounded on its own (no FMA), the term formed before it is accumulated;
//   lane[i % 8] += term_i in block order; the result is ((l0 + l4) + (l1 + l5)) + ((l2 + l6) +
//   (l3 + l7)).
// ggml's generic code keeps one float sum (Q2_K) or eight element lanes (the others) instead; the
// integer part is the same, so results differ from it only by the rounding of the float sums.
// The result differs from the exact sum of dequantize_row(w)_i * d(x) * x.qs_i by at most about
// (number of blocks + 12) float ulps of sum |terms| (see tests/unit/quant_vec_dot_k_test.cpp). n ==
// 0 gives 0. Throws Error(kInvalidArgument) for any other weight type and for an n that is negative
// or not a multiple of 256. w_row needs no alignment; x must be a properly aligned array. ref:
// ggml/src/ggml-cpu/quants.c, ggml_vec_dot_q{2..6}_K_q8_K_generic.
float vec_dot_k_q8k(TensorType weight_type, const void* w_row, const block_q8_K* x, int64_t n);

// The same product for n_rows activation rows (x_stride_blocks blocks apart) against one weight
// row, writing y[t · y_stride]; each weight block is unpacked once for a tile of rows.
// Bit-identical to calling vec_dot_k_q8k row by row.
void vec_dot_k_q8k_rows(TensorType weight_type, const void* w_row, const block_q8_K* x,
                        int64_t x_stride_blocks, int64_t n_rows, int64_t n, float* y,
                        int64_t y_stride);

}  // namespace infera
