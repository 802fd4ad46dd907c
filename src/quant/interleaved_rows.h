#pragma once
// Q4_0 … Q8_0, Q4_K and Q6_K rows interleaved eight at a time for the AVX2 decode kernels
// (WeightLayout::kInterleaved8).
//
// A decode step multiplies every weight row by one activation row. Row by row, each row's block
// sums have to be reduced across the lanes of a vector, and a row of a few hundred bytes (576,
// 640 or 896 columns) ends in a partial group of blocks and a horizontal sum: on SmolLM2's
// matrices the kernel was bound by those instructions, not by memory. With 8 rows side by side,
// row r in lane r, the products of a block need no reduction across lanes and a row's end costs
// nothing extra. So each run of 8 rows (8 · row_bytes bytes) is rewritten in place as nb tiles,
// one per block b, each holding the 8 rows' block b:
//   vectors: the block's bytes that hold quants (and, for the K-quants, sub-block scales), cut
//           into dwords: dword k of row r at 32 k + 4 r. Q4_0 … Q5_1: qs (k < 4: one load gives
//           elements 4k … 4k + 3 in the low nibbles and 16 + 4k … in the high ones of all 8
//           rows); Q8_0: qs (k < 8, elements 4k … 4k + 3); Q4_K: qs (k < 32), then the 12
//           packed scale bytes (3 dwords); Q6_K: ql, qh and scales, as they follow each other
//           in the block (52 dwords);
//   then d of rows 0 … 7 (8 halves); m or dmin of rows 0 … 7 (Q4_1, Q5_1, Q4_K); for Q5_0 and
//   Q5_1 the fifth bits of rows 0 … 7 as bit planes, 4 bytes a row: bit k of byte 4 r + j is the
//   fifth bit of row r's element 4k + j (k < 4) or 16 + 4(k − 4) + j (k >= 4), the element that
//   byte j of lane r of quant vector k holds. A 16-bit shift by 4 − k and a mask by 0x10 put
//   every row's bits for vector k in place (three instructions, where spreading qh's bits took
//   six).
// A tile is the 8 blocks' bytes (144 … 1680): a run keeps its size and place, and the numbers are
// the same, so every kernel gives the same bits on either layout. Row r is no longer at
// data + r · row_bytes: it lies spread over the tiles of its run of 8 (restore_interleaved_row).
#include <cstdint>

#include "quant/tensor_type.h"

namespace infera {

inline constexpr int64_t kInterleavedRows = 8;

// Whether rows of this type can be interleaved: Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q4_K and Q6_K.
bool interleavable_type(TensorType type);

// Bytes of one tile: kInterleavedRows blocks of `type`.
uint64_t interleaved_tile_bytes(TensorType type);

// The kInterleavedRows rows at `rows` (each nb blocks, row_bytes apart, as stored) interleaved
// into `out` (kInterleavedRows · row_bytes bytes; must not overlap `rows`).
void interleave_rows(TensorType type, const uint8_t* rows, uint64_t row_bytes, int64_t nb,
                     uint8_t* out);

// Row r's block (0 … kInterleavedRows − 1) of the tile at `tile`, as stored, into `out`.
void restore_interleaved_block(TensorType type, const uint8_t* tile, int r, uint8_t* out);

// Row r (0 … kInterleavedRows − 1) of the interleaved run at `run`, as stored, into `out`
// (nb blocks; must not overlap `run`).
void restore_interleaved_row(TensorType type, const uint8_t* run, int64_t nb, int r, uint8_t* out);

}  // namespace infera
