#include "quant/q4_0_groups.h"

#include <cstring>

namespace infera {

void q4_0_regroup_row(const block_q4_0* row, int64_t nb, uint8_t* out) {
  constexpr size_t kQs = sizeof(row->qs);
  int64_t b = 0;
  for (; b + kQ4_0GroupBlocks <= nb; b += kQ4_0GroupBlocks, out += kQ4_0GroupBytes) {
    for (int64_t k = 0; k < kQ4_0GroupBlocks; ++k) {
      std::memcpy(out + k * kQs, row[b + k].qs, kQs);
      std::memcpy(out + kQ4_0GroupBlocks * kQs + k * sizeof(uint16_t), &row[b + k].d,
                  sizeof(uint16_t));
    }
  }
  std::memcpy(out, row + b, static_cast<size_t>(nb - b) * sizeof(block_q4_0));
}

void q4_0_restore_row(const uint8_t* row, int64_t nb, block_q4_0* out) {
  constexpr size_t kQs = sizeof(out->qs);
  int64_t b = 0;
  for (; b + kQ4_0GroupBlocks <= nb; b += kQ4_0GroupBlocks, row += kQ4_0GroupBytes) {
    for (int64_t k = 0; k < kQ4_0GroupBlocks; ++k) {
      std::memcpy(out[b + k].qs, row + k * kQs, kQs);
      std::memcpy(&out[b + k].d, row + kQ4_0GroupBlocks * kQs + k * sizeof(uint16_t),
                  sizeof(uint16_t));
    }
  }
  std::memcpy(out + b, row, static_cast<size_t>(nb - b) * sizeof(block_q4_0));
}

}  // namespace infera
