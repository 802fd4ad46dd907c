#pragma once
// Scalar reference dot product of a quantized weight row with float32 activations: the definition
// the optimized matmul kernels are tested against.
#include <cstdint>

#include "quant/tensor_type.h"

namespace infera {

// sum_i w_i * x_i over one row of `type` holding n elements, where w is exactly what
// dequantize_row produces. The row is dequantized one group at a time into a stack buffer (no
// full-row buffer): a group is one block, or 32 elements for F32/F16/BF16 (the last group may be
// shorter). Accumulation, all in float32 with no FMA contraction:
//   s_g = ((w_0*x_0 + w_1*x_1) + w_2*x_2) + ...   over the group, in element order;
//   result = ((s_0 + s_1) + s_2) + ...              over the groups, in order.
// So |result - exact| <= gamma(G + N) * sum_i |w_i x_i|, gamma(k) = k*u/(1 - k*u), u = 2^-24,
// G = group size and N = number of groups.
// Throws Error(kUnsupported) for a type without a dequantizer, Error(kInvalidArgument) for an n
// that is negative or not a whole number of blocks. row needs no alignment.
float vec_dot_ref(TensorType type, const void* row, const float* x, int64_t n);

}  // namespace infera
