// llama: Llama 2 / 3.x, Mistral, SmolLM2. The plain decoder: RMSNorm, RoPE on adjacent pairs (the
// GGUF converter permutes Q/K for it), grouped-query attention, SwiGLU FFN. Llama 3.1-style rope
// scaling arrives as a `rope_freqs.weight` tensor of per-frequency divisors, bound by the loader.
#include "model/architecture.h"

namespace infera {

void configure_llama(const gguf::GgufFile&, ModelConfig& config) {
  config.rope_ordering = RopeOrdering::kNormal;
}

}  // namespace infera
