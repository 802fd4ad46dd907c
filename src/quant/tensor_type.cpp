#include "quant/tensor_type.h"

#include <array>
#include <cassert>

#include "core/checked_math.h"
#include "core/error.h"

namespace infera {
namespace {

// Block sizes and byte counts as the GGUF format defines them (ggml's type table). Types marked
// unsupported are still described so that files using them can be inspected and rejected by name.
constexpr std::array<TensorTypeTraits, 32> kTraits = {{
    {TensorType::F32, "F32", 1, 4, true},
    {TensorType::F16, "F16", 1, 2, true},
    {TensorType::Q4_0, "Q4_0", 32, 18, true},
    {TensorType::Q4_1, "Q4_1", 32, 20, true},
    {TensorType::Q5_0, "Q5_0", 32, 22, true},
    {TensorType::Q5_1, "Q5_1", 32, 24, true},
    {TensorType::Q8_0, "Q8_0", 32, 34, true},
    {TensorType::Q8_1, "Q8_1", 32, 36, false},
    {TensorType::Q2_K, "Q2_K", 256, 84, true},
    {TensorType::Q3_K, "Q3_K", 256, 110, true},
    {TensorType::Q4_K, "Q4_K", 256, 144, true},
    {TensorType::Q5_K, "Q5_K", 256, 176, true},
    {TensorType::Q6_K, "Q6_K", 256, 210, true},
    {TensorType::Q8_K, "Q8_K", 256, 292, false},
    {TensorType::IQ2_XXS, "IQ2_XXS", 256, 66, false},
    {TensorType::IQ2_XS, "IQ2_XS", 256, 74, false},
    {TensorType::IQ3_XXS, "IQ3_XXS", 256, 98, false},
    {TensorType::IQ1_S, "IQ1_S", 256, 50, false},
    {TensorType::IQ4_NL, "IQ4_NL", 32, 18, false},
    {TensorType::IQ3_S, "IQ3_S", 256, 110, false},
    {TensorType::IQ2_S, "IQ2_S", 256, 82, false},
    {TensorType::IQ4_XS, "IQ4_XS", 256, 136, false},
    {TensorType::I8, "I8", 1, 1, false},
    {TensorType::I16, "I16", 1, 2, false},
    {TensorType::I32, "I32", 1, 4, false},
    {TensorType::I64, "I64", 1, 8, false},
    {TensorType::F64, "F64", 1, 8, false},
    {TensorType::IQ1_M, "IQ1_M", 256, 56, false},
    {TensorType::BF16, "BF16", 1, 2, true},
    {TensorType::TQ1_0, "TQ1_0", 256, 54, false},
    {TensorType::TQ2_0, "TQ2_0", 256, 66, false},
    {TensorType::MXFP4, "MXFP4", 32, 17, false},
}};

}  // namespace

std::optional<TensorTypeTraits> tensor_type_traits(uint32_t type_id) {
  for (const auto& t : kTraits) {
    if (static_cast<uint32_t>(t.type) == type_id) return t;
  }
  return std::nullopt;
}

const TensorTypeTraits& traits_of(TensorType type) {
  for (const auto& t : kTraits) {
    if (t.type == type) return t;
  }
  assert(false && "unknown tensor type");
  return kTraits[0];
}

std::string_view tensor_type_name(TensorType type) { return traits_of(type).name; }

std::string tensor_type_label(TensorType type) {
  const auto traits = tensor_type_traits(static_cast<uint32_t>(type));
  if (traits) return std::string(traits->name);
  return "type id " + std::to_string(static_cast<uint32_t>(type));
}

int64_t whole_blocks(TensorType type, int64_t n, std::string_view caller) {
  const int64_t qk = traits_of(type).block_elements;
  if (n < 0 || n % qk != 0) {
    throw Error(ErrorKind::kInvalidArgument, std::string(caller) + ": " + std::to_string(n) +
                                                 " elements is not a whole number of " +
                                                 tensor_type_label(type) + " blocks of " +
                                                 std::to_string(qk));
  }
  return n / qk;
}

bool tensor_row_bytes(TensorType type, uint64_t elements, uint64_t* bytes) {
  const auto& t = traits_of(type);
  if (elements % t.block_elements != 0) return false;
  return checked_mul(elements / t.block_elements, t.block_bytes, bytes);
}

}  // namespace infera
