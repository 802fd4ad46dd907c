// Reference quantizers. Each follows gguf-py's numpy code step by step in float32 (see quantize.h);
// the comments name the numpy expression each line mirrors.
#include "quant/quantize.h"

#include <bit>
#include <cmath>
#include <cstring>
#include <string>

#include "core/error.h"
#include "quant/float16.h"

// Every product and sum must be rounded on its own, as numpy does: no FMA contraction. The
// products that feed an add also go through mul_rounded(), which holds even where a compiler
// flag overrides this pragma (clang -ffp-contract=fast); the golden tests include blocks whose
// quants change under an FMA.
#include "core/fp_contract_off.h"

namespace infera {
namespace {

// np.trunc(v).astype(np.uint8).clip(0, hi) for the v >= 0 these quantizers produce on finite
// input; NaN (only from non-finite input) maps to 0 instead of undefined behaviour.
int trunc_clip(float v, int hi) {
  if (!(v > 0.0f)) return 0;
  if (v >= static_cast<float>(hi)) return hi;
  return static_cast<int>(v);
}

// Value of largest magnitude, the first one on ties: np.take_along_axis(x, abs(x).argmax()).
// The sign of the element is kept, so a block of zeros starting with -0.0 yields -0.0.
float first_absmax(const float* x, int n) {
  float max = x[0];
  float amax = std::fabs(x[0]);
  for (int j = 1; j < n; ++j) {
    if (std::fabs(x[j]) > amax) {
      amax = std::fabs(x[j]);
      max = x[j];
    }
  }
  return max;
}

void min_max(const float* x, int n, float* min, float* max) {
  *min = x[0];
  *max = x[0];
  for (int j = 1; j < n; ++j) {
    if (x[j] < *min) *min = x[j];
    if (x[j] > *max) *max = x[j];
  }
}

// np.where(d == 0, 0, 1 / d)
float inverse_or_zero(float d) { return d == 0.0f ? 0.0f : 1.0f / d; }

// ggml's nearest_int: adding 1.5 * 2^23 leaves round-half-to-even(v) + 2^22 in the low mantissa
// bits (valid for |v| < 2^22). NaN gives 0; no float-to-int conversion, so never undefined.
int nearest_int(float v) {
  const float shifted = v + 12582912.0f;
  const int32_t bits = std::bit_cast<int32_t>(shifted);
  return (bits & 0x007fffff) - 0x00400000;
}

void store_le32(uint8_t* p, uint32_t v) {
  for (int k = 0; k < 4; ++k) p[k] = static_cast<uint8_t>(v >> (8 * k));
}

}  // namespace

void quantize_block(const float* x, block_q4_0* y) {
  const float max = first_absmax(x, QK4_0);
  const float d = max / -8.0f;  // d = max / -8
  const float id = inverse_or_zero(d);
  y->d = fp32_to_fp16(d);
  for (int j = 0; j < QK4_0 / 2; ++j) {
    // np.trunc(blocks * id + 8.5).astype(uint8).clip(0, 15)
    const int q0 = trunc_clip(mul_rounded(x[j], id) + 8.5f, 15);
    const int q1 = trunc_clip(mul_rounded(x[j + QK4_0 / 2], id) + 8.5f, 15);
    y->qs[j] = static_cast<uint8_t>(q0 | (q1 << 4));
  }
}

void quantize_block(const float* x, block_q4_1* y) {
  float min, max;
  min_max(x, QK4_1, &min, &max);
  const float d = (max - min) / 15.0f;
  const float id = inverse_or_zero(d);
  y->d = fp32_to_fp16(d);
  y->m = fp32_to_fp16(min);
  for (int j = 0; j < QK4_1 / 2; ++j) {
    // np.trunc((blocks - min) * id + 0.5).astype(uint8).clip(0, 15)
    const int q0 = trunc_clip(mul_rounded(x[j] - min, id) + 0.5f, 15);
    const int q1 = trunc_clip(mul_rounded(x[j + QK4_1 / 2] - min, id) + 0.5f, 15);
    y->qs[j] = static_cast<uint8_t>(q0 | (q1 << 4));
  }
}

void quantize_block(const float* x, block_q5_0* y) {
  const float max = first_absmax(x, QK5_0);
  const float d = max / -16.0f;
  const float id = inverse_or_zero(d);
  y->d = fp32_to_fp16(d);
  uint32_t qh = 0;
  for (int j = 0; j < QK5_0 / 2; ++j) {
    const int q0 = trunc_clip(mul_rounded(x[j], id) + 16.5f, 31);
    const int q1 = trunc_clip(mul_rounded(x[j + QK5_0 / 2], id) + 16.5f, 31);
    y->qs[j] = static_cast<uint8_t>((q0 & 0x0f) | ((q1 & 0x0f) << 4));
    qh |= static_cast<uint32_t>(q0 >> 4) << j;
    qh |= static_cast<uint32_t>(q1 >> 4) << (j + QK5_0 / 2);
  }
  store_le32(y->qh, qh);
}

void quantize_block(const float* x, block_q5_1* y) {
  float min, max;
  min_max(x, QK5_1, &min, &max);
  const float d = (max - min) / 31.0f;
  const float id = inverse_or_zero(d);
  y->d = fp32_to_fp16(d);
  y->m = fp32_to_fp16(min);
  uint32_t qh = 0;
  for (int j = 0; j < QK5_1 / 2; ++j) {
    const int q0 = trunc_clip(mul_rounded(x[j] - min, id) + 0.5f, 31);
    const int q1 = trunc_clip(mul_rounded(x[j + QK5_1 / 2] - min, id) + 0.5f, 31);
    y->qs[j] = static_cast<uint8_t>((q0 & 0x0f) | ((q1 & 0x0f) << 4));
    qh |= static_cast<uint32_t>(q0 >> 4) << j;
    qh |= static_cast<uint32_t>(q1 >> 4) << (j + QK5_1 / 2);
  }
  store_le32(y->qh, qh);
}

void quantize_block(const float* x, block_q8_0* y) {
  float amax = 0.0f;  // abs(blocks).max()
  for (int j = 0; j < QK8_0; ++j) {
    if (std::fabs(x[j]) > amax) amax = std::fabs(x[j]);
  }
  const float d = amax / 127.0f;
  const float id = inverse_or_zero(d);
  y->d = fp32_to_fp16(d);
  for (int j = 0; j < QK8_0; ++j) {
    // np_roundf(blocks * id): round half away from zero, which is std::round.
    const float r = std::round(x[j] * id);
    int q = 0;
    if (r >= 127.0f) {
      q = 127;
    } else if (r <= -128.0f) {
      q = -128;
    } else if (r == r) {  // NaN (non-finite input only) stays 0
      q = static_cast<int>(r);
    }
    y->qs[j] = static_cast<int8_t>(q);
  }
}

void quantize_block(const float* x, block_q8_K* y) {
  // ggml quantize_row_q8_K_ref: the first value of largest magnitude sets the scale.
  float max = 0.0f;
  float amax = 0.0f;
  for (int j = 0; j < QK_K; ++j) {
    const float ax = std::fabs(x[j]);
    if (ax > amax) {
      amax = ax;
      max = x[j];
    }
  }
  if (amax == 0.0f) {
    y->d = 0.0f;
    std::memset(y->qs, 0, sizeof(y->qs));
    std::memset(y->bsums, 0, sizeof(y->bsums));
    return;
  }
  // -127 (not -128) keeps q in -127..127, as ggml chose for its SIMD dot products.
  const float iscale = -127.0f / max;
  for (int j = 0; j < QK_K; ++j) {
    const int v = nearest_int(mul_rounded(iscale, x[j]));
    y->qs[j] = static_cast<int8_t>(v < 127 ? v : 127);
  }
  for (int g = 0; g < QK_K / 16; ++g) {
    int sum = 0;
    for (int l = 0; l < 16; ++l) sum += y->qs[g * 16 + l];
    y->bsums[g] = static_cast<int16_t>(sum);
  }
  y->d = 1.0f / iscale;
}

namespace {

template <typename Block>
void quantize_blocks(const float* src, void* dst, int64_t n_blocks, int block_elements) {
  auto* p = static_cast<unsigned char*>(dst);
  for (int64_t i = 0; i < n_blocks; ++i) {
    Block b;
    quantize_block(src + i * block_elements, &b);
    std::memcpy(p + i * static_cast<int64_t>(sizeof(Block)), &b, sizeof(Block));
  }
}

}  // namespace

bool has_quantizer(TensorType type) {
  switch (type) {
    case TensorType::F32:
    case TensorType::F16:
    case TensorType::BF16:
    case TensorType::Q4_0:
    case TensorType::Q4_1:
    case TensorType::Q5_0:
    case TensorType::Q5_1:
    case TensorType::Q8_0:
    case TensorType::Q8_K:
      return true;
    default:
      return false;
  }
}

void quantize_row(TensorType type, const float* src, void* dst, int64_t n) {
  if (!has_quantizer(type)) {
    throw Error(ErrorKind::kUnsupported, "no quantizer for tensor type " + tensor_type_label(type));
  }
  const int64_t nb = whole_blocks(type, n, "quantize_row");
  auto* bytes = static_cast<unsigned char*>(dst);
  switch (type) {
    case TensorType::F32:
      if (n > 0) std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
      return;
    case TensorType::F16:
      for (int64_t i = 0; i < n; ++i) {
        const uint16_t h = fp32_to_fp16(src[i]);
        std::memcpy(bytes + 2 * i, &h, 2);
      }
      return;
    case TensorType::BF16:
      for (int64_t i = 0; i < n; ++i) {
        const uint16_t h = fp32_to_bf16(src[i]);
        std::memcpy(bytes + 2 * i, &h, 2);
      }
      return;
    case TensorType::Q4_0:
      return quantize_blocks<block_q4_0>(src, dst, nb, QK4_0);
    case TensorType::Q4_1:
      return quantize_blocks<block_q4_1>(src, dst, nb, QK4_1);
    case TensorType::Q5_0:
      return quantize_blocks<block_q5_0>(src, dst, nb, QK5_0);
    case TensorType::Q5_1:
      return quantize_blocks<block_q5_1>(src, dst, nb, QK5_1);
    case TensorType::Q8_0:
      return quantize_blocks<block_q8_0>(src, dst, nb, QK8_0);
    case TensorType::Q8_K:
      return quantize_blocks<block_q8_K>(src, dst, nb, QK_K);
    default:
      return;  // unreachable: has_quantizer() said no above
  }
}

}  // namespace infera
