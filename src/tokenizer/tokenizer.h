#pragma once
// Tokenizers built from GGUF metadata alone (tokenizer.ggml.*), matching llama.cpp token for token:
//   "gpt2"  byte-level BPE with merge ranks; pre-tokenizer chosen by tokenizer.ggml.pre (default,
//           gpt-2, llama-bpe/llama3, qwen2, smollm/starcoder, deepseek-llm, deepseek-coder)
//   "llama" SentencePiece-style merge-by-score with byte fallback <0xXX> and U+2581 for space
// Special tokens (token types CONTROL, USER_DEFINED, UNKNOWN) are cut out of the text before the
// encoder runs: USER_DEFINED always, CONTROL and UNKNOWN only when parse_special is true.
//
// A Tokenizer is immutable after from_gguf(); encode/decode may run on many threads at once.
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "gguf/gguf_file.h"
#include "tokenizer/pretokenize.h"
#include "tokenizer/vocab.h"

namespace infera {

class Tokenizer {
 public:
  enum class Kind { kBpe, kSpm };

  // Reads tokenizer.ggml.* from `file`. Throws infera::Error naming the key that is missing or
  // malformed (kInvalidFile) or names something infera does not implement (kUnsupported).
  static std::unique_ptr<Tokenizer> from_gguf(const gguf::GgufFile& file);
  Tokenizer(const Tokenizer&) = delete;
  Tokenizer& operator=(const Tokenizer&) = delete;

  // Token ids of `text` (any bytes; throws kInvalidArgument only past 2 GiB). add_bos_eos adds
  // BOS/EOS where the vocabulary asks for them; parse_special recognises control-token strings such
  // as "<|im_start|>" in the text (leave it false for raw user text).
  std::vector<int32_t> encode(std::string_view text, bool add_bos_eos, bool parse_special) const;

  // Bytes of one token as it appears in text; special tokens render as their text, unused and
  // out-of-range ids as nothing.
  std::string token_to_piece(int32_t id) const;
  // Concatenated pieces (ids out of range are skipped), so decode(encode(s)) == s for valid UTF-8
  // except that a SentencePiece vocabulary with add_space_prefix gives back its leading space
  // (and a literal U+2581 comes back as a space). Stream with IncrementalDecoder instead.
  std::string decode(std::span<const int32_t> ids) const;

  int32_t n_vocab() const { return vocab_.size(); }
  int32_t bos() const { return bos_; }  // -1 when absent
  int32_t eos() const { return eos_; }  // -1 when absent
  bool add_bos() const { return add_bos_; }
  bool add_eos() const { return add_eos_; }
  // End of generation: eos, eot, eom and FIM pad/repo/sep ids of the metadata, plus the tokens
  // llama.cpp recognises by name (<|im_end|>, <|eot_id|>, <end_of_turn>, <|endoftext|>, ...).
  bool is_eog(int32_t id) const;
  const std::vector<int32_t>& eog_ids() const { return eog_; }
  // Raw vocabulary text of a token (empty string for an id out of range).
  const std::string& token_text(int32_t id) const;

  Kind kind() const { return kind_; }
  bool add_space_prefix() const { return add_space_prefix_; }

 private:
  Tokenizer() = default;

  struct Fragment {
    int32_t token;  // >= 0: a special token; -1: raw text [begin, begin + size)
    size_t begin;
    size_t size;
  };
  std::vector<Fragment> split_special(std::string_view text, bool parse_special) const;
  void build_special_index();

  Kind kind_ = Kind::kBpe;
  tokenizer::Vocab vocab_;
  tokenizer::MergeRanks merges_;
  tokenizer::PreTokenizerSpec pre_;
  std::vector<std::string> pieces_;  // token_to_piece of every id, computed once
  int32_t bos_ = -1;
  int32_t eos_ = -1;
  bool add_bos_ = false;
  bool add_eos_ = false;
  bool add_space_prefix_ = false;
  std::vector<int32_t> eog_;  // sorted
  std::vector<bool> eog_mask_;

  // Special tokens, longest text first (llama.cpp's order of matching), and a byte trie over their
  // texts to find which of them occur in a text without scanning for each one.
  std::vector<int32_t> specials_;
  std::vector<int32_t> special_rank_;  // id -> index in specials_, -1 if not special
  struct TrieNode {
    std::vector<std::pair<uint8_t, int32_t>> next;  // (byte, node)
    int32_t token = -1;
  };
  std::vector<TrieNode> trie_;
};

// Streaming detokenizer: push ids, get back only complete UTF-8. A character split across tokens
// is held back until it is complete; ill-formed bytes come out as U+FFFD (one per maximal
// ill-formed subpart). Never throws.
class IncrementalDecoder {
 public:
  explicit IncrementalDecoder(const Tokenizer& tokenizer) : tokenizer_(&tokenizer) {}
  std::string push(int32_t id);
  // Emits what is held back (an incomplete character becomes U+FFFD) and resets.
  std::string flush();

 private:
  std::string drain(bool final);
  const Tokenizer* tokenizer_;
  std::string pending_;
};

}  // namespace infera
