#pragma once
// Each architecture family lives in its own file (arch_*.cpp) and says how it differs from the
// plain llama decoder: which switches of ModelConfig it sets and which metadata it reads.
#include <string_view>

#include "model/model_config.h"

namespace infera {

struct ArchitectureSpec {
  std::string_view name;
  // Called after the common `{arch}.*` hyper-parameters are read into `config`.
  void (*configure)(const gguf::GgufFile& file, ModelConfig& config);
};

const ArchitectureSpec* find_architecture(std::string_view name);
// Names of every supported architecture, comma-separated (for error messages).
std::string supported_architectures();

void configure_llama(const gguf::GgufFile& file, ModelConfig& config);
void configure_qwen2(const gguf::GgufFile& file, ModelConfig& config);
void configure_qwen3(const gguf::GgufFile& file, ModelConfig& config);
void configure_gemma3(const gguf::GgufFile& file, ModelConfig& config);

}  // namespace infera
