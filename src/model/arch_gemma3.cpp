// gemma3: Gemma 3 text models (270M … 27B).
// Differences from llama: embeddings scaled by sqrt(n_embd); GeGLU FFN (tanh GELU); per-head
// Q/K RMSNorm; extra RMSNorms after attention and after the FFN; five of every six layers use a
// sliding window with their own RoPE base (10,000) while every sixth layer attends globally with
// `rope.freq_base`; linear rope scaling, where present, applies to the global layers only.
// The GGUF converter already folds Gemma's (1 + w) norm convention into the stored weights.
#include <cmath>

#include "gguf/gguf_file.h"
#include "model/architecture.h"

namespace infera {

namespace {
constexpr int64_t kSlidingWindowPattern = 6;  // layer l is global iff (l + 1) % 6 == 0
constexpr float kLocalRopeBase = 10000.0f;
}  // namespace

void configure_gemma3(const gguf::GgufFile&, ModelConfig& config) {
  config.rope_ordering = RopeOrdering::kNeox;
  config.embedding_scale = std::sqrt(static_cast<float>(config.n_embd));
  config.ffn_activation = FfnActivation::kGeGlu;
  config.qk_norm = true;
  config.post_norms = true;
  config.rope_freq_base_swa = kLocalRopeBase;
  config.rope_scale_global_only = true;
  // Gemma 3 27B (62 layers) was trained with query_pre_attn_scalar = n_embd / n_head instead of
  // the head size; no metadata key carries it, so it is recognised by its depth as llama.cpp does.
  constexpr int64_t kGemma3_27bLayers = 62;
  if (config.n_layer == kGemma3_27bLayers) {
    config.attention_scale = 1.0f / std::sqrt(static_cast<float>(config.n_embd / config.n_head));
  }
  // ref: Gemma 3 technical report, §2 "5:1 interleaving of local and global layers"
  config.layer_is_swa.assign(static_cast<size_t>(config.n_layer), 0);
  if (config.sliding_window > 0) {
    for (int64_t l = 0; l < config.n_layer; ++l) {
      config.layer_is_swa[l] = ((l + 1) % kSlidingWindowPattern) != 0;
    }
  }
}

}  // namespace infera
