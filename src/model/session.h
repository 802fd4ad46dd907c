#pragma once
// One sequence being evaluated by a model on its own: a KV cache sized for its context and the
// forward pass. Feed it tokens (a whole prompt or one token at a time) and read next-token logits.
#include <cstdint>
#include <span>
#include <vector>

#include "core/thread_pool.h"
#include "model/batch_forward.h"
#include "model/kv_cache.h"
#include "model/model.h"

namespace infera {

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

  int64_t n_past() const { return seq_.n_past; }
  int64_t n_ctx() const { return n_ctx_; }
  // Forgets positions ≥ n (n ≤ n_past()): the next eval continues from position n.
  void truncate(int64_t n);
  uint64_t kv_cache_bytes() const { return cache_.bytes(); }

 private:
  const ModelConfig& cfg_;
  int64_t n_ctx_;
  KvCache cache_;
  KvSequence seq_;
  BatchForward forward_;
};

}  // namespace infera
