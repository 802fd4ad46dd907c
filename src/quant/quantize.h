#pragma once
// Reference quantizers: float32 rows into blocks.
//
// F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1 and Q8_0 produce bytes identical to gguf-py 0.19's numpy
// `gguf.quants.quantize` (which for these types also equals ggml's quantize_row_*_ref on ordinary
// input). Q8_K, the activation block of the K-quant dot products, follows ggml's
// quantize_row_q8_K_ref. Q8_0 doubles as the activation format of the legacy-quant dot products.
// K-quant weight quantizers (Q2_K..Q6_K: ggml's iterative make_qkx*_quants search) are not here:
// gguf-py cannot produce them either, so there is no independent reference to prove them against.
//
// Non-finite input never crashes or hits undefined behaviour, but its output is only defined to be
// some valid block (no bit-exactness is claimed for NaN/inf input in the integer-quant types).
#include <cstdint>

#include "quant/blocks.h"
#include "quant/tensor_type.h"

namespace infera {

// True for F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q8_K.
bool has_quantizer(TensorType type);

// Reference quantizer: n floats into blocks of `type`. Throws Error(kUnsupported) for a type
// without a quantizer and Error(kInvalidArgument) when n is negative or not a whole number of
// blocks. dst needs no alignment.
void quantize_row(TensorType type, const float* src, void* dst, int64_t n);

// One block of block_elements floats (32 or 256).
void quantize_block(const float* x, block_q4_0* y);
void quantize_block(const float* x, block_q4_1* y);
void quantize_block(const float* x, block_q5_0* y);
void quantize_block(const float* x, block_q5_1* y);
void quantize_block(const float* x, block_q8_0* y);
// Unlike ggml, an all-zero block also gets zero bsums (ggml leaves them as they were).
void quantize_block(const float* x, block_q8_K* y);

}  // namespace infera
