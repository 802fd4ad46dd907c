#include "tokenizer/tokenizer.h"

#include <algorithm>
#include <limits>

#include "core/error.h"
#include "tokenizer/unicode.h"

namespace infera {
namespace {

using tokenizer::TokenType;

constexpr std::string_view kSpaceMarker = "\xE2\x96\x81";  // U+2581, SentencePiece's space

[[noreturn]] void fail(const gguf::GgufFile& file, std::string_view key, const std::string& why,
                       ErrorKind kind = ErrorKind::kInvalidFile) {
  throw Error(kind, file.path() + ": " + std::string(key) + ": " + why);
}

// A numeric array of exactly `n` elements (any numeric element type), or nullptr when absent.
const gguf::Value* numeric_array(const gguf::GgufFile& file, std::string_view key, size_t n) {
  const gguf::Value* v = file.find(key);
  if (v == nullptr) return nullptr;
  if (v->type != gguf::ValueType::ARRAY) fail(file, key, "expected an array");
  if (v->array.size() != n) {
    fail(file, key,
         "has " + std::to_string(v->array.size()) + " elements but the vocabulary has " +
             std::to_string(n) + " tokens");
  }
  for (const gguf::Value& e : v->array) {
    if (!e.as_f64().has_value()) fail(file, key, "expected numeric elements");
  }
  return v;
}

std::string replace_all(std::string_view s, std::string_view from, std::string_view to) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    if (s.compare(i, from.size(), from) == 0) {
      out += to;
      i += from.size();
    } else {
      out += s[i++];
    }
  }
  return out;
}

// llama.cpp's llama_decode_text: byte-level stand-ins back to bytes; a code point outside the
// mapping is spelled out as [UNK_BYTE_0x..<text>] as the reference does.
std::string byte_level_decode(const std::string& text) {
  std::string out;
  for (uint32_t cp : unicode::decode_lenient(text)) {
    const int b = tokenizer::bpe_char_to_byte(cp);
    if (b >= 0) {
      out.push_back(char(b));
      continue;
    }
    std::string utf8;
    unicode::append_utf8(utf8, cp);
    out += "[UNK_BYTE_0x";
    static constexpr char kHex[] = "0123456789abcdef";
    for (char c : utf8) {
      out.push_back(kHex[uint8_t(c) >> 4]);
      out.push_back(kHex[uint8_t(c) & 15]);
    }
    out += text + "]";
  }
  return out;
}

// Tokens llama.cpp treats as end of generation (and as control tokens) by their text.
constexpr std::string_view kEogNames[] = {
    "<|eot_id|>",      "<|im_end|>",         "<|end|>",    "<|return|>", "<|call|>",
    "<end_of_turn>",   "<|endoftext|>",      "<|eom_id|>", "<EOT>",      "_<EOT>",
    "<|end_of_text|>", "<end_of_utterance>", "</s>",
};
constexpr std::string_view kFimPadNames[] = {"<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>"};
constexpr std::string_view kFimRepNames[] = {"<|fim_repo|>", "<|repo_name|>", "<fim-repo>",
                                             "<REPO>", "<reponame>"};
constexpr std::string_view kFimSepNames[] = {"<|file_sep|>"};

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

template <size_t N>
bool name_in(const std::string& text, const std::string_view (&names)[N]) {
  return std::find(std::begin(names), std::end(names), text) != std::end(names);
}

}  // namespace

