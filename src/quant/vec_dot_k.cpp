// Scalar reference K-quant x Q8_K dot products (see vec_dot_k.h). Each weight block is first
// unpacked to integers in element order (the layouts of blocks.h, as dequantize_k.cpp reads them);
// everything up to the per-block float multiply is exact integer arithmetic, in any order, so only
// the float steps define the bits, and they follow vec_dot_k.h one by one.
#include "quant/vec_dot_k.h"

#include <cstring>
#include <string>
#include <vector>

#include "core/error.h"
#include "kernels/int_dot.h"
#include "quant/block_lanes.h"
#include "quant/float16.h"

// Each float product and sum rounded on its own, as in ggml's scalar code compiled without FMA:
// mul_rounded() for the products that feed a sum, and contraction off for the rest.
#include "core/fp_contract_off.h"

namespace infera {
namespace {

constexpr int kSubBlocks = QK_K / 16;  // integer scales are kept per 16 elements for every type

// One weight block as integers: the quant of each element (element order of dequantize_row), and
// the scale and min of each 16-element sub-block (min 0 for types without mins). Declared in
// kernels/int_dot.h, whose SIMD kernels take it too.
using IntBlock = KIntBlock;
static_assert(sizeof(IntBlock::scale) / sizeof(IntBlock::scale[0]) == kSubBlocks);

// The 2-bit field of element i in the Q2_K/Q3_K qs layout.
int low2(const uint8_t* qs, int i) {
  return (qs[(i / 128) * 32 + i % 32] >> (2 * ((i % 128) / 32))) & 3;
}

void unpack(const block_q2_K& b, IntBlock* u) {
  for (int i = 0; i < QK_K; ++i) u->q[i] = static_cast<int8_t>(low2(b.qs, i));
  for (int s = 0; s < kSubBlocks; ++s) {
    u->scale[s] = b.scales[s] & 0x0f;
    u->min[s] = b.scales[s] >> 4;
  }
}

void unpack(const block_q3_K& b, IntBlock* u) {
  for (int i = 0; i < QK_K; ++i) {
    const int high_set = (b.hmask[i % 32] >> (i / 32)) & 1;
    u->q[i] = static_cast<int8_t>(low2(b.qs, i) - (high_set ? 0 : 4));
  }
  for (int s = 0; s < kSubBlocks; ++s) {
    u->scale[s] = q3k_scale(b.scales, s);
    u->min[s] = 0;
  }
}

// Scales and mins of Q4_K/Q5_K are per 32 elements: both 16-element halves get the same ones.
void unpack_scales_mins_k4(const uint8_t* scales, IntBlock* u) {
  for (int s = 0; s < kSubBlocks; ++s) {
    uint8_t sc, m;
    q4k_scale_min(scales, s / 2, &sc, &m);
    u->scale[s] = sc;
    u->min[s] = m;
  }
}

int low4(const uint8_t* qs, int i) {
  return (qs[(i / 64) * 32 + i % 32] >> (4 * ((i / 32) % 2))) & 0x0f;
}

void unpack(const block_q4_K& b, IntBlock* u) {
  for (int i = 0; i < QK_K; ++i) u->q[i] = static_cast<int8_t>(low4(b.qs, i));
  unpack_scales_mins_k4(b.scales, u);
}

void unpack(const block_q5_K& b, IntBlock* u) {
  for (int i = 0; i < QK_K; ++i) {
    const int high = (b.qh[i % 32] >> (i / 32)) & 1;
    u->q[i] = static_cast<int8_t>(low4(b.qs, i) | (high << 4));
  }
  unpack_scales_mins_k4(b.scales, u);
}

void unpack(const block_q6_K& b, IntBlock* u) {
  for (int i = 0; i < QK_K; ++i) {
    const int low = (b.ql[(i / 128) * 64 + i % 64] >> (4 * ((i % 128) / 64))) & 0x0f;
    const int high = (b.qh[(i / 128) * 32 + i % 32] >> (2 * ((i % 128) / 32))) & 3;
    u->q[i] = static_cast<int8_t>((low | (high << 4)) - 32);
  }
  for (int s = 0; s < kSubBlocks; ++s) {
    u->scale[s] = b.scales[s];
    u->min[s] = 0;
  }
}

// sum over sub-blocks of min * bsum: the integer min term (|result| < 16 * 63 * 16 * 128).
int32_t min_term(const IntBlock& u, const block_q8_K& x) {
  int32_t sum = 0;
  for (int s = 0; s < kSubBlocks; ++s) sum += u.min[s] * x.bsums[s];
  return sum;
}

// Reads block i of a row that may be unaligned.
template <typename Block>
Block load_block(const unsigned char* row, int64_t i) {
  Block b;
  std::memcpy(&b, row + i * static_cast<int64_t>(sizeof(Block)), sizeof(Block));
  return b;
}

// A weight row unpacked once (integer quants, scales and mins per block, float d and dmin), so
// that several activation rows can be multiplied with it.
struct UnpackedKRow {
  std::vector<IntBlock> blocks;
  std::vector<float> d, dmin;
};

template <typename Block, bool kHasMin>
void unpack_row(const unsigned char* row, int64_t nb, KUnpackFn simd_unpack, UnpackedKRow* r) {
  r->blocks.resize(static_cast<size_t>(nb));
  r->d.resize(static_cast<size_t>(nb));
  r->dmin.assign(static_cast<size_t>(nb), 0.0f);
  for (int64_t i = 0; i < nb; ++i) {
    const Block b = load_block<Block>(row, i);
    if (simd_unpack != nullptr) {  // same values, from kernels/int_dot.h
      simd_unpack(row + i * static_cast<int64_t>(sizeof(Block)), &r->blocks[i]);
    } else {
      unpack(b, &r->blocks[i]);
    }
    r->d[i] = fp16_to_fp32(b.d);
    if constexpr (kHasMin) r->dmin[i] = fp16_to_fp32(b.dmin);
  }
}

// The integer sum of one block: Σ over sub-blocks of scale · Σ q · x (exact: |isum| <= 256 · 32 ·
// 127 · 127 < 2^31 for Q6_K, less for the others).
int32_t block_isum(const IntBlock& u, const block_q8_K& x) {
  int32_t isum = 0;
  for (int s = 0; s < kSubBlocks; ++s) {
    int32_t sub = 0;
    for (int l = 0; l < 16; ++l) sub += u.q[s * 16 + l] * x.qs[s * 16 + l];
    isum += u.scale[s] * sub;
  }
  return isum;
}

// Block i's term (d(w)·d(x))·isum, minus (dmin(w)·d(x))·summs for the types with mins, into lane
// i % 8; the lanes join last (block_lanes.h).
template <bool kHasMin>
float dot_blocks(const UnpackedKRow& w, const block_q8_K* x, int64_t nb) {
  float lane[kBlockLanes] = {};
  for (int64_t i = 0; i < nb; ++i) {
    const IntBlock& u = w.blocks[i];
    const float d = w.d[i] * x[i].d;
    float term = mul_rounded(d, static_cast<float>(block_isum(u, x[i])));
    if constexpr (kHasMin) {
      const float dmin = w.dmin[i] * x[i].d;
      term -= mul_rounded(dmin, static_cast<float>(min_term(u, x[i])));
    }
    lane[block_lane(i)] += term;
  }
  return sum_block_lanes(lane);
}

[[noreturn]] void throw_bad_type(TensorType weight_type) {
  throw Error(ErrorKind::kInvalidArgument, "vec_dot_k_q8k: weight type " +
                                               tensor_type_label(weight_type) +
                                               " is not one of Q2_K, Q3_K, Q4_K, Q5_K, Q6_K");
}

}  // namespace

float vec_dot_k_q8k(TensorType weight_type, const void* w_row, const block_q8_K* x, int64_t n) {
  float y = 0.0f;
  vec_dot_k_q8k_rows(weight_type, w_row, x, 0, 1, n, &y, 0);
  return y;
}

void vec_dot_k_q8k_rows(TensorType weight_type, const void* w_row, const block_q8_K* x,
                        int64_t x_stride_blocks, int64_t n_rows, int64_t n, float* y,
                        int64_t y_stride) {
  if (n < 0 || n % QK_K != 0) {
    throw Error(ErrorKind::kInvalidArgument, "vec_dot_k_q8k: " + std::to_string(n) +
                                                 " elements is not a whole number of blocks of " +
                                                 std::to_string(QK_K));
  }
  const auto* row = static_cast<const unsigned char*>(w_row);
  const int64_t nb = n / QK_K;
  if (weight_type != TensorType::Q2_K && weight_type != TensorType::Q3_K &&
      weight_type != TensorType::Q4_K && weight_type != TensorType::Q5_K &&
      weight_type != TensorType::Q6_K) {
    throw_bad_type(weight_type);
  }
  // SIMD kernels that decode the packed blocks in registers (same bits), for the types that have
  // them; the others are unpacked below and go through the per-kind kernels or the reference.
  if (int_dot_k_rows(weight_type, w_row, x, x_stride_blocks, n_rows, nb, y, y_stride)) return;
  thread_local UnpackedKRow w;
  const KUnpackFn simd_unpack = int_dot_k_unpack(weight_type);
  switch (weight_type) {
    case TensorType::Q2_K:
      unpack_row<block_q2_K, true>(row, nb, simd_unpack, &w);
      break;
    case TensorType::Q3_K:
      unpack_row<block_q3_K, false>(row, nb, simd_unpack, &w);
      break;
    case TensorType::Q4_K:
      unpack_row<block_q4_K, true>(row, nb, simd_unpack, &w);
      break;
    case TensorType::Q5_K:
      unpack_row<block_q5_K, true>(row, nb, simd_unpack, &w);
      break;
    case TensorType::Q6_K:
      unpack_row<block_q6_K, false>(row, nb, simd_unpack, &w);
      break;
    default:
      throw_bad_type(weight_type);
  }
  const bool has_min = weight_type == TensorType::Q2_K || weight_type == TensorType::Q4_K ||
                       weight_type == TensorType::Q5_K;
  // SIMD kernels (same bits) where the CPU has them; else the scalar reference.
  const KDotFn simd = int_dot_k_kernel(has_min ? KDotKind::kWithMin : KDotKind::kPlain);
  for (int64_t t = 0; t < n_rows; ++t) {
    const block_q8_K* xt = x + t * x_stride_blocks;
    float r;
    if (simd != nullptr) {
      r = simd(w.blocks.data(), w.d.data(), w.dmin.data(), xt, nb);
    } else if (has_min) {
      r = dot_blocks<true>(w, xt, nb);
    } else {
      r = dot_blocks<false>(w, xt, nb);
    }
    y[t * y_stride] = r;
  }
}

}  // namespace infera
