#include "kernels/matmul.h"

#include <vector>

#include "kernels/quantized_dot.h"
#include "quant/dequantize.h"

namespace infera {

float dot_f32(const float* a, const float* b, int64_t n) {
  float lane[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    for (int j = 0; j < 8; ++j) lane[j] += a[i + j] * b[i + j];
  }
  for (int j = 0; i < n; ++i, ++j) lane[j] += a[i] * b[i];
  return ((lane[0] + lane[4]) + (lane[1] + lane[5])) + ((lane[2] + lane[6]) + (lane[3] + lane[7]));
}

void dequantize_matrix_row(const WeightMatrix& w, int64_t r, float* out) {
  dequantize_row(w.type, w.row(r), out, w.cols);
}

namespace {
// Rows handed to a thread at a time: enough to amortise the per-row x reloads, few enough that
// the dequantized rows stay in L1/L2.
constexpr int64_t kRowGroup = 4;
}  // namespace

void matmul(const WeightMatrix& w, const float* x, int64_t n_tokens, float* y, ThreadPool& pool) {
  const int64_t cols = w.cols;
  const int64_t rows = w.rows;
  const int64_t n_groups = (rows + kRowGroup - 1) / kRowGroup;
  const TensorType act_type = activation_type_for(w.type);
  const bool integer_dot =
      act_type == TensorType::Q8_0 || act_type == TensorType::Q8_1 || act_type == TensorType::Q8_K;

  // Activations in the form the weights' dot product takes, computed once for all rows.
  const uint64_t act_bytes = activation_row_bytes(w.type, cols);
  std::vector<uint8_t> act(static_cast<size_t>(act_bytes * static_cast<uint64_t>(n_tokens)));
  pool.parallel_for(n_tokens, [&](int64_t t_begin, int64_t t_end) {
    for (int64_t t = t_begin; t < t_end; ++t)
      quantize_activations(w.type, x + t * cols, act.data() + t * act_bytes, cols);
  });

  pool.parallel_for(n_groups, [&](int64_t g_begin, int64_t g_end) {
    std::vector<float> deq;
    if (!integer_dot && w.type != TensorType::F32)
      deq.resize(static_cast<size_t>(kRowGroup * cols));
    for (int64_t g = g_begin; g < g_end; ++g) {
      const int64_t r0 = g * kRowGroup;
      const int64_t nr = std::min(kRowGroup, rows - r0);
      if (integer_dot) {
        for (int64_t k = 0; k < nr; ++k) {
          vec_dot_activations_rows(w.type, w.row(r0 + k), act.data(), act_bytes, n_tokens, cols,
                                   y + r0 + k, rows);
        }
        continue;
      }
      const float* wrows[kRowGroup];
      for (int64_t k = 0; k < nr; ++k) {
        if (w.type == TensorType::F32) {
          wrows[k] = reinterpret_cast<const float*>(w.row(r0 + k));
        } else {
          dequantize_row(w.type, w.row(r0 + k), deq.data() + k * cols, cols);
          wrows[k] = deq.data() + k * cols;
        }
      }
      for (int64_t t = 0; t < n_tokens; ++t) {
        const float* xt = reinterpret_cast<const float*>(act.data() + t * act_bytes);
        float* yt = y + t * rows + r0;
        for (int64_t k = 0; k < nr; ++k) yt[k] = dot_f32(wrows[k], xt, cols);
      }
    }
  });
}

}  // namespace infera
