#include "kernels/attention.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/cpu_features.h"
#include "kernels/matmul.h"
#include "kernels/ops.h"
#include "quant/float16.h"

namespace infera {

namespace {
float round_fp16(float x) { return fp16_to_fp32(fp32_to_fp16(x)); }

int64_t first_key(int64_t pos, int64_t window) {
  return window > 0 ? std::max<int64_t>(0, pos - window + 1) : 0;
}

using attention_detail::AttentionJob;
using AttendFn = void (*)(const AttentionJob&, const PagedKv&, const AttentionShape&, float*);
using AttendTokensFn = void (*)(const AttentionJob*, int64_t, const PagedKv&, const AttentionShape&,
                                float*);

// attend_tokens (may be null) takes up to max_tokens consecutive tokens of one sequence that see
// the same first key in one call; each token's result is the same either way. With
// join_group_heads, where jobs are single heads, a thread's consecutive jobs of one run and one
// KV group go to attend_tokens as one call (each head's result is the same either way): their
// heads share the K and V rows' loads and conversions.
void attention_simd(AttendFn attend, AttendTokensFn attend_tokens, int64_t max_tokens,
                    bool join_group_heads, int64_t scratch_floats, const float* q,
                    const int64_t* positions, const int32_t* const* block_tables, int64_t n_tokens,
                    const PagedKv& kv, const AttentionShape& s, float* out, ThreadPool& pool) {
  const int64_t group = s.n_head / s.n_head_kv;
  // A job takes a whole KV group (K/V rows loaded once for all its heads) unless that leaves too
  // few jobs to keep every thread busy (decode). Either way each head goes through the same
  // arithmetic, so the split changes speed only.
  const int64_t heads_per_job = n_tokens * s.n_head_kv >= 4 * pool.size() ? group : 1;
  const int64_t jobs_per_token = s.n_head / heads_per_job;
  std::vector<int64_t> starts;  // the first token of each run of tokens taken together
  for (int64_t t = 0; t < n_tokens; ++t) {
    const bool joins = attend_tokens != nullptr && t > 0 && t - starts.back() < max_tokens &&
                       block_tables[t] == block_tables[t - 1] &&
                       positions[t] == positions[t - 1] + 1 &&
                       first_key(positions[t], s.window) == first_key(positions[t - 1], s.window);
    if (!joins) starts.push_back(t);
  }
  const auto n_runs = static_cast<int64_t>(starts.size());
  starts.push_back(n_tokens);
  // Single-head jobs (decode) go in one contiguous part per thread: a thread's heads of one KV
  // group then share its K and V rows (join_group_heads), and a hand-off costs one claim per
  // thread instead of one per head.
  const int64_t n_jobs = n_runs * jobs_per_token;
  const int64_t parts = heads_per_job == 1 ? std::min<int64_t>(n_jobs, pool.size()) : n_jobs;
  pool.parallel_for(parts, [&](int64_t part_begin, int64_t part_end) {
    const int64_t begin = part_begin * n_jobs / parts;
    const int64_t end = part_end * n_jobs / parts;
    // Kept by the thread from call to call: a decode step's few heads per chunk made a fresh,
    // zeroed scratch (~16 KiB) cost more than attending to a short context.
    thread_local std::vector<float> scratch;
    thread_local std::vector<AttentionJob> jobs;
    if (scratch.size() < static_cast<size_t>(scratch_floats))
      scratch.resize(static_cast<size_t>(scratch_floats));
    for (int64_t i = begin; i < end; ++i) {
      // Runs are taken first, last, second, second last...: in a causal prefill the work per
      // token grows with its position, and this keeps the contiguous chunks of parallel_for even.
      const int64_t slot = i / jobs_per_token;
      const int64_t r = slot % 2 == 0 ? slot / 2 : n_runs - 1 - slot / 2;
      const int64_t h = (i % jobs_per_token) * heads_per_job;
      int64_t h_end = h + heads_per_job;
      if (join_group_heads && heads_per_job == 1) {
        // The next jobs of this chunk that are the next heads of the same run and KV group.
        while (i + 1 < end && (i + 1) / jobs_per_token == slot && h_end % group != 0) {
          ++i;
          ++h_end;
        }
      }
      jobs.clear();
      for (int64_t t = starts[r]; t < starts[r + 1]; ++t) {
        AttentionJob job;
        job.q = q + t * s.n_head * s.head_dim_k;
        job.out = out + t * s.n_head * s.head_dim_v;
        job.table = block_tables[t];
        job.last = positions[t];
        job.first = first_key(job.last, s.window);
        job.h_begin = h;
        job.h_end = h_end;
        jobs.push_back(job);
      }
      if (jobs.size() == 1 && h_end - h == heads_per_job) {
        attend(jobs[0], kv, s, scratch.data());
      } else {
        attend_tokens(jobs.data(), static_cast<int64_t>(jobs.size()), kv, s, scratch.data());
      }
    }
  });
}
}  // namespace

void attention_reference(const float* q, const int64_t* positions,
                         const int32_t* const* block_tables, int64_t n_tokens, const PagedKv& kv,
                         const AttentionShape& s, float* out, ThreadPool& pool) {
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
      const int64_t first = first_key(pos, s.window);
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

void attention(const float* q, const int64_t* positions, const int32_t* const* block_tables,
               int64_t n_tokens, const PagedKv& kv, const AttentionShape& s, float* out,
               ThreadPool& pool) {
#if defined(__x86_64__) || defined(__i386__)
  namespace d = attention_detail;
  switch (active_isa()) {
    case Isa::kAvx512:
      attention_simd(d::attend_avx512, d::attend_tokens_avx512, d::kAttentionTokenGroup, false,
                     d::scratch_floats_avx512(s), q, positions, block_tables, n_tokens, kv, s, out,
                     pool);
      return;
    case Isa::kAvx2:
      if (!d::avx2_handles(s)) break;
      attention_simd(d::attend_avx2, d::attend_tokens_avx2, d::kAttentionTokenGroup, true,
                     d::scratch_floats_avx2(s), q, positions, block_tables, n_tokens, kv, s, out,
                     pool);
      return;
    default:
      break;
  }
#endif
  attention_reference(q, positions, block_tables, n_tokens, kv, s, out, pool);
}

}  // namespace infera