std::unique_ptr<Tokenizer> Tokenizer::from_gguf(const gguf::GgufFile& file) {
  std::unique_ptr<Tokenizer> t(new Tokenizer());
  const std::optional<std::string> model = file.get_string("tokenizer.ggml.model");
  if (!model) fail(file, "tokenizer.ggml.model", "missing");
  if (*model == "gpt2") {
    t->kind_ = Kind::kBpe;
  } else if (*model == "llama") {
    t->kind_ = Kind::kSpm;
  } else {
    fail(file, "tokenizer.ggml.model",
         "tokenizer model '" + *model + "' is not supported (supported: gpt2, llama)",
         ErrorKind::kUnsupported);
  }
  const bool spm = t->kind_ == Kind::kSpm;

  // Vocabulary.
  const std::vector<gguf::Value>* tokens =
      file.get_array("tokenizer.ggml.tokens", gguf::ValueType::STRING);
  if (tokens == nullptr) fail(file, "tokenizer.ggml.tokens", "missing");
  const size_t n = tokens->size();
  if (n == 0) fail(file, "tokenizer.ggml.tokens", "is empty");
  if (n > size_t(std::numeric_limits<int32_t>::max())) {
    fail(file, "tokenizer.ggml.tokens", "has too many tokens");
  }
  const gguf::Value* scores = numeric_array(file, "tokenizer.ggml.scores", n);
  const gguf::Value* types = numeric_array(file, "tokenizer.ggml.token_type", n);
  tokenizer::Vocab& vocab = t->vocab_;
  vocab.text.resize(n);
  vocab.score.assign(n, 0.0f);
  vocab.type.assign(n, TokenType::kNormal);
  vocab.to_id.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    std::string text = (*tokens)[i].s;
    if (text.empty()) text = "[EMPTY_" + std::to_string(i) + "]";  // as llama.cpp names them
    vocab.text[i] = std::move(text);
    vocab.to_id[vocab.text[i]] = int32_t(i);
    if (scores) vocab.score[i] = float(*scores->array[i].as_f64());
    if (types) {
      const std::optional<int64_t> v = types->array[i].as_i64();
      vocab.type[i] = (v && *v >= 0 && *v <= 6) ? TokenType(*v) : TokenType::kUndefined;
    }
  }

  // Merges and pre-tokenizer (BPE only).
  if (!spm) {
    const std::vector<gguf::Value>* merges =
        file.get_array("tokenizer.ggml.merges", gguf::ValueType::STRING);
    if (merges == nullptr) fail(file, "tokenizer.ggml.merges", "missing (required by gpt2)");
    for (size_t i = 0; i < merges->size(); ++i) {
      const std::string& m = (*merges)[i].s;
      const size_t space = m.find(' ', 1);
      if (space == std::string::npos) continue;  // not a pair; cannot match anything
      t->merges_.add(std::string_view(m).substr(0, space), std::string_view(m).substr(space + 1),
                     int32_t(i));
    }
    const std::string pre = file.get_string_or("tokenizer.ggml.pre", "default");
    const std::optional<tokenizer::PreTokenizerSpec> spec = tokenizer::pretokenizer_for(pre);
    if (!spec) {
      fail(file, "tokenizer.ggml.pre", "pre-tokenizer '" + pre + "' is not supported",
           ErrorKind::kUnsupported);
    }
    t->pre_ = *spec;
  }

  // Special ids. BOS/EOS out of range are errors; the optional ones are ignored, as llama.cpp does.
  auto id_key = [&](std::string_view key, int32_t fallback, bool required_in_range) -> int32_t {
    const std::optional<uint64_t> v = file.get_u64(key);
    if (!v) return fallback < int32_t(n) ? fallback : -1;
    if (*v >= n) {
      if (required_in_range) {
        fail(file, key, "token id " + std::to_string(*v) + " is outside the vocabulary");
      }
      return -1;
    }
    return int32_t(*v);
  };
  t->bos_ = id_key("tokenizer.ggml.bos_token_id", spm ? 1 : -1, true);
  t->eos_ = id_key("tokenizer.ggml.eos_token_id", spm ? 2 : -1, true);
  int32_t eot = id_key("tokenizer.ggml.eot_token_id", -1, false);
  const int32_t eom = id_key("tokenizer.ggml.eom_token_id", -1, false);
  int32_t fim_pad = id_key("tokenizer.ggml.fim_pad_token_id", -1, false);
  int32_t fim_rep = id_key("tokenizer.ggml.fim_rep_token_id", -1, false);
  int32_t fim_sep = id_key("tokenizer.ggml.fim_sep_token_id", -1, false);
  t->add_bos_ = file.get_bool_or("tokenizer.ggml.add_bos_token",
                                 spm || t->pre_.type == tokenizer::PreTokenizer::kLlama3);
  t->add_eos_ = file.get_bool_or("tokenizer.ggml.add_eos_token", false);
  t->add_space_prefix_ = spm && file.get_bool_or("tokenizer.ggml.add_space_prefix", true);

  // End-of-generation set, found by id and by name as llama.cpp does; tokens found by name are
  // promoted to control tokens (which changes how they are matched when parse_special is false).
  auto by_name = [&](int32_t& id, auto& names) {
    for (size_t i = 0; i < n && id < 0; ++i) {
      if (name_in(vocab.text[i], names)) id = int32_t(i);
    }
    if (id >= 0 && vocab.type[id] != TokenType::kControl) vocab.type[id] = TokenType::kControl;
  };
  by_name(fim_pad, kFimPadNames);
  by_name(fim_rep, kFimRepNames);
  by_name(fim_sep, kFimSepNames);
  std::vector<int32_t> eog;
  for (int32_t id : {t->eos_, eot, eom, fim_pad, fim_rep, fim_sep}) {
    if (id >= 0) eog.push_back(id);
  }
  for (size_t i = 0; i < n; ++i) {
    if (name_in(vocab.text[i], kEogNames)) {
      eog.push_back(int32_t(i));
      vocab.type[i] = TokenType::kControl;
    }
  }
  std::sort(eog.begin(), eog.end());
  eog.erase(std::unique(eog.begin(), eog.end()), eog.end());
  t->eog_ = std::move(eog);
  t->eog_mask_.assign(n, false);
  for (int32_t id : t->eog_) t->eog_mask_[id] = true;

  // Pieces.
  t->pieces_.resize(n);
  for (size_t i = 0; i < n; ++i) {
    const std::string& text = vocab.text[i];
    std::string& piece = t->pieces_[i];
    switch (vocab.type[i]) {
      case TokenType::kControl:
      case TokenType::kUnknown:
      case TokenType::kUserDefined:
        piece = text;
        break;
      case TokenType::kNormal:
        piece = spm ? replace_all(text, kSpaceMarker, " ") : byte_level_decode(text);
        break;
      case TokenType::kByte:
        if (spm && text.size() == 6 && text.compare(0, 3, "<0x") == 0 && text[5] == '>') {
          const int hi = hex_digit(text[3]), lo = hex_digit(text[4]);
          if (hi >= 0 && lo >= 0) piece.push_back(char(hi * 16 + lo));  // else: renders as nothing
        }
        break;
      default:  // unused / undefined render as nothing, as in llama.cpp
        break;
    }
  }
  t->build_special_index();
  return t;
}

