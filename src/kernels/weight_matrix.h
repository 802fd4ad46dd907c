#pragma once
// A 2-D weight tensor: `rows` rows of `cols` elements of `type`, each row `row_bytes` long, as it
// lies in the file's image (mapped or read), nothing copied; its rows perhaps regrouped in place
// at load (`layout`).
#include <cstdint>

#include "quant/tensor_type.h"

namespace infera {

// How the bytes of each row are arranged. kQ4_0Groups keeps every row's size and place (row r is
// at data + r · row_bytes); kInterleaved8 keeps each run of 8 rows' bytes in their place, but
// spreads a row over its run.
enum class WeightLayout : uint8_t {
  kAsStored,      // the GGUF blocks of `type`, in order
  kQ4_0Groups,    // Q4_0 rows regrouped for the AVX-512 decode kernel (quant/q4_0_groups.h)
  kInterleaved8,  // Q4_0 or Q4_1 rows interleaved 8 at a time (quant/interleaved_rows.h)
};

struct WeightMatrix {
  TensorType type = TensorType::F32;
  int64_t cols = 0;  // ne[0]: input features (contiguous)
  int64_t rows = 0;  // ne[1]: output features
  uint64_t row_bytes = 0;
  const uint8_t* data = nullptr;
  WeightLayout layout = WeightLayout::kAsStored;

  // Row r's bytes; with kInterleaved8 (r a multiple of 8) the start of its run of 8.
  const uint8_t* row(int64_t r) const { return data + static_cast<uint64_t>(r) * row_bytes; }
};

}  // namespace infera
