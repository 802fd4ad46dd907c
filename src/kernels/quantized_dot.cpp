#include "kernels/quantized_dot.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/fp_contract_off.h"
#include "kernels/int_dot.h"
#include "kernels/matmul.h"
#include "kernels/quantize_simd.h"
#include "quant/block_lanes.h"
#include "quant/blocks.h"
#include "quant/dequantize.h"
#include "quant/float16.h"
#include "quant/quantize.h"
#include "quant/vec_dot_k.h"

namespace infera {
namespace {

// ggml quantizes activations with its SIMD quantizer: scale 127/amax, round half to even
// (nearbyint in the default rounding mode), which differs from the weights' reference quantizer
// (1/d, round half away from zero) in the last bit of rare ties.
template <typename Block>
float quantize_q8_block(const float* x, Block* y) {
  float amax = 0.0f;
  for (int j = 0; j < QK8_0; ++j) amax = std::fmax(amax, std::fabs(x[j]));
  const float d = amax / 127.0f;
  const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
  // The sum wraps like the SIMD quantizer's lanes (it only can for NaN or infinite inputs, whose
  // quants are INT_MIN).
  uint32_t sum = 0;
  for (int j = 0; j < QK8_0; ++j) {
    const int q = static_cast<int>(std::nearbyint(x[j] * id));
    y->qs[j] = static_cast<int8_t>(q);
    sum += static_cast<uint32_t>(q);
  }
  y->d = fp32_to_fp16(d);
  return d * static_cast<float>(static_cast<int32_t>(sum));
}

// Weight quants of one 32-block as signed integers (before the block scale).
void unpack_q4_0(const block_q4_0& b, int* q) {
  for (int j = 0; j < 16; ++j) {
    q[j] = (b.qs[j] & 0x0F) - 8;
    q[j + 16] = (b.qs[j] >> 4) - 8;
  }
}
void unpack_q4_1(const block_q4_1& b, int* q) {
  for (int j = 0; j < 16; ++j) {
    q[j] = b.qs[j] & 0x0F;
    q[j + 16] = b.qs[j] >> 4;
  }
}
template <typename Block>
void unpack_q5(const Block& b, int offset, int* q) {
  uint32_t qh;
  std::memcpy(&qh, b.qh, sizeof qh);
  for (int j = 0; j < 16; ++j) {
    const int hi0 = ((qh >> j) << 4) & 0x10;
    const int hi1 = (qh >> (j + 12)) & 0x10;
    q[j] = ((b.qs[j] & 0x0F) | hi0) - offset;
    q[j + 16] = ((b.qs[j] >> 4) | hi1) - offset;
  }
}

int dot32(const int8_t* q, const int8_t* x) {
  int sum = 0;
  for (int j = 0; j < QK8_0; ++j) sum += q[j] * x[j];
  return sum;
}

// One weight row of a 32-block type unpacked to signed integer quants with per-block scale d and
// minimum m (0 for the symmetric types), so that several activation rows can use it.
struct UnpackedRow {
  std::vector<int8_t> q;
  std::vector<float> d, m;
};

void unpack_row(TensorType type, const uint8_t* w, int64_t nb, UnpackedRow* row) {
  row->q.resize(static_cast<size_t>(nb * QK8_0));
  row->d.resize(static_cast<size_t>(nb));
  row->m.assign(static_cast<size_t>(nb), 0.0f);
  int q[QK8_0];
  for (int64_t i = 0; i < nb; ++i) {
    switch (type) {
      case TensorType::Q4_0: {
        const auto& b = reinterpret_cast<const block_q4_0*>(w)[i];
        unpack_q4_0(b, q);
        row->d[i] = fp16_to_fp32(b.d);
        break;
      }
      case TensorType::Q4_1: {
        const auto& b = reinterpret_cast<const block_q4_1*>(w)[i];
        unpack_q4_1(b, q);
        row->d[i] = fp16_to_fp32(b.d);
        row->m[i] = fp16_to_fp32(b.m);
        break;
      }
      case TensorType::Q5_0: {
        const auto& b = reinterpret_cast<const block_q5_0*>(w)[i];
        unpack_q5(b, 16, q);
        row->d[i] = fp16_to_fp32(b.d);
        break;
      }
      case TensorType::Q5_1: {
        const auto& b = reinterpret_cast<const block_q5_1*>(w)[i];
        unpack_q5(b, 0, q);
        row->d[i] = fp16_to_fp32(b.d);
        row->m[i] = fp16_to_fp32(b.m);
        break;
      }
      default: {  // Q8_0
        const auto& b = reinterpret_cast<const block_q8_0*>(w)[i];
        for (int j = 0; j < QK8_0; ++j) q[j] = b.qs[j];
        row->d[i] = fp16_to_fp32(b.d);
        break;
      }
    }
    for (int j = 0; j < QK8_0; ++j) row->q[i * QK8_0 + j] = static_cast<int8_t>(q[j]);
  }
}

// Σ over blocks of (d_w·d_x)·Σq_w·q_x, accumulated in the lanes of block_lanes.h.
float dot_unpacked_q8_0(const UnpackedRow& w, const block_q8_0* x, int64_t nb) {
  float lane[kBlockLanes] = {};
  for (int64_t i = 0; i < nb; ++i) {
    const int sumi = dot32(w.q.data() + i * QK8_0, x[i].qs);
    lane[block_lane(i)] +=
        mul_rounded(static_cast<float>(sumi), mul_rounded(w.d[i], fp16_to_fp32(x[i].d)));
  }
  return sum_block_lanes(lane);
}

// … plus m_w·s_x for the weights' minimum.
float dot_unpacked_q8_1(const UnpackedRow& w, const block_q8_1* x, int64_t nb) {
  float lane[kBlockLanes] = {};
  for (int64_t i = 0; i < nb; ++i) {
    const int sumi = dot32(w.q.data() + i * QK8_0, x[i].qs);
    lane[block_lane(i)] +=
        mul_rounded(mul_rounded(w.d[i], fp16_to_fp32(x[i].d)), static_cast<float>(sumi)) +
        mul_rounded(w.m[i], fp16_to_fp32(x[i].s));
  }
  return sum_block_lanes(lane);
}

bool is_k_quant(TensorType t) {
  return t == TensorType::Q2_K || t == TensorType::Q3_K || t == TensorType::Q4_K ||
         t == TensorType::Q5_K || t == TensorType::Q6_K;
}

}  // namespace

TensorType activation_type_for(TensorType weight_type) {
  switch (weight_type) {
    case TensorType::Q4_0:
    case TensorType::Q5_0:
    case TensorType::Q8_0:
      return TensorType::Q8_0;
    case TensorType::Q4_1:
    case TensorType::Q5_1:
      return TensorType::Q8_1;
    case TensorType::F16:
    case TensorType::BF16:
    case TensorType::F32:
      return weight_type;
    default:
      if (is_k_quant(weight_type)) return TensorType::Q8_K;
      throw Error(ErrorKind::kUnsupported, "no activation format for weights of type " +
                                               std::string(tensor_type_name(weight_type)));
  }
}

uint64_t activation_row_bytes(TensorType weight_type, int64_t n) {
  const TensorType a = activation_type_for(weight_type);
  // F16/BF16 activations are kept as rounded f32 values so the f32 dot kernel serves them.
  if (a == TensorType::F16 || a == TensorType::BF16)
    return static_cast<uint64_t>(n) * sizeof(float);
  uint64_t bytes = 0;
  tensor_row_bytes(a, static_cast<uint64_t>(n), &bytes);
  return bytes;
}

void quantize_activations(TensorType weight_type, const float* x, void* dst, int64_t n) {
  switch (activation_type_for(weight_type)) {
    case TensorType::Q8_0: {
      auto* y = static_cast<block_q8_0*>(dst);
#if defined(__x86_64__) || defined(__i386__)
      if (active_isa() == Isa::kAvx512) return quantize_q8_0_avx512(x, y, n / QK8_0);
      if (active_isa() == Isa::kAvx2) return quantize_q8_0_avx2(x, y, n / QK8_0);
#endif
      for (int64_t i = 0; i < n / QK8_0; ++i) quantize_q8_block(x + i * QK8_0, y + i);
      return;
    }
    case TensorType::Q8_1: {
      auto* y = static_cast<block_q8_1*>(dst);
#if defined(__x86_64__) || defined(__i386__)
      if (active_isa() == Isa::kAvx512) return quantize_q8_1_avx512(x, y, n / QK8_0);
      if (active_isa() == Isa::kAvx2) return quantize_q8_1_avx2(x, y, n / QK8_0);
#endif
      for (int64_t i = 0; i < n / QK8_0; ++i)
        y[i].s = fp32_to_fp16(quantize_q8_block(x + i * QK8_0, y + i));
      return;
    }
    case TensorType::Q8_K:
#if defined(__x86_64__) || defined(__i386__)
      if (active_isa() == Isa::kAvx512)
        return quantize_q8_K_avx512(x, static_cast<block_q8_K*>(dst), n / QK_K);
      if (active_isa() == Isa::kAvx2)
        return quantize_q8_K_avx2(x, static_cast<block_q8_K*>(dst), n / QK_K);
#endif
      quantize_row(TensorType::Q8_K, x, dst, n);
      return;
    case TensorType::F16: {
      auto* y = static_cast<float*>(dst);
#if defined(__x86_64__) || defined(__i386__)
      if (active_isa() == Isa::kAvx512) return round_to_fp16_avx512(x, y, n);
      if (active_isa() == Isa::kAvx2) return round_to_fp16_avx2(x, y, n);
#endif
      for (int64_t i = 0; i < n; ++i) y[i] = fp16_to_fp32(fp32_to_fp16(x[i]));
      return;
    }
    case TensorType::BF16: {
      auto* y = static_cast<float*>(dst);
      for (int64_t i = 0; i < n; ++i) y[i] = bf16_to_fp32(fp32_to_bf16(x[i]));
      return;
    }
    default:
      std::memcpy(dst, x, static_cast<size_t>(n) * sizeof(float));
      return;
  }
}

float vec_dot_activations(TensorType weight_type, const void* w_row, const void* x_row, int64_t n) {
  const auto* w = static_cast<const uint8_t*>(w_row);
  switch (activation_type_for(weight_type)) {
    case TensorType::Q8_0:
    case TensorType::Q8_1: {
      float y;
      vec_dot_activations_rows(weight_type, w_row, static_cast<const uint8_t*>(x_row), 0, 1, n, &y,
                               0);
      return y;
    }
    case TensorType::Q8_K:
      return vec_dot_k_q8k(weight_type, w_row, static_cast<const block_q8_K*>(x_row), n);
    default: {
      // Plain weights (activations already rounded to the weights' precision): f32 products.
      const auto* x = static_cast<const float*>(x_row);
      if (weight_type == TensorType::F32) return dot_f32(reinterpret_cast<const float*>(w), x, n);
      float buf[256];
      float sum = 0.0f;
      for (int64_t i = 0; i < n; i += 256) {
        const int64_t len = std::min<int64_t>(256, n - i);
        dequantize_row(weight_type, w + i * 2, buf, len);  // F16 and BF16: 2 bytes per element
        sum += dot_f32(buf, x + i, len);
      }
      return sum;
    }
  }
}

int64_t activation_panel_rows(TensorType weight_type) {
  return int_dot_panel_available(weight_type) ? kIntPanelRows : 0;
}

int64_t activation_panel_bytes(int64_t n) {
  return kIntPanelRows * std::max<int64_t>(n, 1) * 3 / 2;
}

bool panel_reads_rewritten_activations(TensorType weight_type) {
  return int_dot_q8_type(weight_type);
}

bool kernels_read_layout(WeightLayout layout) {
  switch (layout) {
    case WeightLayout::kQ4_0Groups:
      return active_isa() == Isa::kAvx512 || active_isa() == Isa::kAvx2;
    case WeightLayout::kInterleaved8:
      return active_isa() == Isa::kAvx2;
    case WeightLayout::kAsStored:
      break;
  }
  return true;
}

bool weight_rows_read_panel_scales(TensorType weight_type) {
  return int_dot_q8_type(weight_type) &&
         (active_isa() == Isa::kAvx512 || active_isa() == Isa::kAvx2);
}

uint64_t panel_activation_row_bytes(int64_t n) { return panel_token_row_bytes(n / QK8_0); }

void panel_activations(TensorType weight_type, const void* x_row, int64_t n, uint8_t* dst) {
  const int64_t nb = n / QK8_0;
#if defined(__x86_64__) || defined(__i386__)
  if (active_isa() == Isa::kAvx2)
    return int_dot_detail::pair_activations_avx2(weight_type, x_row, nb, dst);
#endif
  const PanelTokenRow out = panel_token_row(dst, nb);
  auto* d = const_cast<float*>(out.d);
  auto* s = const_cast<float*>(out.s);
  const bool with_sum = activation_type_for(weight_type) == TensorType::Q8_1;
  for (int64_t b = 0; b < nb; ++b) {
    const int8_t* q;
    if (with_sum) {
      const auto& x = static_cast<const block_q8_1*>(x_row)[b];
      q = x.qs;
      d[b] = fp16_to_fp32(x.d);
      s[b] = fp16_to_fp32(x.s);
    } else {
      const auto& x = static_cast<const block_q8_0*>(x_row)[b];
      q = x.qs;
      d[b] = fp16_to_fp32(x.d);
      s[b] = 0;
    }
    for (int j = 0; j < QK8_0; ++j)
      dst[32 * b + j] = static_cast<uint8_t>(static_cast<uint8_t>(q[j]) ^ 0x80);
  }
}

void vec_dot_activations_panel(TensorType weight_type, const void* w, uint64_t w_row_bytes,
                               int64_t n_w_rows, const uint8_t* x_rows, uint64_t x_stride,
                               int64_t n_rows, int64_t n, float* y, int64_t y_stride,
                               WeightLayout layout) {
  int_dot_panels16(weight_type, w, w_row_bytes, n_w_rows, x_rows, x_stride, n_rows, n, y, y_stride,
                   layout);
}

void vec_dot_activations_rows(TensorType weight_type, const void* w_row, const uint8_t* x_rows,
                              uint64_t x_stride, int64_t n_rows, int64_t n, float* y,
                              int64_t y_stride) {
  const TensorType act = activation_type_for(weight_type);
  if (act == TensorType::Q8_K) {
    vec_dot_k_q8k_rows(weight_type, w_row, reinterpret_cast<const block_q8_K*>(x_rows),
                       static_cast<int64_t>(x_stride / sizeof(block_q8_K)), n_rows, n, y, y_stride);
    return;
  }
  if (act != TensorType::Q8_0 && act != TensorType::Q8_1) {
    for (int64_t t = 0; t < n_rows; ++t)
      y[t * y_stride] = vec_dot_activations(weight_type, w_row, x_rows + t * x_stride, n);
    return;
  }
  const int64_t nb = n / QK8_0;
  // SIMD kernels (same bits) where the CPU has them; below, the scalar reference.
  if (int_dot_q8_rows(weight_type, w_row, x_rows, x_stride, n_rows, nb, y, y_stride)) return;
  thread_local UnpackedRow row;
  unpack_row(weight_type, static_cast<const uint8_t*>(w_row), nb, &row);
  for (int64_t t = 0; t < n_rows; ++t) {
    const uint8_t* x = x_rows + t * x_stride;
    y[t * y_stride] = act == TensorType::Q8_0
                          ? dot_unpacked_q8_0(row, reinterpret_cast<const block_q8_0*>(x), nb)
                          : dot_unpacked_q8_1(row, reinterpret_cast<const block_q8_1*>(x), nb);
  }
}

bool vec_dot_activations_weight_rows(TensorType weight_type, const void* w_rows,
                                     uint64_t w_row_bytes, int64_t n_w_rows, const uint8_t* x_row,
                                     int64_t n, float* y, const uint8_t* x_panel_row,
                                     WeightLayout layout) {
  if (activation_type_for(weight_type) == TensorType::Q8_K)
    return int_dot_k_weight_rows(weight_type, w_rows, w_row_bytes, n_w_rows,
                                 reinterpret_cast<const block_q8_K*>(x_row), n / QK_K, y, layout);
  return int_dot_q8_weight_rows(weight_type, w_rows, w_row_bytes, n_w_rows, x_row, n / QK8_0, y,
                                x_panel_row, layout);
}

}  // namespace infera
