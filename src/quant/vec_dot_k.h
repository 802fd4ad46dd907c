#pragma once
// Scalar reference integer dot products of a K-quant weight row with a Q8_K activation row: the
// arithmetic llama.cpp's CPU backend uses for K-quant matmuls (activations quantized to Q8_K by
// quantize_row(TensorType::Q8_K, ...), then integer products), emulated so that infera's results
// agree with llama.cpp's scalar path to the bit.
#include <cstdint>

#include "quant/blocks.h"
#include "quant/tensor_type.h"

namespace infera {

// sum over the n elements of w_i * x_i, where w is a row of `weight_type` (Q2_K, Q3_K, Q4_K, Q5_K
// or Q6_K) and x a row of n / 256 Q8_K blocks, computed as ggml's generic (scalar)
// ggml_vec_dot_<type>_q8_K_generic computes it:
//   per block, integer products of the quants are summed in int32 and scaled by the integer
//   sub-block scales (exact: no partial sum comes near 2^31); the min term of Q2_K/Q4_K/Q5_K is
//   the integer sum of bsums * min;
//   Q2_K:       sumf += (d(w)*d(x)) * isum - (dmin(w)*d(x)) * summs, block by block;
//   Q3_K..Q6_K: 8 integer lanes per block (lane l holds the elements i with i % 8 == l), and
//               float sums[l] += (d(w)*d(x)) * lane[l] block by block; Q4_K/Q5_K first do
//               sumf -= (dmin(w)*d(x)) * summs per block; at the end sumf += sums[0], ..., sums[7].
// Every float product and sum is rounded on its own (no FMA), in that order. The result differs
// from the exact sum of dequantize_row(w)_i * d(x) * x.qs_i by at most about (number of blocks +
// 12) float ulps of sum |terms| (see tests/unit/quant_vec_dot_k_test.cpp). n == 0 gives 0. Throws
// Error(kInvalidArgument) for any other weight type and for an n that is negative or not a multiple
// of 256. w_row needs no alignment; x must be a properly aligned array. ref:
// ggml/src/ggml-cpu/quants.c, ggml_vec_dot_q{2..6}_K_q8_K_generic.
float vec_dot_k_q8k(TensorType weight_type, const void* w_row, const block_q8_K* x, int64_t n);

// The same product for n_rows activation rows (x_stride_blocks blocks apart) against one weight
// row, writing y[t · y_stride]; the weight row is unpacked once. Bit-identical to calling
// vec_dot_k_q8k row by row.
void vec_dot_k_q8k_rows(TensorType weight_type, const void* w_row, const block_q8_K* x,
                        int64_t x_stride_blocks, int64_t n_rows, int64_t n, float* y,
                        int64_t y_stride);

}  // namespace infera
