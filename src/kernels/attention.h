#pragma once
// Causal grouped-query attention of a batch of new tokens over a paged fp16 KV cache.
//
// attention() is the entry point: it runs attention_reference() when cpu_features.h selects the
// scalar reference, else a tiled SIMD kernel (AVX2+F16C+FMA or AVX-512; attention_avx512.cpp
// describes it). The SIMD kernels keep the reference's roundings (q and the normalised attention
// weights to fp16, f32 sums) but sum in another order and use a polynomial exp, so they match it to
// a tolerance, not bit for bit (tests/unit/attention_test.cpp derives that tolerance).
#include <algorithm>
#include <cstdint>

#include "core/thread_pool.h"

namespace infera {

struct AttentionShape {
  int64_t n_head = 0;
  int64_t n_head_kv =
      0;  // n_head is a multiple of it; query head h reads kv head h / (n_head/n_head_kv)
  int64_t head_dim_k = 0;
  int64_t head_dim_v = 0;
  float scale = 1.0f;  // multiplies q·k before the softmax
  int64_t window = 0;  // > 0: a token at p sees only positions q with p − q < window
};

// A paged fp16 KV cache of one layer: K rows (n_head_kv·head_dim_k wide) and V rows
// (n_head_kv·head_dim_v wide) in blocks of block_size positions. A sequence's position p lives in
// row blocks[p / block_size]·block_size + p % block_size, `blocks` being its block table.
struct PagedKv {
  const uint16_t* k = nullptr;
  const uint16_t* v = nullptr;
  int64_t block_size = 0;
};

// q: (n_tokens, n_head·head_dim_k), token t at position positions[t] of the sequence whose block
// table is block_tables[t] (tokens of different sequences may share one call). Every position up
// to each token's own must already hold its K/V (causal).
// out: (n_tokens, n_head·head_dim_v).
// As in llama.cpp with an f16 cache, q is rounded to fp16 for q·k and the attention weights are
// rounded to fp16 before they weight V; sums are in f32.
// Each (token, head) output depends only on that token's q, position and keys: not on the other
// tokens of the call, the thread count or the split of the work.
void attention(const float* q, const int64_t* positions, const int32_t* const* block_tables,
               int64_t n_tokens, const PagedKv& kv, const AttentionShape& shape, float* out,
               ThreadPool& pool);

// The scalar reference: scores for all keys, softmax (ops.h), then the weighted sum of V.
void attention_reference(const float* q, const int64_t* positions,
                         const int32_t* const* block_tables, int64_t n_tokens, const PagedKv& kv,
                         const AttentionShape& shape, float* out, ThreadPool& pool);

namespace attention_detail {

// One job of the SIMD kernels: query heads [h_begin, h_end) of token t, all in one KV group, so
// that each K/V row loaded serves all of them. `scratch` holds scratch_floats() floats.
struct AttentionJob {
  const float* q = nullptr;  // token t's q row
  float* out = nullptr;      // token t's output row
  const int32_t* table = nullptr;
  int64_t first = 0;  // first key position seen (the sliding window's start)
  int64_t last = 0;   // the token's own position
  int64_t h_begin = 0;
  int64_t h_end = 0;
};

// A job's key positions from job.first on, as rows of the paged cache: walks the block table
// instead of dividing per key. Each kernel's key tiles take their rows from it.
struct KeyRowCursor {
  KeyRowCursor(const AttentionJob& job, int64_t block_size)
      : table(job.table),
        block_size(block_size),
        block(job.first / block_size),
        offset(job.first % block_size) {}
  int64_t next() {
    const int64_t row = table[block] * block_size + offset;
    if (++offset == block_size) {
      offset = 0;
      ++block;
    }
    return row;
  }
  const int32_t* table;
  int64_t block_size, block, offset;
};

// Tokens the SIMD kernels take in one call: consecutive tokens of one sequence that see the
// same first key share each K and V tile's conversion. Every token's output is the one it gets
// alone, bit for bit.
constexpr int64_t kAttentionTokenGroup = 8;

// A SIMD kernel's scratch for one token of a call, for its group of heads: q rounded to fp16
// (group · dk), Σ weight · V (group · dv), a key tile's weights (group · tile), the softmax max
// and sum, or the sum's inverse (group each); dk and dv as the kernel lays rows out (padded or
// not).
struct TokenScratch {
  static int64_t floats(int64_t group, int64_t dk, int64_t dv, int64_t tile) {
    return group * (dk + dv + tile + 2);
  }
  TokenScratch(float* base, int64_t group, int64_t dk, int64_t dv, int64_t tile)
      : qs(base), acc(qs + group * dk), w(acc + group * dv), m(w + group * tile), l(m + group) {}
  float *qs, *acc, *w, *m, *l;
};

// The scores a kernel keeps between its two passes, per thread: past this many bytes the tiles
// that do not fit are scored again in pass 2 (the same bits), so that a long context costs
// arithmetic instead of memory (1 MiB: 8192 keys of 8 tokens of a group of 4 heads).
constexpr int64_t kScoreStoreBytes = int64_t{1} << 20;

// How many of n_tiles key tiles of tile_floats scores each (every head and token of a call) keep
// their scores.
inline int64_t stored_score_tiles(int64_t n_tiles, int64_t tile_floats) {
  return std::min(n_tiles, kScoreStoreBytes / (tile_floats * static_cast<int64_t>(sizeof(float))));
}

int64_t scratch_floats_avx512(const AttentionShape& shape);
void attend_avx512(const AttentionJob& job, const PagedKv& kv, const AttentionShape& shape,
                   float* scratch);
// n_jobs (<= kAttentionTokenGroup) jobs with the same table, first position and heads.
void attend_tokens_avx512(const AttentionJob* jobs, int64_t n_jobs, const PagedKv& kv,
                          const AttentionShape& shape, float* scratch);
int64_t scratch_floats_avx2(const AttentionShape& shape);
void attend_avx2(const AttentionJob& job, const PagedKv& kv, const AttentionShape& shape,
                 float* scratch);
void attend_tokens_avx2(const AttentionJob* jobs, int64_t n_jobs, const PagedKv& kv,
                        const AttentionShape& shape, float* scratch);

// Whether the AVX2 kernel takes these head dims (multiples of 8); the AVX-512 kernel takes any.
inline bool avx2_handles(const AttentionShape& s) {
  return s.head_dim_k % 8 == 0 && s.head_dim_v % 8 == 0;
}

}  // namespace attention_detail
}  // namespace infera
