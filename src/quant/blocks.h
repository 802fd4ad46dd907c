#pragma once
// Block layouts of the quantized tensor types, byte for byte as ggml (ggml-common.h) and the GGUF
// format define them. Declared once here and shared by the scalar reference, the SIMD kernels and
// (later) CUDA code. `uint16_t d` fields hold IEEE half bit patterns (see float16.h); multi-byte
// fields are little-endian, which is also the host order on every platform infera targets.
//
// Element order inside a block (i = element index in the block):
//   Q4_0/Q4_1:  qs[j] low nibble = element j, high nibble = element j + 16.
//   Q5_0/Q5_1:  as Q4 for the low 4 bits; bit 4 of element i = bit i of the little-endian qh word.
//   Q8_0:       qs[i].
//   Q2_K:       2-bit q = (qs[(i/128)*32 + i%32] >> (2*((i%128)/32))) & 3; 16 sub-blocks of 16,
//   each
//               with scales[i/16]: low nibble scale, high nibble min.
//   Q3_K:       low 2 bits as Q2_K; high bit = (hmask[i%32] >> (i/32)) & 1, and q - 4 when it is 0;
//               16 sub-blocks of 16 with 6-bit scales (offset 32) packed in 12 bytes (see
//               dequantize_k.cpp).
//   Q4_K:       4-bit q = (qs[(i/64)*32 + i%32] >> (4*((i/32)%2))) & 15; 8 sub-blocks of 32 with
//               6-bit scale and min packed in 12 bytes (ggml's get_scale_min_k4).
//   Q5_K:       as Q4_K plus bit 4 = (qh[i%32] >> (i/32)) & 1.
//   Q6_K:       low 4 bits = (ql[(i/128)*64 + i%64] >> (4*((i%128)/64))) & 15,
//               high 2 bits = (qh[(i/128)*32 + i%32] >> (2*((i%128)/32))) & 3, q - 32;
//               16 sub-blocks of 16 with int8 scales.
//   Q8_K:       qs[i]; bsums[j] = sum of qs[16j .. 16j+15].
#include <cstdint>

namespace infera {

inline constexpr int QK4_0 = 32;
inline constexpr int QK4_1 = 32;
inline constexpr int QK5_0 = 32;
inline constexpr int QK5_1 = 32;
inline constexpr int QK8_0 = 32;
inline constexpr int QK_K = 256;         // elements of a K-quant super-block
inline constexpr int K_SCALE_SIZE = 12;  // packed 6-bit scales/mins of Q3_K, Q4_K, Q5_K

// d * (q - 8), q in 0..15
struct block_q4_0 {
  uint16_t d;
  uint8_t qs[QK4_0 / 2];
};

// d * q + m, q in 0..15
struct block_q4_1 {
  uint16_t d;
  uint16_t m;
  uint8_t qs[QK4_1 / 2];
};

// d * (q - 16), q in 0..31
struct block_q5_0 {
  uint16_t d;
  uint8_t qh[4];
  uint8_t qs[QK5_0 / 2];
};

// d * q + m, q in 0..31
struct block_q5_1 {
  uint16_t d;
  uint16_t m;
  uint8_t qh[4];
  uint8_t qs[QK5_1 / 2];
};

// d * q, q in -128..127
struct block_q8_0 {
  uint16_t d;
  int8_t qs[QK8_0];
};

// Activation block paired with Q4_1/Q5_1 weights: d * q, and s = d * Σq so the weights' min
// term needs no per-element work.
struct block_q8_1 {
  uint16_t d;
  uint16_t s;
  int8_t qs[QK8_0];
};

// (d * sc) * q - dmin * m, q in 0..3, 4-bit sc and m per 16 elements
struct block_q2_K {
  uint8_t scales[QK_K / 16];  // low nibble: scale, high nibble: min
  uint8_t qs[QK_K / 4];
  uint16_t d;
  uint16_t dmin;
};

// (d * (sc - 32)) * q, q in -4..3, 6-bit sc per 16 elements
struct block_q3_K {
  uint8_t hmask[QK_K / 8];  // high bit of each q (set = no offset, clear = minus 4)
  uint8_t qs[QK_K / 4];     // low 2 bits
  uint8_t scales[K_SCALE_SIZE];
  uint16_t d;
};

// (d * sc) * q - dmin * m, q in 0..15, 6-bit sc and m per 32 elements
struct block_q4_K {
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[K_SCALE_SIZE];
  uint8_t qs[QK_K / 2];
};

// (d * sc) * q - dmin * m, q in 0..31, 6-bit sc and m per 32 elements
struct block_q5_K {
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[K_SCALE_SIZE];
  uint8_t qh[QK_K / 8];
  uint8_t qs[QK_K / 2];
};

// (d * sc) * q, q in -32..31, int8 sc per 16 elements
struct block_q6_K {
  uint8_t ql[QK_K / 2];
  uint8_t qh[QK_K / 4];
  int8_t scales[QK_K / 16];
  uint16_t d;
};

// Activation block of the K-quant dot products: d * q with an fp32 d, plus per-16 sums of q.
struct block_q8_K {
  float d;
  int8_t qs[QK_K];
  int16_t bsums[QK_K / 16];
};

// Sizes as in tensor_type.cpp's table (a unit test also checks them against traits_of()).
static_assert(sizeof(block_q4_0) == 18);
static_assert(sizeof(block_q8_1) == 36);
static_assert(sizeof(block_q4_1) == 20);
static_assert(sizeof(block_q5_0) == 22);
static_assert(sizeof(block_q5_1) == 24);
static_assert(sizeof(block_q8_0) == 34);
static_assert(sizeof(block_q2_K) == 84);
static_assert(sizeof(block_q3_K) == 110);
static_assert(sizeof(block_q4_K) == 144);
static_assert(sizeof(block_q5_K) == 176);
static_assert(sizeof(block_q6_K) == 210);
static_assert(sizeof(block_q8_K) == 292);

// 6-bit scale of sub-block j (0..15) of a Q3_K block, offset removed: -32..31.
// Bytes 0..7 hold the low nibbles (sub-blocks 0..7 in the low halves, 8..15 in the high halves);
// bytes 8..11 hold the top two bits, sub-block j in bits 2*(j/4) of byte 8 + j%4.
inline int q3k_scale(const uint8_t* scales, int j) {
  const int low = j < 8 ? (scales[j] & 0x0f) : (scales[j - 8] >> 4);
  const int high = (scales[8 + (j & 3)] >> (2 * (j >> 2))) & 0x03;
  return (low | (high << 4)) - 32;
}

// 6-bit scale and min of sub-block j (0..7) of a Q4_K/Q5_K block (ggml's get_scale_min_k4).
// Sub-blocks 0..3: low 6 bits of bytes j (scale) and j+4 (min). Sub-blocks 4..7: nibbles of byte
// j+4 (scale low, min high) plus the top two bits of bytes j-4 (scale) and j (min).
inline void q4k_scale_min(const uint8_t* scales, int j, uint8_t* sc, uint8_t* m) {
  if (j < 4) {
    *sc = scales[j] & 0x3f;
    *m = scales[j + 4] & 0x3f;
  } else {
    *sc = static_cast<uint8_t>((scales[j + 4] & 0x0f) | ((scales[j - 4] >> 6) << 4));
    *m = static_cast<uint8_t>((scales[j + 4] >> 4) | ((scales[j] >> 6) << 4));
  }
}

}  // namespace infera
