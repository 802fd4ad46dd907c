#pragma once
// The integer dot products of quantized weight rows with 8-bit activation rows, in AVX2 and
// AVX-512 versions chosen at run time (cpu_features.h), each equal to the scalar reference BIT FOR
// BIT. The integer part of every block is exact in any order, so the SIMD kernels sum it however
// is fastest; the float part (block scales, accumulation) then repeats the reference's operations
// in the reference's order, each product rounded on its own.
//
// References (scalar, always compiled; the dispatchers below return "no kernel" when it is
// selected):
//   Q4_0/Q4_1/Q5_0/Q5_1/Q8_0 × Q8_0/Q8_1  kernels/quantized_dot.cpp, dot_unpacked_q8_0/q8_1
//   Q2_K..Q6_K × Q8_K                     quant/vec_dot_k.cpp, dot_blocks
// (Q4_K, Q5_K, Q6_K: int_dot_k_rows decodes the packed blocks in registers; Q2_K, Q3_K: unpacked to
// KIntBlock first, then the KDotFn of their kind.)
// Tests: tests/unit/int_dot_simd_test.cpp (differential, exact; and the IntDotBench speed print).
#include <cstdint>

#include "kernels/cpu_features.h"
#include "kernels/weight_matrix.h"
#include "quant/blocks.h"
#include "quant/tensor_type.h"

