#include "kernels/attention.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/matmul.h"
#include "kernels/ops.h"
#include "quant/float16.h"

namespace infera {

namespace {
float round_fp16(float x) { return fp16_to_fp32(fp32_to_fp16(x)); }
}  // namespace

void attention(const float* q, const int64_t* positions, const int32_t* const* block_tables,
               int64_t n_tokens, const PagedKv& kv, const AttentionShape& s, float* out,
               ThreadPool& pool) {
  const int64_t group = s.n_head / s.n_head_kv;
  const int64_t q_stride = s.n_head * s.head_dim_k;
  const int64_t k_stride = s.n_head_kv * s.head_dim_k;
  const int64_t v_stride = s.n_head_kv * s.head_dim_v;
  const int64_t o_stride = s.n_head * s.head_dim_v;
  pool.parallel_for(n_tokens * s.n_head, [&](int64_t begin, int64_t end) {
    std::vector<float> scores;
    std::vector<float> qh(static_cast<size_t>(s.head_dim_k));
    std::vector<float> row(static_cast<size_t>(std::max(s.head_dim_k, s.head_dim_v)));
    for (int64_t job = begin; job < end; ++job) {
      const int64_t t = job / s.n_head;
      const int64_t h = job % s.n_head;
      const int64_t kv_h = h / group;
      const int64_t pos = positions[t];
      const int32_t* table = block_tables[t];
      auto row_of = [&](int64_t p) {
        return table[p / kv.block_size] * kv.block_size + p % kv.block_size;
      };
      const int64_t first = s.window > 0 ? std::max<int64_t>(0, pos - s.window + 1) : 0;
      const int64_t n_keys = pos - first + 1;
      const float* qsrc = q + t * q_stride + h * s.head_dim_k;
      for (int64_t d = 0; d < s.head_dim_k; ++d) qh[d] = round_fp16(qsrc[d]);
      scores.resize(static_cast<size_t>(n_keys));
      for (int64_t j = 0; j < n_keys; ++j) {
        const uint16_t* kj = kv.k + row_of(first + j) * k_stride + kv_h * s.head_dim_k;
        for (int64_t d = 0; d < s.head_dim_k; ++d) row[d] = fp16_to_fp32(kj[d]);
        scores[j] = dot_f32(qh.data(), row.data(), s.head_dim_k) * s.scale;
      }
      softmax(scores.data(), n_keys);
      float* oh = out + t * o_stride + h * s.head_dim_v;
      std::fill(oh, oh + s.head_dim_v, 0.0f);
      for (int64_t j = 0; j < n_keys; ++j) {
        const uint16_t* vj = kv.v + row_of(first + j) * v_stride + kv_h * s.head_dim_v;
        const float p = round_fp16(scores[j]);
        for (int64_t d = 0; d < s.head_dim_v; ++d) oh[d] += p * fp16_to_fp32(vj[d]);
      }
    }
  });
}

}  // namespace infera
