#pragma once
// Vocabulary tables shared by the BPE and SentencePiece-style encoders (internal to tokenizer/).
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tokenizer/pretokenize.h"

namespace infera::tokenizer {

// Token types as GGUF stores them in tokenizer.ggml.token_type (llama.cpp's llama_token_type).
enum class TokenType : uint8_t {
  kUndefined = 0,
  kNormal = 1,
  kUnknown = 2,
  kControl = 3,
  kUserDefined = 4,
  kUnused = 5,
  kByte = 6,
};

// Hash map keyed by std::string that can be probed with a std::string_view (no allocation).
struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
template <typename V>
using StringMap = std::unordered_map<std::string, V, StringHash, std::equal_to<>>;

struct Vocab {
  Vocab() = default;
  Vocab(const Vocab&) = delete;  // to_id points into text
  Vocab& operator=(const Vocab&) = delete;

  std::vector<std::string> text;  // sized once; never reallocated after to_id is built
  std::vector<float> score;
  std::vector<TokenType> type;
  // Views into `text`; a text that occurs twice maps to its last id, as in llama.cpp.
  std::unordered_map<std::string_view, int32_t> to_id;

  int32_t size() const { return int32_t(text.size()); }
  int32_t find(std::string_view s) const {
    auto it = to_id.find(s);
    return it == to_id.end() ? -1 : it->second;
  }
};

// BPE merge ranks, keyed by the pair (left, right).
class MergeRanks {
 public:
  void add(std::string_view left, std::string_view right, int32_t rank);  // first rank wins
  int32_t rank(std::string_view left, std::string_view right) const;      // -1 when absent
  size_t size() const { return ranks_.size(); }

 private:
  static void make_key(std::string& key, std::string_view left, std::string_view right);
  StringMap<int32_t> ranks_;
};

// Byte-level BPE: appends the ids of `text` (one fragment without special tokens).
void bpe_encode(const Vocab& vocab, const MergeRanks& merges, const PreTokenizerSpec& pre,
                std::string_view text, std::vector<int32_t>& out);

// SentencePiece-style merge-by-score: appends the ids of `text`, which the caller has already
// prefixed and escaped (' ' -> U+2581).
void spm_encode(const Vocab& vocab, std::string_view text, std::vector<int32_t>& out);

// GPT-2 byte <-> printable code point mapping used by byte-level BPE vocabularies.
const std::string& byte_to_bpe_char(uint8_t byte);  // UTF-8 of the code point for `byte`
int bpe_char_to_byte(uint32_t cp);                  // -1 when cp is not in the mapping

}  // namespace infera::tokenizer
