#pragma once
// SIMD quantization of activation rows to Q8_0 / Q8_1 blocks (quantize_activations dispatches
// here where the CPU has AVX-512): the same bits as the scalar quantizer.
#include <cstdint>

#include "quant/blocks.h"

namespace infera {

void quantize_q8_0_avx512(const float* x, block_q8_0* y, int64_t nb);
void quantize_q8_1_avx512(const float* x, block_q8_1* y, int64_t nb);

}  // namespace infera
