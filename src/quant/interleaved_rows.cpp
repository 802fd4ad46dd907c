#include "quant/interleaved_rows.h"

#include <cstddef>
#include <cstring>

#include "quant/blocks.h"

namespace infera {
namespace {

constexpr uint64_t kHalf = sizeof(uint16_t);
constexpr uint64_t kNone = ~uint64_t{0};

// What a tile takes of a block, in this order: runs of bytes cut into dwords (dword k of all the
// runs together becomes quant vector k), halves (d first, then m or dmin), and qh as bit planes.
struct Run {
  uint64_t at, bytes;
};
struct BlockShape {
  uint64_t bytes;
  Run runs[2];
  uint64_t halves[2];
  uint64_t qh;
};
BlockShape shape_of(TensorType type) {
  switch (type) {
    case TensorType::Q4_1:
      return {sizeof(block_q4_1),
              {{offsetof(block_q4_1, qs), 16}, {0, 0}},
              {offsetof(block_q4_1, d), offsetof(block_q4_1, m)},
              kNone};
    case TensorType::Q5_0:
      return {sizeof(block_q5_0),
              {{offsetof(block_q5_0, qs), 16}, {0, 0}},
              {offsetof(block_q5_0, d), kNone},
              offsetof(block_q5_0, qh)};
    case TensorType::Q5_1:
      return {sizeof(block_q5_1),
              {{offsetof(block_q5_1, qs), 16}, {0, 0}},
              {offsetof(block_q5_1, d), offsetof(block_q5_1, m)},
              offsetof(block_q5_1, qh)};
    case TensorType::Q8_0:
      return {sizeof(block_q8_0),
              {{offsetof(block_q8_0, qs), 32}, {0, 0}},
              {offsetof(block_q8_0, d), kNone},
              kNone};
    case TensorType::Q4_K:
      return {sizeof(block_q4_K),
              {{offsetof(block_q4_K, qs), QK_K / 2}, {offsetof(block_q4_K, scales), K_SCALE_SIZE}},
              {offsetof(block_q4_K, d), offsetof(block_q4_K, dmin)},
              kNone};
    case TensorType::Q6_K:
      // ql, qh and scales lie one after the other: one run.
      return {sizeof(block_q6_K),
              {{offsetof(block_q6_K, ql), offsetof(block_q6_K, d)}, {0, 0}},
              {offsetof(block_q6_K, d), kNone},
              kNone};
    default:
      return {sizeof(block_q4_0),
              {{offsetof(block_q4_0, qs), 16}, {0, 0}},
              {offsetof(block_q4_0, d), kNone},
              kNone};
  }
}

// The element whose fifth bit bit k of a plane byte j holds (interleaved_rows.h).
constexpr int fifth_bit_element(int k, int j) { return k < 4 ? 4 * k + j : 16 + 4 * (k - 4) + j; }

// A row's qh word (bit i: element i's fifth bit) as its 4 plane bytes, and back.
void qh_to_planes(const uint8_t* qh, uint8_t* planes) {
  uint32_t word;
  std::memcpy(&word, qh, sizeof word);
  for (int j = 0; j < 4; ++j) {
    uint8_t byte = 0;
    for (int k = 0; k < 8; ++k) byte |= ((word >> fifth_bit_element(k, j)) & 1u) << k;
    planes[j] = byte;
  }
}
void planes_to_qh(const uint8_t* planes, uint8_t* qh) {
  uint32_t word = 0;
  for (int j = 0; j < 4; ++j)
    for (int k = 0; k < 8; ++k) word |= uint32_t{(planes[j] >> k) & 1u} << fifth_bit_element(k, j);
  std::memcpy(qh, &word, sizeof word);
}

// Calls move(tile byte offset, block byte offset, bytes) for every piece of block b of row r
// kept as it is, and fifth(tile byte offset, block byte offset) for its qh.
template <typename Move, typename Fifth>
void for_each_piece(const BlockShape& s, int r, const Move& move, const Fifth& fifth) {
  uint64_t vector = 0;
  for (const Run& run : s.runs)
    for (uint64_t k = 0; k < run.bytes / 4; ++k) move(32 * vector++ + 4 * r, run.at + 4 * k, 4);
  uint64_t at = 32 * vector;
  for (const uint64_t half : s.halves) {
    if (half == kNone) continue;
    move(at + kHalf * r, half, kHalf);
    at += kInterleavedRows * kHalf;
  }
  if (s.qh != kNone) fifth(at + 4 * r, s.qh);
}

}  // namespace

bool interleavable_type(TensorType type) {
  return type == TensorType::Q4_0 || type == TensorType::Q4_1 || type == TensorType::Q5_0 ||
         type == TensorType::Q5_1 || type == TensorType::Q8_0 || type == TensorType::Q4_K ||
         type == TensorType::Q6_K;
}

uint64_t interleaved_tile_bytes(TensorType type) { return kInterleavedRows * shape_of(type).bytes; }

void interleave_rows(TensorType type, const uint8_t* rows, uint64_t row_bytes, int64_t nb,
                     uint8_t* out) {
  const BlockShape s = shape_of(type);
  for (int r = 0; r < kInterleavedRows; ++r) {
    for (int64_t b = 0; b < nb; ++b) {
      const uint8_t* block = rows + r * row_bytes + b * s.bytes;
      uint8_t* tile = out + b * kInterleavedRows * s.bytes;
      for_each_piece(
          s, r,
          [&](uint64_t at, uint64_t from, uint64_t n) { std::memcpy(tile + at, block + from, n); },
          [&](uint64_t at, uint64_t from) { qh_to_planes(block + from, tile + at); });
    }
  }
}

void restore_interleaved_block(TensorType type, const uint8_t* tile, int r, uint8_t* out) {
  const BlockShape s = shape_of(type);
  for_each_piece(
      s, r, [&](uint64_t at, uint64_t from, uint64_t n) { std::memcpy(out + from, tile + at, n); },
      [&](uint64_t at, uint64_t from) { planes_to_qh(tile + at, out + from); });
}

void restore_interleaved_row(TensorType type, const uint8_t* run, int64_t nb, int r, uint8_t* out) {
  const uint64_t block_bytes = shape_of(type).bytes;
  for (int64_t b = 0; b < nb; ++b)
    restore_interleaved_block(type, run + b * kInterleavedRows * block_bytes, r,
                              out + b * block_bytes);
}

}  // namespace infera
