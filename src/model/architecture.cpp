#include "model/architecture.h"

#include <array>
#include <string>

namespace infera {
namespace {
constexpr std::array<ArchitectureSpec, 4> kArchitectures = {{
    {"llama", configure_llama},
    {"qwen2", configure_qwen2},
    {"qwen3", configure_qwen3},
    {"gemma3", configure_gemma3},
}};
}  // namespace

const ArchitectureSpec* find_architecture(std::string_view name) {
  for (const auto& a : kArchitectures) {
    if (a.name == name) return &a;
  }
  return nullptr;
}

std::string supported_architectures() {
  std::string out;
  for (const auto& a : kArchitectures) {
    if (!out.empty()) out += ", ";
    out += a.name;
  }
  return out;
}

}  // namespace infera
