// qwen2: Qwen2 / Qwen2.5. The llama decoder with biases on the Q/K/V projections and RoPE over
// the two halves of each head (NeoX ordering).
#include "model/architecture.h"

namespace infera {

void configure_qwen2(const gguf::GgufFile&, ModelConfig& config) {
  config.rope_ordering = RopeOrdering::kNeox;
  config.qkv_bias = true;
}

}  // namespace infera