void Tokenizer::build_special_index() {
  const int32_t n = vocab_.size();
  special_rank_.assign(n, -1);
  specials_.clear();
  for (int32_t id = 0; id < n; ++id) {
    const TokenType ty = vocab_.type[id];
    if (ty == TokenType::kControl || ty == TokenType::kUserDefined || ty == TokenType::kUnknown) {
      specials_.push_back(id);
    }
  }
  // Longest first; equal lengths by id so that the order is deterministic.
  std::stable_sort(specials_.begin(), specials_.end(), [&](int32_t a, int32_t b) {
    return vocab_.text[a].size() > vocab_.text[b].size();
  });
  trie_.assign(1, TrieNode{});
  for (size_t r = 0; r < specials_.size(); ++r) {
    const int32_t id = specials_[r];
    special_rank_[id] = int32_t(r);
    int32_t node = 0;
    for (char ch : vocab_.text[id]) {
      const uint8_t c = uint8_t(ch);
      int32_t child = -1;
      for (const auto& [byte, next] : trie_[node].next) {
        if (byte == c) child = next;
      }
      if (child < 0) {
        child = int32_t(trie_.size());
        trie_[node].next.emplace_back(c, child);
        trie_.push_back(TrieNode{});
      }
      node = child;
    }
    if (trie_[node].token < 0) trie_[node].token = id;
  }
}

