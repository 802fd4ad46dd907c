#pragma once
// Scalar reference dequantization: the definition every SIMD/CUDA kernel is tested against.
//
// Results are bit-identical to gguf-py's numpy `gguf.quants.dequantize` (and to ggml's
// dequantize_row_*): every value is computed in float32 with the same operations in the same order,
// e.g. Q4_1 `(d * q) + m`, K-quants `(d * sc) * q - (dmin * m)`. Every product here is exact in
// float32 (an fp16 d has 11 significant bits, a sub-scale at most 8, a quant at most 6), so only
// the final add rounds and FMA contraction could not change a result; the implementation files
// still disable contraction, which the quantizers do need (see quantize.cpp).
#include <cstdint>

#include "quant/blocks.h"
#include "quant/tensor_type.h"

namespace infera {

// True for the types dequantize_row handles: F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0,
// Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, Q8_K.
bool has_dequantizer(TensorType type);

// Dequantizes n elements of `type` (n a multiple of the block size) from src into dst. Scalar
// reference. src needs no alignment. Throws Error(kUnsupported) for a type without a dequantizer
// and Error(kInvalidArgument) when n is negative or not a whole number of blocks.
void dequantize_row(TensorType type, const void* src, float* dst, int64_t n);

// One block into its block_elements floats (y must hold 32 or 256 floats).
void dequantize_block(const block_q4_0& b, float* y);
void dequantize_block(const block_q4_1& b, float* y);
void dequantize_block(const block_q5_0& b, float* y);
void dequantize_block(const block_q5_1& b, float* y);
void dequantize_block(const block_q8_0& b, float* y);
void dequantize_block(const block_q2_K& b, float* y);
void dequantize_block(const block_q3_K& b, float* y);
void dequantize_block(const block_q4_K& b, float* y);
void dequantize_block(const block_q5_K& b, float* y);
void dequantize_block(const block_q6_K& b, float* y);
void dequantize_block(const block_q8_K& b, float* y);

}  // namespace infera
