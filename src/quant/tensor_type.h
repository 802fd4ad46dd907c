#pragma once
// Tensor element types as numbered in the GGUF format (ggml's type ids), and what infera knows
// about each: block size, bytes per block, name, and whether it can run it.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace infera {

enum class TensorType : uint32_t {
  F32 = 0,
  F16 = 1,
  Q4_0 = 2,
  Q4_1 = 3,
  // 4 and 5 were Q4_2 / Q4_3, removed from the format.
  Q5_0 = 6,
  Q5_1 = 7,
  Q8_0 = 8,
  Q8_1 = 9,
  Q2_K = 10,
  Q3_K = 11,
  Q4_K = 12,
  Q5_K = 13,
  Q6_K = 14,
  Q8_K = 15,
  IQ2_XXS = 16,
  IQ2_XS = 17,
  IQ3_XXS = 18,
  IQ1_S = 19,
  IQ4_NL = 20,
  IQ3_S = 21,
  IQ2_S = 22,
  IQ4_XS = 23,
  I8 = 24,
  I16 = 25,
  I32 = 26,
  I64 = 27,
  F64 = 28,
  IQ1_M = 29,
  BF16 = 30,
  TQ1_0 = 34,
  TQ2_0 = 35,
  MXFP4 = 39,
};

struct TensorTypeTraits {
  TensorType type;
  std::string_view name;    // as ggml and gguf-py spell it: "Q4_K", "F16", ...
  uint32_t block_elements;  // elements per block (1 for plain types)
  uint32_t block_bytes;     // bytes per block
  bool supported;           // infera can dequantize / compute with it
};

// Traits of a known type id, or nullopt for an id the format does not define.
std::optional<TensorTypeTraits> tensor_type_traits(uint32_t type_id);
// Traits of a known type (asserts the type is known).
const TensorTypeTraits& traits_of(TensorType type);
std::string_view tensor_type_name(TensorType type);
// The name of any type value, known or not ("Q4_K", or "type id 99"), for messages.
std::string tensor_type_label(TensorType type);

// The number of blocks in n elements of `type`; throws infera::Error (kInvalidArgument), naming
// `caller`, when n is negative or not a whole number of blocks.
int64_t whole_blocks(TensorType type, int64_t n, std::string_view caller);

// Bytes one row of `elements` elements takes; false if `elements` is not a whole number of blocks
// or the size overflows.
bool tensor_row_bytes(TensorType type, uint64_t elements, uint64_t* bytes);

}  // namespace infera
