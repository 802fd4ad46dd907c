#pragma once
// The forward pass over a batch of tokens that may belong to several sequences: every matrix
// product runs once over all the batch's rows (each weight is read once per step however many
// sequences decode), attention reads each token's own sequence from the shared paged KV cache.
//
// Rows never mix: a row's result does not depend on which other rows share the batch, so a
// sequence gets the same logits alone or among others.
#include <cstdint>
#include <span>
#include <vector>

#include "core/cache_aligned.h"
#include "core/thread_pool.h"
#include "model/kv_cache.h"
#include "model/model.h"

namespace infera {

enum class LogitsFor { kNone, kLastToken, kEveryToken };

// A run of consecutive tokens of one sequence, evaluated at positions seq->n_past, … .
struct BatchSegment {
  KvSequence* seq = nullptr;  // its blocks must already hold n_past + tokens.size() positions
  std::span<const int32_t> tokens;
  LogitsFor logits = LogitsFor::kNone;
  float* logits_out = nullptr;  // n_vocab floats (kLastToken) or tokens.size() × n_vocab
};

// Throws infera::Error (kInvalidArgument) naming the first token id outside [0, n_vocab).
void check_token_ids(std::span<const int32_t> tokens, int64_t n_vocab);

class BatchForward {
 public:
  // max_tokens: the most tokens one run() takes (the scratch buffers grow up to it as needed).
  BatchForward(const Model& model, KvCache& cache, ThreadPool& pool, int64_t max_tokens);

  int64_t max_tokens() const { return max_tokens_; }

  // Evaluates every segment, writes their K/V into the cache and advances each seq->n_past.
  // Throws infera::Error (kInvalidArgument), with nothing changed, for more than max_tokens
  // tokens, a token id outside the vocabulary, or a sequence whose blocks are too few.
  void run(std::span<const BatchSegment> segments);

 private:
  // Scratch buffers for at least n_tokens rows.
  void reserve(int64_t n_tokens);
  void attention_block(int64_t layer, int64_t n_tokens);
  void ffn_block(int64_t layer, int64_t n_tokens);
  // Every row's rope angles for p (rope_angles: n_dims floats a row), computed at the first layer
  // of a step that asks for them.
  const float* rope_table(const RopeParams& p, int64_t n_tokens);

  const Model& model_;
  const ModelConfig& cfg_;
  KvCache& cache_;
  ThreadPool& pool_;
  int64_t max_tokens_;

  // Per batch row: its position and its sequence's block table.
  std::vector<int64_t> positions_;
  std::vector<const int32_t*> tables_;
  std::vector<int64_t> logit_rows_;  // batch rows whose logits are wanted, in output order

  // The rope angles of this step's rows, for each parameter set its layers use (two where
  // sliding-window layers rotate by another base).
  struct RopeTable {
    RopeParams params;
    bool valid = false;
    std::vector<float> cos_sin;  // (T, n_dims)
  };
  RopeTable rope_tables_[2];

  // Scratch, sized for the largest batch run so far. Their first rows start on a cache line, and
  // so does every row of a length that is a multiple of 16 floats (all the shapes in DESIGN.md):
  // the kernels read rows with 32-byte loads, which straddled two lines at malloc's alignment.
  CacheAlignedVector<float> x_;     // (T, n_embd) residual stream
  CacheAlignedVector<float> h_;     // (T, n_embd) normed input of a block
  CacheAlignedVector<float> q_;     // (T, n_head · head_dim_k)
  CacheAlignedVector<float> k_;     // (T, n_head_kv · head_dim_k)
  CacheAlignedVector<float> v_;     // (T, n_head_kv · head_dim_v)
  CacheAlignedVector<float> attn_;  // (T, n_head · head_dim_v)
  CacheAlignedVector<float> gate_;  // (T, n_ff)
  CacheAlignedVector<float> up_;    // (T, n_ff)
  CacheAlignedVector<float> out_;   // (T, n_embd) block output before the residual add
  std::vector<float> logits_;       // (rows wanting logits, n_vocab)
};

}  // namespace infera
