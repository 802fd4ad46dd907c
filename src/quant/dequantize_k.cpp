// Scalar reference dequantization of the K-quants (256-element super-blocks) and of Q8_K.
// Operation order follows gguf-py's numpy code (= ggml's dequantize_row_*): the per-sub-block
// factors d*sc and dmin*m are rounded to float first, then y = factor * q - min_factor.
#include "quant/dequantize.h"
#include "quant/float16.h"

// No FMA contraction: see dequantize.cpp.
#include "core/fp_contract_off.h"

namespace infera {

void dequantize_block(const block_q2_K& b, float* y) {
  const float d = fp16_to_fp32(b.d);
  const float dmin = fp16_to_fp32(b.dmin);
  for (int sub = 0; sub < QK_K / 16; ++sub) {
    const float dl = d * static_cast<float>(b.scales[sub] & 0x0f);
    const float ml = dmin * static_cast<float>(b.scales[sub] >> 4);
    for (int l = 0; l < 16; ++l) {
      const int i = sub * 16 + l;
      const int q = (b.qs[(i / 128) * 32 + i % 32] >> (2 * ((i % 128) / 32))) & 0x03;
      y[i] = dl * static_cast<float>(q) - ml;
    }
  }
}

void dequantize_block(const block_q3_K& b, float* y) {
  const float d = fp16_to_fp32(b.d);
  for (int sub = 0; sub < QK_K / 16; ++sub) {
    const float dl = d * static_cast<float>(q3k_scale(b.scales, sub));
    for (int l = 0; l < 16; ++l) {
      const int i = sub * 16 + l;
      const int low = (b.qs[(i / 128) * 32 + i % 32] >> (2 * ((i % 128) / 32))) & 0x03;
      const int high_set = (b.hmask[i % 32] >> (i / 32)) & 0x01;
      const int q = low - (high_set ? 0 : 4);
      y[i] = dl * static_cast<float>(q);
    }
  }
}

void dequantize_block(const block_q4_K& b, float* y) {
  const float d = fp16_to_fp32(b.d);
  const float dmin = fp16_to_fp32(b.dmin);
  for (int sub = 0; sub < QK_K / 32; ++sub) {
    uint8_t sc, m;
    q4k_scale_min(b.scales, sub, &sc, &m);
    const float d1 = d * static_cast<float>(sc);
    const float m1 = dmin * static_cast<float>(m);
    const uint8_t* qs = b.qs + (sub / 2) * 32;
    const int shift = 4 * (sub % 2);
    for (int l = 0; l < 32; ++l) {
      const int q = (qs[l] >> shift) & 0x0f;
      y[sub * 32 + l] = d1 * static_cast<float>(q) - m1;
    }
  }
}

void dequantize_block(const block_q5_K& b, float* y) {
  const float d = fp16_to_fp32(b.d);
  const float dmin = fp16_to_fp32(b.dmin);
  for (int sub = 0; sub < QK_K / 32; ++sub) {
    uint8_t sc, m;
    q4k_scale_min(b.scales, sub, &sc, &m);
    const float d1 = d * static_cast<float>(sc);
    const float m1 = dmin * static_cast<float>(m);
    const uint8_t* qs = b.qs + (sub / 2) * 32;
    const int shift = 4 * (sub % 2);
    for (int l = 0; l < 32; ++l) {
      const int q = ((qs[l] >> shift) & 0x0f) | (((b.qh[l] >> sub) & 0x01) << 4);
      y[sub * 32 + l] = d1 * static_cast<float>(q) - m1;
    }
  }
}

void dequantize_block(const block_q6_K& b, float* y) {
  const float d = fp16_to_fp32(b.d);
  for (int sub = 0; sub < QK_K / 16; ++sub) {
    const float ds = d * static_cast<float>(b.scales[sub]);
    for (int l = 0; l < 16; ++l) {
      const int i = sub * 16 + l;
      const int low = (b.ql[(i / 128) * 64 + i % 64] >> (4 * ((i % 128) / 64))) & 0x0f;
      const int high = (b.qh[(i / 128) * 32 + i % 32] >> (2 * ((i % 128) / 32))) & 0x03;
      const int q = (low | (high << 4)) - 32;
      y[i] = ds * static_cast<float>(q);
    }
  }
}

void dequantize_block(const block_q8_K& b, float* y) {
  for (int i = 0; i < QK_K; ++i) y[i] = b.d * static_cast<float>(b.qs[i]);
}

}  // namespace infera
