#pragma once
// Activations quantized for a product with weights of a given type, and the dot products of a
// weight row with such an activation row — the arithmetic the GGUF ecosystem (ggml) uses:
//   Q4_0, Q5_0, Q8_0 weights  × Q8_0 activations  (integer dot per 32-block, scaled by d_w·d_x)
//   Q4_1, Q5_1 weights        × Q8_1 activations  (… plus m_w · s_x for the weights' minimum)
//   Q2_K … Q6_K weights       × Q8_K activations  (see vec_dot_k.h)
//   F16 / BF16 weights        × activations rounded to F16 / BF16, f32 accumulation
//   F32 weights               × f32 activations
// Computing as llama.cpp does keeps infera's logits within its rounding noise of llama.cpp's, so
// that greedy continuations agree token for token.
#include <cstdint>

#include "kernels/weight_matrix.h"
#include "quant/tensor_type.h"

namespace infera {

// The block type activations take before a product with `weight_type` (ggml's vec_dot_type).
TensorType activation_type_for(TensorType weight_type);

// Bytes of one quantized activation row of n elements for `weight_type` (n a multiple of the
// weight type's block size).
uint64_t activation_row_bytes(TensorType weight_type, int64_t n);

// Quantizes one activation row of n floats into `dst` (activation_row_bytes(weight_type, n)).
void quantize_activations(TensorType weight_type, const float* x, void* dst, int64_t n);

// Σ w_i · x_i over n elements of a weight row and a row quantized by quantize_activations.
float vec_dot_activations(TensorType weight_type, const void* w_row, const void* x_row, int64_t n);

// Weight rows that vec_dot_activations_panel takes at a time for `weight_type` on this CPU; 0
// where it has no kernel for it.
int64_t activation_panel_rows(TensorType weight_type);

// Bytes of one activation row of n elements rewritten for vec_dot_activations_panel.
uint64_t panel_activation_row_bytes(int64_t n);

// Whether the panel kernel of `weight_type` reads activation rows rewritten by panel_activations
// (Q4_0 … Q8_0) or the rows of quantize_activations as they are (K-quants).
bool panel_reads_rewritten_activations(TensorType weight_type);

// Rewrites one row quantized by quantize_activations (for weights of `weight_type`, one with a
// panel kernel that reads rewritten rows) into the form vec_dot_activations_panel reads.
void panel_activations(TensorType weight_type, const void* x_row, int64_t n, uint8_t* dst);

// Bytes of one panel of activation_panel_rows weight rows of n columns as the kernels rewrite it,
// about: 1.4 (Q4_0 … Q8_0) or 1.1 (K-quants) bytes per weight, taken as 1.5.
int64_t activation_panel_bytes(int64_t n);

// n_w_rows (a multiple of activation_panel_rows(weight_type)) consecutive weight rows
// (w_row_bytes apart) times n_rows
// activation rows (rewritten by panel_activations where panel_reads_rewritten_activations says so,
// else as quantize_activations made them), writing y[t · y_stride + r] for row r: equal,
// bit for bit, to vec_dot_activations_rows row by row, and faster when many activation rows share
// the weights. `layout`: that of the weight rows (rows regrouped or interleaved too, where
// kernels_read_layout says so).
void vec_dot_activations_panel(TensorType weight_type, const void* w, uint64_t w_row_bytes,
                               int64_t n_w_rows, const uint8_t* x_rows, uint64_t x_stride,
                               int64_t n_rows, int64_t n, float* y, int64_t y_stride,
                               WeightLayout layout = WeightLayout::kAsStored);

// The same product for n_rows activation rows (x_stride bytes apart) against one weight row,
// writing y[t · y_stride]: the weight row is unpacked once. Equal, bit for bit, to calling
// vec_dot_activations row by row.
void vec_dot_activations_rows(TensorType weight_type, const void* w_row, const uint8_t* x_rows,
                              uint64_t x_stride, int64_t n_rows, int64_t n, float* y,
                              int64_t y_stride);

// n_w_rows weight rows (w_row_bytes apart) times ONE activation row, writing y[r] for weight row
// r: equal, bit for bit, to vec_dot_activations_rows row by row. For decode: the rows share the
// activation loads, and the kernel prefetches the weights ahead (past the end of the rows too).
// Returns false, writing nothing, where there is no such kernel (it serves Q4_0 … Q8_0, Q4_K and
// Q6_K with AVX-512 VNNI); then vec_dot_activations_rows serves each row.
// x_panel_row, where not null, is the same activation row in the panel layout
// (panel_activations), whose float block scales the kernel then reads instead of gathering them
// from x_row's blocks (see weight_rows_read_panel_scales). `layout`: that of the weight rows
// (kQ4_0Groups: AVX2 and AVX-512 kernels; kInterleaved8: AVX2's).
bool vec_dot_activations_weight_rows(TensorType weight_type, const void* w_rows,
                                     uint64_t w_row_bytes, int64_t n_w_rows, const uint8_t* x_row,
                                     int64_t n, float* y, const uint8_t* x_panel_row = nullptr,
                                     WeightLayout layout = WeightLayout::kAsStored);

// Whether this CPU's selected kernels (panels, and decode where it has a kernel) read weight rows
// in `layout`; where not, the rows are restored as stored first.
bool kernels_read_layout(WeightLayout layout);

// Whether vec_dot_activations_weight_rows uses an x_panel_row for `weight_type` on this CPU (the
// Q4_0 … Q8_0 decode kernel does, with AVX-512); matmul then makes one per token.
bool weight_rows_read_panel_scales(TensorType weight_type);

}  // namespace infera
