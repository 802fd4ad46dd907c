// Scalar reference dequantization: plain types, the 32-element "legacy" quants, and the row
// dispatcher. K-quants live in dequantize_k.cpp.
#include "quant/dequantize.h"

#include <cstring>
#include <string>

#include "core/error.h"
#include "quant/float16.h"

// Bit-exactness with gguf-py needs every product and sum rounded on its own: forbid FMA contraction
// (GCC contracts across statements under -mfma even in ISO mode for C++).
#include "core/fp_contract_off.h"

namespace infera {

void dequantize_block(const block_q4_0& b, float* y) {
  const float d = fp16_to_fp32(b.d);
  for (int j = 0; j < QK4_0 / 2; ++j) {
    const int q0 = (b.qs[j] & 0x0f) - 8;
    const int q1 = (b.qs[j] >> 4) - 8;
    y[j] = d * static_cast<float>(q0);
    y[j + QK4_0 / 2] = d * static_cast<float>(q1);
  }
}

void dequantize_block(const block_q4_1& b, float* y) {
  const float d = fp16_to_fp32(b.d);
  const float m = fp16_to_fp32(b.m);
  for (int j = 0; j < QK4_1 / 2; ++j) {
    const int q0 = b.qs[j] & 0x0f;
    const int q1 = b.qs[j] >> 4;
    y[j] = d * static_cast<float>(q0) + m;
    y[j + QK4_1 / 2] = d * static_cast<float>(q1) + m;
  }
}

namespace {

uint32_t load_le32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8) |
         (static_cast<uint32_t>(p[2]) << 16) | (static_cast<uint32_t>(p[3]) << 24);
}

}  // namespace

void dequantize_block(const block_q5_0& b, float* y) {
  const float d = fp16_to_fp32(b.d);
  const uint32_t qh = load_le32(b.qh);
  for (int j = 0; j < QK5_0 / 2; ++j) {
    const int h0 = static_cast<int>((qh >> j) & 1u) << 4;
    const int h1 = static_cast<int>((qh >> (j + QK5_0 / 2)) & 1u) << 4;
    const int q0 = ((b.qs[j] & 0x0f) | h0) - 16;
    const int q1 = ((b.qs[j] >> 4) | h1) - 16;
    y[j] = d * static_cast<float>(q0);
    y[j + QK5_0 / 2] = d * static_cast<float>(q1);
  }
}

void dequantize_block(const block_q5_1& b, float* y) {
  const float d = fp16_to_fp32(b.d);
  const float m = fp16_to_fp32(b.m);
  const uint32_t qh = load_le32(b.qh);
  for (int j = 0; j < QK5_1 / 2; ++j) {
    const int h0 = static_cast<int>((qh >> j) & 1u) << 4;
    const int h1 = static_cast<int>((qh >> (j + QK5_1 / 2)) & 1u) << 4;
    const int q0 = (b.qs[j] & 0x0f) | h0;
    const int q1 = (b.qs[j] >> 4) | h1;
    y[j] = d * static_cast<float>(q0) + m;
    y[j + QK5_1 / 2] = d * static_cast<float>(q1) + m;
  }
}

void dequantize_block(const block_q8_0& b, float* y) {
  const float d = fp16_to_fp32(b.d);
  for (int j = 0; j < QK8_0; ++j) y[j] = d * static_cast<float>(b.qs[j]);
}

namespace {

// Copies each block out of src first: a row inside a file or a buffer need not be aligned for the
// block struct.
template <typename Block>
void dequantize_blocks(const void* src, float* dst, int64_t n_blocks, int block_elements) {
  const auto* p = static_cast<const unsigned char*>(src);
  for (int64_t i = 0; i < n_blocks; ++i) {
    Block b;
    std::memcpy(&b, p + i * static_cast<int64_t>(sizeof(Block)), sizeof(Block));
    dequantize_block(b, dst + i * block_elements);
  }
}

}  // namespace

bool has_dequantizer(TensorType type) {
  switch (type) {
    case TensorType::F32:
    case TensorType::F16:
    case TensorType::BF16:
    case TensorType::Q4_0:
    case TensorType::Q4_1:
    case TensorType::Q5_0:
    case TensorType::Q5_1:
    case TensorType::Q8_0:
    case TensorType::Q2_K:
    case TensorType::Q3_K:
    case TensorType::Q4_K:
    case TensorType::Q5_K:
    case TensorType::Q6_K:
    case TensorType::Q8_K:
      return true;
    default:
      return false;
  }
}

void dequantize_row(TensorType type, const void* src, float* dst, int64_t n) {
  if (!has_dequantizer(type)) {
    throw Error(ErrorKind::kUnsupported,
                "no dequantizer for tensor type " + tensor_type_label(type));
  }
  const int64_t nb = whole_blocks(type, n, "dequantize_row");
  const auto* bytes = static_cast<const unsigned char*>(src);
  switch (type) {
    case TensorType::F32:
      if (n > 0) std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
      return;
    case TensorType::F16:
      for (int64_t i = 0; i < n; ++i) {
        uint16_t h;
        std::memcpy(&h, bytes + 2 * i, 2);
        dst[i] = fp16_to_fp32(h);
      }
      return;
    case TensorType::BF16:
      for (int64_t i = 0; i < n; ++i) {
        uint16_t h;
        std::memcpy(&h, bytes + 2 * i, 2);
        dst[i] = bf16_to_fp32(h);
      }
      return;
    case TensorType::Q4_0:
      return dequantize_blocks<block_q4_0>(src, dst, nb, QK4_0);
    case TensorType::Q4_1:
      return dequantize_blocks<block_q4_1>(src, dst, nb, QK4_1);
    case TensorType::Q5_0:
      return dequantize_blocks<block_q5_0>(src, dst, nb, QK5_0);
    case TensorType::Q5_1:
      return dequantize_blocks<block_q5_1>(src, dst, nb, QK5_1);
    case TensorType::Q8_0:
      return dequantize_blocks<block_q8_0>(src, dst, nb, QK8_0);
    case TensorType::Q2_K:
      return dequantize_blocks<block_q2_K>(src, dst, nb, QK_K);
    case TensorType::Q3_K:
      return dequantize_blocks<block_q3_K>(src, dst, nb, QK_K);
    case TensorType::Q4_K:
      return dequantize_blocks<block_q4_K>(src, dst, nb, QK_K);
    case TensorType::Q5_K:
      return dequantize_blocks<block_q5_K>(src, dst, nb, QK_K);
    case TensorType::Q6_K:
      return dequantize_blocks<block_q6_K>(src, dst, nb, QK_K);
    case TensorType::Q8_K:
      return dequantize_blocks<block_q8_K>(src, dst, nb, QK_K);
    default:
      return;  // unreachable: has_dequantizer() said no above
  }
}

}  // namespace infera
