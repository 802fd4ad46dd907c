#include "quant/interleaved_rows.h"

#include <cstddef>
#include <cstring>

#include "quant/blocks.h"

namespace infera {
namespace {

constexpr uint64_t kQuantBytes = 16;  // of one Q4_0 or Q4_1 block
constexpr uint64_t kTileQuantBytes = kInterleavedRows * kQuantBytes;
constexpr uint64_t kHalf = sizeof(uint16_t);

// Where a block keeps its quants, its d and (Q4_1) its m.
struct BlockShape {
  uint64_t bytes, qs, m;
  bool with_min;
};
BlockShape shape_of(TensorType type) {
  if (type == TensorType::Q4_1)
    return {sizeof(block_q4_1), offsetof(block_q4_1, qs), offsetof(block_q4_1, m), true};
  return {sizeof(block_q4_0), offsetof(block_q4_0, qs), 0, false};
}

// Calls move(tile byte offset, block byte offset, bytes) for every piece of block b of row r.
template <typename Move>
void for_each_piece(const BlockShape& s, int r, const Move& move) {
  for (uint64_t k = 0; k < kQuantBytes / 4; ++k) move(32 * k + 4 * r, s.qs + 4 * k, 4);
  move(kTileQuantBytes + kHalf * r, 0, kHalf);  // d comes first in both block types
  if (s.with_min) move(kTileQuantBytes + kHalf * (kInterleavedRows + r), s.m, kHalf);
}

}  // namespace

bool interleavable_type(TensorType type) {
  return type == TensorType::Q4_0 || type == TensorType::Q4_1;
}

uint64_t interleaved_tile_bytes(TensorType type) { return kInterleavedRows * shape_of(type).bytes; }

void interleave_rows(TensorType type, const uint8_t* rows, uint64_t row_bytes, int64_t nb,
                     uint8_t* out) {
  const BlockShape s = shape_of(type);
  for (int r = 0; r < kInterleavedRows; ++r) {
    for (int64_t b = 0; b < nb; ++b) {
      const uint8_t* block = rows + r * row_bytes + b * s.bytes;
      uint8_t* tile = out + b * kInterleavedRows * s.bytes;
      for_each_piece(s, r, [&](uint64_t at, uint64_t from, uint64_t n) {
        std::memcpy(tile + at, block + from, n);
      });
    }
  }
}

void restore_interleaved_row(TensorType type, const uint8_t* run, int64_t nb, int r, uint8_t* out) {
  const BlockShape s = shape_of(type);
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* tile = run + b * kInterleavedRows * s.bytes;
    uint8_t* block = out + b * s.bytes;
    for_each_piece(s, r, [&](uint64_t at, uint64_t from, uint64_t n) {
      std::memcpy(block + from, tile + at, n);
    });
  }
}

}  // namespace infera
