#include "quant/q4_0_groups.h"

#include <algorithm>
#include <cstring>

namespace infera {
namespace {

constexpr size_t kQs = sizeof(block_q4_0::qs);

// Blocks of a group of n (8, or 4 for a half group): their qs, then their d.
void regroup(const block_q4_0* in, int64_t n, uint8_t* out) {
  for (int64_t k = 0; k < n; ++k) {
    std::memcpy(out + k * kQs, in[k].qs, kQs);
    std::memcpy(out + n * kQs + k * sizeof(uint16_t), &in[k].d, sizeof(uint16_t));
  }
}

void restore(const uint8_t* in, int64_t n, block_q4_0* out) {
  for (int64_t k = 0; k < n; ++k) {
    std::memcpy(out[k].qs, in + k * kQs, kQs);
    std::memcpy(&out[k].d, in + n * kQs + k * sizeof(uint16_t), sizeof(uint16_t));
  }
}

// Blocks of the row in groups: whole ones, then a half group or none.
int64_t grouped_blocks(int64_t nb) {
  return nb / kQ4_0GroupBlocks * kQ4_0GroupBlocks +
         (q4_0_half_group(nb) ? nb % kQ4_0GroupBlocks : 0);
}

}  // namespace

void q4_0_regroup_row(const block_q4_0* row, int64_t nb, uint8_t* out) {
  const int64_t grouped = grouped_blocks(nb);
  for (int64_t b = 0; b < grouped; b += kQ4_0GroupBlocks) {
    const int64_t n = std::min(kQ4_0GroupBlocks, grouped - b);
    regroup(row + b, n, out + b * sizeof(block_q4_0));
  }
  std::memcpy(out + grouped * sizeof(block_q4_0), row + grouped,
              static_cast<size_t>(nb - grouped) * sizeof(block_q4_0));
}

void q4_0_restore_row(const uint8_t* row, int64_t nb, block_q4_0* out) {
  const int64_t grouped = grouped_blocks(nb);
  for (int64_t b = 0; b < grouped; b += kQ4_0GroupBlocks) {
    const int64_t n = std::min(kQ4_0GroupBlocks, grouped - b);
    restore(row + b * sizeof(block_q4_0), n, out + b);
  }
  std::memcpy(out + grouped, row + grouped * sizeof(block_q4_0),
              static_cast<size_t>(nb - grouped) * sizeof(block_q4_0));
}

}  // namespace infera
