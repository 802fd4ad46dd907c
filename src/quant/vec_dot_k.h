#pragma once
// Scalar reference integer dot products of a K-quant weight row with a Q8_K activation row: the
// arithmetic llama.cpp's CPU backend uses for K-quant matmuls (activations quantized to Q8_K by
// quantize_row(TensorType::Q8_K, ...), then integer products), with its float steps, and integer
// lanes grouped the way SIMD kernels form them (kernels/int_dot.h, equal to this to the bit).
#include <cstdint>

#include "quant/blocks.h"
#include "quant/tensor_type.h"

namespace infera {

// sum over the n elements of w_i * x_i, where w is a row of `weight_type` (Q2_K, Q3_K, Q4_K, Q5_K
// or Q6_K) and x a row of n / 256 Q8_K blocks, computed with the float steps of ggml's generic
// (scalar) ggml_vec_dot_<type>_q8_K_generic, over integer lanes grouped as SIMD forms them:
//   per block, integer products of the quants are summed in int32 and scaled by the integer
//   sub-block scales (exact: no partial sum comes near 2^31); the min term of Q2_K/Q4_K/Q5_K is
//   the integer sum of bsums * min;
//   Q2_K:       sumf += (d(w)*d(x)) * isum - (dmin(w)*d(x)) * summs, block by block;
//   Q3_K..Q6_K: 8 integer lanes per block: the block's 256 elements form 8 chunks of 32, and lane
//               l holds the elements 32c + 4l .. 32c + 4l + 3 of every chunk c (so lanes 0..3 are
//               the chunk's first 16-element sub-block, 4..7 its second), each times its
//               sub-block's scale; float sums[l] += (d(w)*d(x)) * lane[l] block by block;
//               Q4_K/Q5_K first do sumf -= (dmin(w)*d(x)) * summs per block; at the end
//               sumf += sums[0], ..., sums[7].
// ggml's scalar code puts element i in lane i % 8 instead; these lanes are what one
// maddubs + madd (or vpdpbusd) over 32 consecutive bytes produces, so SIMD kernels keep them in
// vector registers. The float steps are the same, so results differ from ggml's scalar path only
// by the rounding of the per-lane partial sums.
// Every float product and sum is rounded on its own (no FMA), in that order. The result differs
// from the exact sum of dequantize_row(w)_i * d(x) * x.qs_i by at most about (number of blocks +
// 12) float ulps of sum |terms| (see tests/unit/quant_vec_dot_k_test.cpp). n == 0 gives 0. Throws
// Error(kInvalidArgument) for any other weight type and for an n that is negative or not a multiple
// of 256. w_row needs no alignment; x must be a properly aligned array. ref:
// ggml/src/ggml-cpu/quants.c, ggml_vec_dot_q{2..6}_K_q8_K_generic.
float vec_dot_k_q8k(TensorType weight_type, const void* w_row, const block_q8_K* x, int64_t n);

// The same product for n_rows activation rows (x_stride_blocks blocks apart) against one weight
// row, writing y[t · y_stride]; each weight block is unpacked once for a tile of rows.
// Bit-identical to calling vec_dot_k_q8k row by row.
void vec_dot_k_q8k_rows(TensorType weight_type, const void* w_row, const block_q8_K* x,
                        int64_t x_stride_blocks, int64_t n_rows, int64_t n, float* y,
                        int64_t y_stride);

}  // namespace infera
