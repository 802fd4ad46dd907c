#pragma once
// The float accumulation every quantized dot product of infera shares (quantized_dot.cpp for
// Q4_0 … Q8_0, vec_dot_k.cpp for the K-quants): the term of block i (its integer sum, scaled)
// goes to lane i % 8, each lane summing its terms in block order, and the eight lanes join in one
// fixed tree. SIMD kernels then keep the lanes in vector registers, eight blocks (or several rows'
// eight blocks) per instruction, and still give these bits.
#include <cstdint>

namespace infera {

constexpr int kBlockLanes = 8;

inline int block_lane(int64_t block) { return static_cast<int>(block % kBlockLanes); }

inline float sum_block_lanes(const float* lane) {
  return ((lane[0] + lane[4]) + (lane[1] + lane[5])) + ((lane[2] + lane[6]) + (lane[3] + lane[7]));
}

}  // namespace infera
