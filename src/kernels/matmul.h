#pragma once
// Matrix products of quantized weights with f32 activations (the reference path).
#include <cstdint>
#include <span>

#include "core/thread_pool.h"
#include "kernels/weight_matrix.h"

namespace infera {

// Dot product of two f32 vectors with eight interleaved partial sums (lane i accumulates the
// elements with index ≡ i mod 8 in order, each step a fused multiply-add, lane = fma(a_i, b_i,
// lane), rounded once; then the lanes are added in a fixed order): the same result whatever
// vector width the compiler picks, and what an FMA-based SIMD kernel computes with one vector of
// eight lanes.
float dot_f32(const float* a, const float* b, int64_t n);

// y[t][r] = Σ_c W[r][c] · x[t][c] for every token t < n_tokens.
// x: (n_tokens, w.cols) row-major; y: (n_tokens, w.rows) row-major.
// Activations are first put in the form the weight type multiplies with (quantized_dot.h), as
// llama.cpp does; plain-typed rows are dequantized once and used for every token.
// every y element is computed by the same sequential code, so the result is thread-count
// independent.
void matmul(const WeightMatrix& w, const float* x, int64_t n_tokens, float* y, ThreadPool& pool);

// Several products of the same input (Q/K/V, gate/up): y[i] = W[i] · x for each i, the same bits
// as separate matmul() calls, in one pass of the thread pool (one wake-up instead of several; the
// input is quantized once per activation format). Every W[i] must have x's width.
struct MatmulOutput {
  const WeightMatrix* w;
  float* y;  // (n_tokens, w->rows)
};
void matmul_group(std::span<const MatmulOutput> outputs, const float* x, int64_t n_tokens,
                  ThreadPool& pool);

// Copies row `r` of `w` into `out` as f32 (embedding lookup).
void dequantize_matrix_row(const WeightMatrix& w, int64_t r, float* out);

}  // namespace infera
