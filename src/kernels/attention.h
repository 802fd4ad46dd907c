#pragma once
// Causal grouped-query attention of a batch of new tokens over a KV cache (reference path).
#include <cstdint>

#include "core/thread_pool.h"

namespace infera {

struct AttentionShape {
  int64_t n_head = 0;
  int64_t n_head_kv = 0;   // n_head is a multiple of it; query head h reads kv head h / (n_head/n_head_kv)
  int64_t head_dim_k = 0;
  int64_t head_dim_v = 0;
  float scale = 1.0f;      // multiplies q·k before the softmax
  int64_t window = 0;      // > 0: a token at p sees only positions q with p − q < window
};

// q: (n_tokens, n_head·head_dim_k), token t at position positions[t].
// k_cache: (n_ctx, n_head_kv·head_dim_k), v_cache: (n_ctx, n_head_kv·head_dim_v); the rows at
// every position up to each token's own must already hold that token's K/V (causal).
// out: (n_tokens, n_head·head_dim_v).
void attention(const float* q, const int64_t* positions, int64_t n_tokens, const float* k_cache,
               const float* v_cache, const AttentionShape& shape, float* out, ThreadPool& pool);

}  // namespace infera
