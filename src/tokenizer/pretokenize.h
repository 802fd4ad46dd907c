#pragma once
// Pre-tokenizers of byte-level BPE vocabularies: split text into words before merging.
//
// Each pattern of llama.cpp's pre-tokenizer list (chosen by `tokenizer.ggml.pre`) is matched by a
// hand-written scanner with the same leftmost-first semantics as the regex; when a list has
// several patterns, each one splits the pieces the previous one produced (text between matches
// is kept as pieces too), as llama.cpp's unicode_regex_split does.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace infera::tokenizer {

enum class PreTokenizer {
  kDefault,        // "default" and an absent key: punctuation runs, GPT-2, \p{N}+, [0-9]{3}
  kGpt2,           // GPT-2 pattern alone
  kLlama3,         // Llama 3 pattern (digits in groups of up to three)
  kQwen2,          // the Llama 3 pattern with single digits
  kSmollm,         // \p{N} then GPT-2 (StarCoder family, SmolLM)
  kDeepseekLlm,    // DeepSeek LLM (v1): explicit letter / punctuation / CJK classes
  kDeepseekCoder,  // DeepSeek Coder (v1)
};

struct PreTokenizerSpec {
  PreTokenizer type = PreTokenizer::kDefault;
  bool ignore_merges = false;  // a word that is itself a token skips the merge loop (Llama 3)
};

// The spec for a `tokenizer.ggml.pre` value; nullopt when infera does not know the name.
std::optional<PreTokenizerSpec> pretokenizer_for(std::string_view name);

struct Span {
  size_t begin = 0;  // code-point offsets
  size_t end = 0;
};

// Splits the code points `cps` into words.
std::vector<Span> pretokenize(PreTokenizer type, const std::vector<uint32_t>& cps);

}  // namespace infera::tokenizer
