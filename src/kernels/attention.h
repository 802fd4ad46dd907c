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

// q: (n_tokens, n_head·head_dim_k), token t at position positions[t].
// k_cache: (n_ctx, n_head_kv·head_dim_k), v_cache: (n_ctx, n_head_kv·head_dim_v), both fp16; the
// rows at every position up to each token's own must already hold that token's K/V (causal).
// out: (n_tokens, n_head·head_dim_v).
// As in llama.cpp with an f16 cache, q is rounded to fp16 for q·k and the attention weights are
// rounded to fp16 before they weight V; sums are in f32.
void attention(const float* q, const int64_t* positions, int64_t n_tokens, const uint16_t* k_cache,
               const uint16_t* v_cache, const AttentionShape& shape, float* out, ThreadPool& pool);

}  // namespace infera
