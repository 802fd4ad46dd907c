// qwen3: Qwen3 dense models. No projection biases; each Q and K head is RMS-normalised (with its
// own learned weight, shared across heads) before RoPE, which uses the NeoX ordering.
#include "model/architecture.h"

namespace infera {

void configure_qwen3(const gguf::GgufFile&, ModelConfig& config) {
  config.rope_ordering = RopeOrdering::kNeox;
  config.qk_norm = true;
}

}  // namespace infera