namespace infera {

// One K-quant weight block as integers, as vec_dot_k.cpp unpacks it: the quant of each element in
// element order, and the scale and min of each 16-element sub-block (min 0 for types without).
// The kernels rely on the ranges the five K types give: |q| <= 32, so that a maddubs pair of
// |x| * q fits in int16 unsaturated, and |scale| <= 128, so that pair * scale fits the madd.
struct KIntBlock {
  int8_t q[QK_K];
  int32_t scale[QK_K / 16];
  int32_t min[QK_K / 16];
};

// How the per-block integers of a K-quant row become a float (vec_dot_k.h): block i's term is
// (d · d(x)) · isum, less (dmin · d(x)) · summs for kWithMin (Q2_K, Q4_K, Q5_K), into lane i % 8.
enum class KDotKind { kPlain, kWithMin };

// Σ over nb blocks of one unpacked K-quant weight row (block scales d, dmin as floats) times a
// Q8_K activation row.
using KDotFn = float (*)(const KIntBlock* w, const float* d, const float* dmin, const block_q8_K* x,
                         int64_t nb);

// Unpacks one packed K-quant block (as stored; any alignment) into a KIntBlock, the same values
// as vec_dot_k.cpp's scalar unpack.
using KUnpackFn = void (*)(const void* block, KIntBlock* u);

namespace int_dot_detail {
// Per-ISA kernels (int_dot_avx2.cpp, int_dot_avx512.cpp); use the dispatchers below.
void q8_rows_avx2(TensorType weight_type, const void* w_row, const uint8_t* x_rows,
                  uint64_t x_stride, int64_t n_rows, int64_t nb, float* y, int64_t y_stride);
void q8_rows_avx512(TensorType weight_type, const void* w_row, const uint8_t* x_rows,
                    uint64_t x_stride, int64_t n_rows, int64_t nb, float* y, int64_t y_stride);
void q8_weight_rows_avx512(TensorType weight_type, const void* w_rows, uint64_t w_row_bytes,
                           int64_t n_rows, const uint8_t* x, const float* x_d, const float* x_s,
                           int64_t nb, float* y);
void q4_0_groups_weight_rows_avx512(const void* w_rows, uint64_t w_row_bytes, int64_t n_rows,
                                    const uint8_t* x, const float* x_d, int64_t nb, float* y);
KDotFn k_kernel_avx2(KDotKind kind);
bool k_rows_avx2(TensorType weight_type, const void* w_row, const block_q8_K* x,
                 int64_t x_stride_blocks, int64_t n_rows, int64_t nb, float* y, int64_t y_stride);
bool k_rows_avx512(TensorType weight_type, const void* w_row, const block_q8_K* x,
                   int64_t x_stride_blocks, int64_t n_rows, int64_t nb, float* y, int64_t y_stride);
KUnpackFn k_unpack_avx2(TensorType weight_type);
// AVX2 kernels of the Q4_0 … Q8_0 types, reading activation rows in the pair form of
// pair_activations_avx2 (PanelTokenRow). Prompt processing: rows 16 at a time, as two panels of 8
// with row r in lane r (int_dot_avx2_lanes.cpp); n_rows a multiple of 16.
void lanes_rows_times_tokens_avx2(TensorType weight_type, const void* w_rows, uint64_t w_row_bytes,
                                  int64_t n_rows, const uint8_t* x_rows, uint64_t x_stride,
                                  int64_t n_tokens, int64_t nb, float* y, int64_t y_stride,
                                  WeightLayout layout);
// The same for Q4_K and Q6_K rows times Q8_K rows (int_dot_avx2_k_lanes.cpp).
bool k_lanes_kernel_avx2(TensorType weight_type);
void k_lanes_rows_times_tokens_avx2(TensorType weight_type, const void* w_rows,
                                    uint64_t w_row_bytes, int64_t n_rows, const block_q8_K* x,
                                    int64_t x_stride_blocks, int64_t n_tokens, int64_t nb, float* y,
                                    int64_t y_stride, WeightLayout layout);
void pair_activations_avx2(TensorType weight_type, const void* x_row, int64_t nb, uint8_t* dst);
// Decode: many rows times one activation row (int_dot_avx2_pairs.cpp).
void pair_weight_rows_avx2(TensorType weight_type, const void* w_rows, uint64_t w_row_bytes,
                           int64_t n_rows, const uint8_t* x_pair_row, int64_t nb, float* y,
                           WeightLayout layout);
// Decode on Q4_0 … Q8_0 rows interleaved 8 at a time (interleaved_rows.h; n_rows a multiple of
// 8, w_rows the start of a run; int_dot_avx2_interleaved.cpp).
void interleaved_weight_rows_avx2(TensorType weight_type, const uint8_t* w_rows,
                                  uint64_t w_row_bytes, int64_t n_rows, const uint8_t* x_pair_row,
                                  int64_t nb, float* y);
KDotFn k_kernel_avx512(KDotKind kind);
bool k_weight_rows_avx512(TensorType weight_type, const void* w_rows, uint64_t w_row_bytes,
                          int64_t n_rows, const block_q8_K* x, int64_t nb, float* y);
bool k_weight_rows_avx2(TensorType weight_type, const void* w_rows, uint64_t w_row_bytes,
                        int64_t n_rows, const block_q8_K* x, int64_t nb, float* y);
// Decode on Q4_K or Q6_K rows interleaved 8 at a time (int_dot_avx2_k_interleaved.cpp; n_rows a
// multiple of 8, w_rows the start of a run).
bool k_interleaved_weight_rows_avx2(TensorType weight_type, const uint8_t* w_rows,
                                    uint64_t w_row_bytes, int64_t n_rows, const block_q8_K* x,
                                    int64_t nb, float* y);
// n_panels panels of 16 weight rows each, consecutive, times the activation rows.
void q8_panels16_avx512(TensorType weight_type, const uint8_t* w, uint64_t w_row_bytes,
                        int64_t n_panels, const uint8_t* x_rows, uint64_t x_stride,
                        int64_t n_tokens, int64_t nb, float* y, int64_t y_stride);
// The same for Q4_0 rows regrouped (q4_0_groups.h).
void q4_0_groups_panels16_avx512(const uint8_t* w, uint64_t w_row_bytes, int64_t n_panels,
                                 const uint8_t* x_rows, uint64_t x_stride, int64_t n_tokens,
                                 int64_t nb, float* y, int64_t y_stride);
// Q4_K and Q6_K: n_panels × 16 weight rows times Q8_K rows, as k_rows row by row.
void k_panels16_avx512(TensorType weight_type, const uint8_t* w, uint64_t w_row_bytes,
                       int64_t n_panels, const block_q8_K* x, int64_t x_stride_blocks,
                       int64_t n_tokens, int64_t nb, float* y, int64_t y_stride);
}  // namespace int_dot_detail

// Weight types the Q8_0/Q8_1 kernels take.
inline bool int_dot_q8_type(TensorType t) {
  return t == TensorType::Q4_0 || t == TensorType::Q4_1 || t == TensorType::Q5_0 ||
         t == TensorType::Q5_1 || t == TensorType::Q8_0;
}

// One packed weight row of nb 32-blocks of `weight_type` (Q4_0, Q4_1, Q5_0, Q5_1 or Q8_0; as
// stored, 2-byte aligned) times n_rows activation rows x_stride bytes apart (Q8_0 for the _0
// types and Q8_0 weights, Q8_1 for the _1 types), writing y[t * y_stride]: the same bits as
// dot_unpacked_q8_0/q8_1. Weights are unpacked in registers, block by block. Returns false,
// writing nothing, when the scalar reference is selected or the type has no kernel.
inline bool int_dot_q8_rows(TensorType weight_type, const void* w_row, const uint8_t* x_rows,
                            uint64_t x_stride, int64_t n_rows, int64_t nb, float* y,
                            int64_t y_stride) {
#if defined(__x86_64__) || defined(__i386__)
  if (!int_dot_q8_type(weight_type)) return false;
  switch (active_isa()) {
    case Isa::kAvx512:
      int_dot_detail::q8_rows_avx512(weight_type, w_row, x_rows, x_stride, n_rows, nb, y, y_stride);
      return true;
    case Isa::kAvx2:
      int_dot_detail::q8_rows_avx2(weight_type, w_row, x_rows, x_stride, n_rows, nb, y, y_stride);
      return true;
    default:
      return false;
  }
#else
  return false;
#endif
}

// Rows of the panel kernels below.
constexpr int64_t kIntPanelRows = 16;

// An activation row as the panel kernel reads it (made once per row from its Q8_0/Q8_1 blocks):
// the quants of nb blocks, then their block scales d, then their sums s, as floats, each part with
// room for nb rounded up to a multiple of 8 blocks. AVX-512 (panel_activations): the quants in
// order as unsigned bytes q + 128, s zero for Q8_0. AVX2 (pair_activations_avx2): the quants
// signed, in pairs of blocks, d and s in its lane order, s Σ q for Q8_0.
struct PanelTokenRow {
  const uint8_t* quants;
  const float* d;
  const float* s;
};
inline int64_t panel_token_row_blocks(int64_t nb) { return (nb + 7) / 8 * 8; }
inline uint64_t panel_token_row_bytes(int64_t nb) {
  return static_cast<uint64_t>(panel_token_row_blocks(nb)) * (32 + 2 * sizeof(float));
}
inline PanelTokenRow panel_token_row(const uint8_t* row, int64_t nb) {
  const int64_t padded = panel_token_row_blocks(nb);
  const auto* d = reinterpret_cast<const float*>(row + 32 * padded);
  return {row, d, d + padded};
}
// The AVX2 pair form's layout: where d[] and s[] hold block b (lane j of each group of 8 holds
// block 0, 2, 4, 6, 1, 3, 5, 7 for j = 0 … 7, the order its kernels' lane reduction gives), and
// where quants 4k … 4k + 3 of block b lie (blocks 2p and 2p + 1 share 64 bytes: the elements 0..15
// of each, then their elements 16..31).
inline int64_t pair_scale_index(int64_t b) {
  const int64_t in_group = b % 8;
  return b - in_group + (in_group % 2 == 0 ? in_group / 2 : 4 + in_group / 2);
}
inline int64_t pair_quant_offset(int64_t b, int k) {
  return 64 * (b / 2) + 16 * (b % 2) + (k < 4 ? 4 * k : 32 + 4 * (k - 4));
}

// n_w_rows weight rows of `weight_type` (each as int_dot_q8_rows takes it, w_row_bytes apart)
// times ONE activation row x, writing y[r] for weight row r: the same bits as int_dot_q8_rows row
// by row. For decode: the rows share every activation load. x_panel_row, where not null, is x in
// the panel form of the selected ISA (PanelTokenRow): AVX-512 reads its float block scales
// instead of gathering them from x's blocks; the AVX2 kernel needs it. `layout` kQ4_0Groups for
// Q4_0 rows regrouped (q4_0_groups.h), kInterleaved8 for Q4_0 … Q8_0 rows interleaved (AVX2
// only; interleaved_rows.h), with the same bits as on the rows as stored. Returns false, writing
// nothing, where the selected ISA has no such kernel for the type and layout.
inline bool int_dot_q8_weight_rows(TensorType weight_type, const void* w_rows, uint64_t w_row_bytes,
                                   int64_t n_w_rows, const uint8_t* x, int64_t nb, float* y,
                                   const uint8_t* x_panel_row = nullptr,
                                   WeightLayout layout = WeightLayout::kAsStored) {
#if defined(__x86_64__) || defined(__i386__)
  if (!int_dot_q8_type(weight_type)) return false;
  if (active_isa() == Isa::kAvx2) {
    if (x_panel_row == nullptr) return false;
    if (layout == WeightLayout::kInterleaved8) {
      int_dot_detail::interleaved_weight_rows_avx2(weight_type, static_cast<const uint8_t*>(w_rows),
                                                   w_row_bytes, n_w_rows, x_panel_row, nb, y);
    } else {
      int_dot_detail::pair_weight_rows_avx2(weight_type, w_rows, w_row_bytes, n_w_rows, x_panel_row,
                                            nb, y, layout);
    }
    return true;
  }
  if (active_isa() != Isa::kAvx512 || layout == WeightLayout::kInterleaved8) return false;
  const PanelTokenRow p =
      x_panel_row != nullptr ? panel_token_row(x_panel_row, nb) : PanelTokenRow{};
  if (layout == WeightLayout::kQ4_0Groups) {
    int_dot_detail::q4_0_groups_weight_rows_avx512(w_rows, w_row_bytes, n_w_rows, x, p.d, nb, y);
  } else {
    int_dot_detail::q8_weight_rows_avx512(weight_type, w_rows, w_row_bytes, n_w_rows, x, p.d, p.s,
                                          nb, y);
  }
  return true;
#else
  (void)weight_type, (void)w_rows, (void)w_row_bytes, (void)n_w_rows, (void)x, (void)nb, (void)y,
      (void)x_panel_row, (void)layout;
  return false;
#endif
}

// Whether int_dot_panel16 serves `weight_type` on this CPU: Q4_0 … Q8_0, Q4_K and Q6_K with
// AVX-512 VNNI; Q4_0 … Q8_0, Q4_K and Q6_K with AVX2.
inline bool int_dot_panel_available(TensorType weight_type) {
#if defined(__x86_64__) || defined(__i386__)
  if (active_isa() == Isa::kAvx2)
    return int_dot_q8_type(weight_type) || int_dot_detail::k_lanes_kernel_avx2(weight_type);
  const bool has_kernel = int_dot_q8_type(weight_type) || weight_type == TensorType::Q4_K ||
                          weight_type == TensorType::Q6_K;
  return has_kernel && active_isa() == Isa::kAvx512;
#else
  (void)weight_type;
  return false;
#endif
}

// n_w_rows (a multiple of kIntPanelRows) consecutive weight rows (w_row_bytes apart, each as
// int_dot_q8_rows or int_dot_k_rows takes it) times n_rows activation rows x_stride bytes apart
// (for Q4_0 … Q8_0 in the PanelTokenRow layout, for the K-quants Q8_K rows as they are) of n
// elements, writing y[t * y_stride + r] for row r: the same bits as the row kernels row by row.
// Only where int_dot_panel_available says so; `layout` kQ4_0Groups for Q4_0 rows regrouped,
// kInterleaved8 for rows interleaved (AVX2 only).
inline void int_dot_panels16(TensorType weight_type, const void* w, uint64_t w_row_bytes,
                             int64_t n_w_rows, const uint8_t* x_rows, uint64_t x_stride,
                             int64_t n_rows, int64_t n, float* y, int64_t y_stride,
                             WeightLayout layout = WeightLayout::kAsStored) {
#if defined(__x86_64__) || defined(__i386__)
  const auto* wb = static_cast<const uint8_t*>(w);
  const int64_t n_panels = n_w_rows / kIntPanelRows;
  if (active_isa() == Isa::kAvx2 && int_dot_detail::k_lanes_kernel_avx2(weight_type)) {
    int_dot_detail::k_lanes_rows_times_tokens_avx2(
        weight_type, wb, w_row_bytes, n_w_rows, reinterpret_cast<const block_q8_K*>(x_rows),
        static_cast<int64_t>(x_stride / sizeof(block_q8_K)), n_rows, n / QK_K, y, y_stride, layout);
  } else if (active_isa() == Isa::kAvx2) {
    int_dot_detail::lanes_rows_times_tokens_avx2(weight_type, wb, w_row_bytes, n_w_rows, x_rows,
                                                 x_stride, n_rows, n / QK8_0, y, y_stride, layout);
  } else if (layout == WeightLayout::kQ4_0Groups) {
    int_dot_detail::q4_0_groups_panels16_avx512(wb, w_row_bytes, n_panels, x_rows, x_stride, n_rows,
                                                n / QK8_0, y, y_stride);
  } else if (int_dot_q8_type(weight_type)) {
    int_dot_detail::q8_panels16_avx512(weight_type, wb, w_row_bytes, n_panels, x_rows, x_stride,
                                       n_rows, n / QK8_0, y, y_stride);
  } else {
    int_dot_detail::k_panels16_avx512(
        weight_type, wb, w_row_bytes, n_panels, reinterpret_cast<const block_q8_K*>(x_rows),
        static_cast<int64_t>(x_stride / sizeof(block_q8_K)), n_rows, n / QK_K, y, y_stride);
  }
#else
  (void)weight_type, (void)w, (void)w_row_bytes, (void)n_w_rows, (void)x_rows, (void)x_stride,
      (void)n_rows, (void)n, (void)y, (void)y_stride, (void)layout;
#endif
}

// One packed K-quant weight row of nb blocks (as stored, any alignment) times n_rows Q8_K rows
// x_stride_blocks blocks apart, writing y[t * y_stride]: the same bits as vec_dot_k.cpp's
// reference. The weight blocks are decoded in registers, once per tile of rows. Returns false,
// writing nothing, when the scalar reference is selected or the type has no such kernel (then
// int_dot_k_unpack and int_dot_k_kernel below serve it).
inline bool int_dot_k_rows(TensorType weight_type, const void* w_row, const block_q8_K* x,
                           int64_t x_stride_blocks, int64_t n_rows, int64_t nb, float* y,
                           int64_t y_stride) {
#if defined(__x86_64__) || defined(__i386__)
  switch (active_isa()) {
    case Isa::kAvx512:
      return int_dot_detail::k_rows_avx512(weight_type, w_row, x, x_stride_blocks, n_rows, nb, y,
                                           y_stride);
    case Isa::kAvx2:
      return int_dot_detail::k_rows_avx2(weight_type, w_row, x, x_stride_blocks, n_rows, nb, y,
                                         y_stride);
    default:
      return false;
  }
#else
  return false;
#endif
}

// n_w_rows K-quant weight rows (each as int_dot_k_rows takes it, w_row_bytes apart) times ONE
// Q8_K activation row x of nb blocks, writing y[r] for weight row r: the same bits as
// int_dot_k_rows row by row. For decode: the rows share every activation load (AVX-512), the
// float steps of 8 blocks run together (AVX2). `layout` kInterleaved8 for Q4_K or Q6_K rows
// interleaved (AVX2 only). Returns false, writing nothing, where the selected ISA has no such
// kernel for the type and layout (Q4_K and Q6_K; AVX2 also Q5_K as stored).
inline bool int_dot_k_weight_rows(TensorType weight_type, const void* w_rows, uint64_t w_row_bytes,
                                  int64_t n_w_rows, const block_q8_K* x, int64_t nb, float* y,
                                  WeightLayout layout = WeightLayout::kAsStored) {
#if defined(__x86_64__) || defined(__i386__)
  if (active_isa() == Isa::kAvx2 && layout == WeightLayout::kInterleaved8)
    return int_dot_detail::k_interleaved_weight_rows_avx2(
        weight_type, static_cast<const uint8_t*>(w_rows), w_row_bytes, n_w_rows, x, nb, y);
  if (layout != WeightLayout::kAsStored) return false;
  if (active_isa() == Isa::kAvx2)
    return int_dot_detail::k_weight_rows_avx2(weight_type, w_rows, w_row_bytes, n_w_rows, x, nb, y);
  if (active_isa() != Isa::kAvx512) return false;
  return int_dot_detail::k_weight_rows_avx512(weight_type, w_rows, w_row_bytes, n_w_rows, x, nb, y);
#else
  (void)weight_type, (void)w_rows, (void)w_row_bytes, (void)n_w_rows, (void)x, (void)nb, (void)y,
      (void)layout;
  return false;
#endif
}

// The kernel for `kind` in the selected ISA; nullptr when the scalar reference is selected.
inline KDotFn int_dot_k_kernel(KDotKind kind) {
#if defined(__x86_64__) || defined(__i386__)
  switch (active_isa()) {
    case Isa::kAvx512:
      return int_dot_detail::k_kernel_avx512(kind);
    case Isa::kAvx2:
      return int_dot_detail::k_kernel_avx2(kind);
    default:
      return nullptr;
  }
#else
  return nullptr;
#endif
}

// The SIMD unpacker of a K-quant `weight_type` (AVX2, also used where AVX-512 is selected);
// nullptr when the scalar reference is selected or the type is not a K-quant.
inline KUnpackFn int_dot_k_unpack(TensorType weight_type) {
#if defined(__x86_64__) || defined(__i386__)
  return active_isa() == Isa::kScalar ? nullptr : int_dot_detail::k_unpack_avx2(weight_type);
#else
  return nullptr;
#endif
}

}  // namespace infera
