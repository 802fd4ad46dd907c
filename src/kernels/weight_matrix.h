#pragma once
// A 2-D weight tensor as it lies in the mapped file: `rows` rows of `cols` elements of `type`,
// each row `row_bytes` long. Nothing is copied.
#include <cstdint>

#include "quant/tensor_type.h"

namespace infera {

struct WeightMatrix {
  TensorType type = TensorType::F32;
  int64_t cols = 0;  // ne[0]: input features (contiguous)
  int64_t rows = 0;  // ne[1]: output features
  uint64_t row_bytes = 0;
  const uint8_t* data = nullptr;

  const uint8_t* row(int64_t r) const { return data + static_cast<uint64_t>(r) * row_bytes; }
};

}  // namespace infera
