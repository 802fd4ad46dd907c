#include "quant/vec_dot.h"

#include <algorithm>
#include <string>

#include "core/error.h"
#include "quant/blocks.h"
#include "quant/dequantize.h"
#include "quant/float16.h"

// The accumulation order documented in vec_dot.h, rounded step by step: no FMA contraction.
#include "core/fp_contract_off.h"

namespace infera {

float vec_dot_ref(TensorType type, const void* row, const float* x, int64_t n) {
  if (!has_dequantizer(type)) {
    throw Error(ErrorKind::kUnsupported,
                "vec_dot_ref: no dequantizer for tensor type " + tensor_type_label(type));
  }
  const TensorTypeTraits& traits = traits_of(type);
  const int64_t qk = traits.block_elements;
  whole_blocks(type, n, "vec_dot_ref");
  // Group: one block, or 32 elements of a plain type (its "block" is a single element).
  const int64_t group = qk == 1 ? 32 : qk;
  const int64_t group_bytes = group / qk * traits.block_bytes;
  const auto* bytes = static_cast<const unsigned char*>(row);
  float w[QK_K];
  float sum = 0.0f;
  for (int64_t start = 0, g = 0; start < n; start += group, ++g) {
    const int64_t len = std::min(group, n - start);
    dequantize_row(type, bytes + g * group_bytes, w, len);
    float s = 0.0f;
    for (int64_t l = 0; l < len; ++l) s += mul_rounded(w[l], x[start + l]);
    sum += s;
  }
  return sum;
}

}  // namespace infera
