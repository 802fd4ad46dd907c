#pragma once
// One sequence being evaluated by a model: its KV cache and the scratch buffers of the forward
// pass. Feed it tokens (a whole prompt or one token at a time) and read next-token logits.
#include <cstdint>
#include <span>
#include <vector>

#include "core/thread_pool.h"
#include "model/model.h"

namespace infera {

enum class LogitsFor { kLastToken, kEveryToken };

class Session {
 public:
  // n_ctx: the most positions this session can hold (≤ the model's training context is not
  // enforced, but RoPE was trained up to it). Throws infera::Error if n_ctx is not positive.
  Session(const Model& model, int64_t n_ctx, ThreadPool& pool);

  // Appends `tokens` at positions n_past() … and runs the forward pass. Writes next-token logits
  // into `logits`: n_vocab floats for the last token, or tokens.size() × n_vocab for every token.
  // Throws infera::Error (kInvalidArgument) for a token id outside the vocabulary or when the
  // tokens would not fit in the context; the session is unchanged then.
  void eval(std::span<const int32_t> tokens, LogitsFor which, std::vector<float>* logits);

  int64_t n_past() const { return n_past_; }
  int64_t n_ctx() const { return n_ctx_; }
  // Forgets positions ≥ n (n ≤ n_past()): the next eval continues from position n.
  void truncate(int64_t n);
  uint64_t kv_cache_bytes() const;

 private:
  void forward_chunk(const int32_t* tokens, int64_t n_tokens, LogitsFor which, float* logits);
  void attention_block(int64_t layer, int64_t n_tokens);
  void ffn_block(int64_t layer, int64_t n_tokens);

  const Model& model_;
  const ModelConfig& cfg_;
  ThreadPool& pool_;
  int64_t n_ctx_;
  int64_t n_past_ = 0;

  // KV cache, per layer: (n_ctx, n_head_kv · head_dim) rows of fp16 (llama.cpp's default cache
  // type: half the memory of f32, and the same rounding as the reference).
  std::vector<std::vector<uint16_t>> k_cache_, v_cache_;

  // Scratch, sized for the largest chunk.
  std::vector<int64_t> positions_;
  std::vector<float> x_;     // (T, n_embd) residual stream
  std::vector<float> h_;     // (T, n_embd) normed input of a block
  std::vector<float> q_;     // (T, n_head · head_dim_k)
  std::vector<float> k_;     // (T, n_head_kv · head_dim_k)
  std::vector<float> v_;     // (T, n_head_kv · head_dim_v)
  std::vector<float> attn_;  // (T, n_head · head_dim_v)
  std::vector<float> gate_;  // (T, n_ff)
  std::vector<float> up_;    // (T, n_ff)
  std::vector<float> out_;   // (T, n_embd) block output before the residual add
};

}  // namespace infera
