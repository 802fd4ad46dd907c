#pragma once
// Causal grouped-query attention of a batch of new tokens over a KV cache (reference path).
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
void attention(const float* q, const int64_t* positions, const int32_t* const* block_tables,
               int64_t n_tokens, const PagedKv& kv, const AttentionShape& shape, float* out,
               ThreadPool& pool);

}  // namespace infera
