#pragma once
// SIMD quantization of activation rows to Q8_0 / Q8_1 / Q8_K blocks, and their rounding through
// fp16 for F16 weights (quantize_activations dispatches here where the CPU has AVX-512 or AVX2):
// the same bits as the scalar code.
#include <cstdint>

#include "quant/blocks.h"

namespace infera {

void quantize_q8_0_avx512(const float* x, block_q8_0* y, int64_t nb);
void quantize_q8_1_avx512(const float* x, block_q8_1* y, int64_t nb);
void quantize_q8_K_avx512(const float* x, block_q8_K* y, int64_t nb);
// y[i] = fp16_to_fp32(fp32_to_fp16(x[i])); y may be x.
void round_to_fp16_avx512(const float* x, float* y, int64_t n);

void quantize_q8_0_avx2(const float* x, block_q8_0* y, int64_t nb);
void quantize_q8_1_avx2(const float* x, block_q8_1* y, int64_t nb);
void quantize_q8_K_avx2(const float* x, block_q8_K* y, int64_t nb);
void round_to_fp16_avx2(const float* x, float* y, int64_t n);

}  // namespace infera