std::vector<Tokenizer::Fragment> Tokenizer::split_special(std::string_view text,
                                                          bool parse_special) const {
  std::vector<Fragment> frags;
  if (text.empty()) return frags;
  frags.push_back({-1, 0, text.size()});
  auto allowed = [&](int32_t id) {
    return parse_special || vocab_.type[id] == TokenType::kUserDefined;
  };
  // Which special tokens occur anywhere in the text (one trie walk per position).
  std::vector<int32_t> ranks;
  for (size_t i = 0; i < text.size(); ++i) {
    int32_t node = 0;
    for (size_t j = i; j < text.size(); ++j) {
      int32_t child = -1;
      for (const auto& [byte, next] : trie_[node].next) {
        if (byte == uint8_t(text[j])) child = next;
      }
      if (child < 0) break;
      node = child;
      const int32_t id = trie_[node].token;
      if (id >= 0 && allowed(id)) ranks.push_back(special_rank_[id]);
    }
  }
  if (ranks.empty()) return frags;
  std::sort(ranks.begin(), ranks.end());
  ranks.erase(std::unique(ranks.begin(), ranks.end()), ranks.end());
  // llama.cpp's order: for each special token, longest first, cut every occurrence out of every
  // remaining raw fragment, left to right.
  std::vector<Fragment> next;
  for (int32_t r : ranks) {
    const int32_t id = specials_[r];
    const std::string& needle = vocab_.text[id];
    next.clear();
    for (const Fragment& f : frags) {
      if (f.token >= 0) {
        next.push_back(f);
        continue;
      }
      size_t pos = f.begin;
      const size_t end = f.begin + f.size;
      while (pos < end) {
        const size_t hit = text.substr(0, end).find(needle, pos);
        if (hit == std::string_view::npos) break;
        if (hit > pos) next.push_back({-1, pos, hit - pos});
        next.push_back({id, hit, needle.size()});
        pos = hit + needle.size();
      }
      if (pos < end) next.push_back({-1, pos, end - pos});
    }
    frags.swap(next);
  }
  return frags;
}

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool add_bos_eos,
                                       bool parse_special) const {
  // The encoders index bytes with 32-bit offsets (and a prompt this large is an error anyway).
  if (text.size() >= (size_t(1) << 31)) {
    throw Error(ErrorKind::kInvalidArgument,
                "text of " + std::to_string(text.size()) + " bytes is too long to tokenize");
  }
  std::vector<int32_t> out;
  if (add_bos_eos && add_bos_ && bos_ >= 0) out.push_back(bos_);
  const std::vector<Fragment> frags = split_special(text, parse_special);
  bool prev_special = true;  // SPM: a text fragment at the start or after a special gets the prefix
  std::string buf;
  for (const Fragment& f : frags) {
    if (f.token >= 0) {
      out.push_back(f.token);
      prev_special = true;
      continue;
    }
    const std::string_view raw = text.substr(f.begin, f.size);
    if (kind_ == Kind::kBpe) {
      tokenizer::bpe_encode(vocab_, merges_, pre_, raw, out);
    } else {
      buf.clear();
      if (add_space_prefix_ && prev_special) buf += kSpaceMarker;
      for (char c : raw) {
        if (c == ' ') {
          buf += kSpaceMarker;
        } else {
          buf.push_back(c);
        }
      }
      tokenizer::spm_encode(vocab_, buf, out);
    }
    prev_special = false;
  }
  if (add_bos_eos && add_eos_ && eos_ >= 0) out.push_back(eos_);
  return out;
}

std::string Tokenizer::token_to_piece(int32_t id) const {
  if (id < 0 || id >= vocab_.size()) return {};
  return pieces_[id];
}

std::string Tokenizer::decode(std::span<const int32_t> ids) const {
  std::string out;
  for (int32_t id : ids) {
    if (id >= 0 && id < vocab_.size()) out += pieces_[id];
  }
  return out;
}

bool Tokenizer::is_eog(int32_t id) const { return id >= 0 && id < vocab_.size() && eog_mask_[id]; }

const std::string& Tokenizer::token_text(int32_t id) const {
  static const std::string kEmpty;
  if (id < 0 || id >= vocab_.size()) return kEmpty;
  return vocab_.text[id];
}

}  // namespace infera
