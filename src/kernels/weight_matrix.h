#pragma once
// A 2-D weight tensor: `rows` rows of `cols` elements of `type`, each row `row_bytes` long, as it
// lies in the file's image (mapped or read), nothing copied; its rows perhaps regrouped in place
// at load (`layout`).
#include <cstdint>

#include "quant/tensor_type.h"

namespace infera {

// How the bytes of each row are arranged. Regrouping keeps every row's size and place, so that
// row r is still at data + r · row_bytes whatever the layout.
enum class WeightLayout : uint8_t {
  kAsStored,    // the GGUF blocks of `type`, in order
  kQ4_0Groups,  // Q4_0 rows regrouped for the decode kernel (quant/q4_0_groups.h)
};

struct WeightMatrix {
  TensorType type = TensorType::F32;
  int64_t cols = 0;  // ne[0]: input features (contiguous)
  int64_t rows = 0;  // ne[1]: output features
  uint64_t row_bytes = 0;
  const uint8_t* data = nullptr;
  WeightLayout layout = WeightLayout::kAsStored;

  const uint8_t* row(int64_t r) const { return data + static_cast<uint64_t>(r) * row_bytes; }
};

}  // namespace infera
