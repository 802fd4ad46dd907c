#pragma once
// Q4_0 rows regrouped for the AVX-512 decode kernel (WeightLayout::kQ4_0Groups).
//
// In the file, a Q4_0 row is nb blocks of 18 bytes, a 2-byte scale d and 16 quant bytes each.
// The decode kernel wants the quants of 4 blocks in one 512-bit register, 16 bytes per 128-bit
// lane, and the scales of 8 blocks together; from the file's layout each register took a
// two-source permute and the scales a gather, which made the kernel compute-bound from L2. So
// each run of kQ4_0GroupBlocks = 8 whole blocks (144 bytes) is rewritten in place as
//   bytes   0 … 127: qs of blocks 0 … 7, block b's 16 bytes at 16 b, as stored;
//   bytes 128 … 143: d of blocks 0 … 7, 2 bytes each.
// A row whose last group is half full (nb % 8 == 4, as Qwen2.5-0.5B's 896 columns) has those 4
// blocks (72 bytes) as a half group: their qs at 0 … 63, their d at 64 … 71. Any other last
// nb % 8 blocks stay as stored. Rows keep their size and their place, so any range of rows can be
// regrouped, read or restored on its own, and the regrouped bytes hold the same numbers: the
// kernels give the same bits on either layout.
#include <cstdint>

#include "quant/blocks.h"

namespace infera {

inline constexpr int64_t kQ4_0GroupBlocks = 8;
inline constexpr uint64_t kQ4_0GroupBytes = kQ4_0GroupBlocks * sizeof(block_q4_0);

// Whether the last blocks of a row of nb form a half group.
constexpr bool q4_0_half_group(int64_t nb) { return nb % kQ4_0GroupBlocks == kQ4_0GroupBlocks / 2; }

// Writes the nb blocks of `row` regrouped into `out` (nb · 18 bytes; must not overlap `row`).
void q4_0_regroup_row(const block_q4_0* row, int64_t nb, uint8_t* out);

// The inverse: the nb blocks of a regrouped row, as stored, into `out` (must not overlap `row`).
void q4_0_restore_row(const uint8_t* row, int64_t nb, block_q4_0* out);

}  // namespace infera
