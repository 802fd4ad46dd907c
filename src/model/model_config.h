#pragma once
// Hyper-parameters of a decoder-only transformer, read from GGUF metadata, plus the switches that
// distinguish the architecture families infera runs. Everything here is validated at load.
#include <cstdint>
#include <string>
#include <vector>

#include "kernels/ops.h"

namespace infera {

namespace gguf {
class GgufFile;
}

enum class FfnActivation { kSwiGlu, kGeGlu };

struct ModelConfig {
  std::string architecture;  // general.architecture: "llama", "qwen2", "qwen3", "gemma3"
  int64_t n_vocab = 0;
  int64_t n_ctx_train = 0;
  int64_t n_embd = 0;
  int64_t n_layer = 0;
  int64_t n_head = 0;
  int64_t n_head_kv = 0;
  int64_t head_dim_k = 0;
  int64_t head_dim_v = 0;
  int64_t n_ff = 0;
  float rms_eps = 1e-5f;

  RopeOrdering rope_ordering = RopeOrdering::kNormal;
  int64_t rope_dims = 0;
  float rope_freq_base = 10000.0f;
  float rope_freq_base_swa = 10000.0f;  // sliding-window layers (gemma3 uses its own base there)
  float rope_freq_scale = 1.0f;         // 1 / linear rope-scaling factor
  bool rope_scale_global_only = false;  // linear scaling applies to full-attention layers only

  int64_t sliding_window = 0;         // 0: no sliding-window layers
  std::vector<uint8_t> layer_is_swa;  // per layer: uses the sliding window

  float embedding_scale = 1.0f;  // token embeddings are multiplied by it (gemma: sqrt(n_embd))
  float attention_scale = 1.0f;  // q·k multiplier, usually 1/sqrt(head_dim_k)
  FfnActivation ffn_activation = FfnActivation::kSwiGlu;
  bool qkv_bias = false;    // qwen2: biases on the Q/K/V projections
  bool qk_norm = false;     // qwen3, gemma3: RMSNorm of each Q/K head before RoPE
  bool post_norms = false;  // gemma3: RMSNorm after attention and after the FFN

  int64_t kv_bytes_per_token() const {  // fp16 K and V over all layers
    return n_layer * n_head_kv * (head_dim_k + head_dim_v) * 2;
  }
};

// Reads and validates the hyper-parameters; throws infera::Error naming the key at fault, or
// kUnsupported for an architecture infera does not run.
ModelConfig read_model_config(const gguf::GgufFile& file);

}  // namespace infera
