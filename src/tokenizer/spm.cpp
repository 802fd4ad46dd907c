// SentencePiece-style encoding with llama.cpp's semantics (llm_tokenizer_spm_session): split the
// text into UTF-8 characters, repeatedly merge the adjacent pair whose concatenation is the token
// of highest score (leftmost on ties), then emit each piece as its token or, failing that, as
// byte tokens <0xXX>.
#include <queue>

#include "tokenizer/unicode.h"
#include "tokenizer/vocab.h"

namespace infera::tokenizer {
namespace {

struct Symbol {
  int32_t prev;
  int32_t next;
  uint32_t begin;
  uint32_t size;  // 0 once merged into its left neighbour
};

struct Bigram {
  float score;
  int32_t left;
  int32_t right;
  uint32_t size;
};
struct BigramOrder {  // highest score first, then leftmost
  bool operator()(const Bigram& a, const Bigram& b) const {
    return a.score < b.score || (a.score == b.score && a.left > b.left);
  }
};

int32_t byte_token(const Vocab& vocab, uint8_t byte) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  const char name[6] = {'<', '0', 'x', kHex[byte >> 4], kHex[byte & 15], '>'};
  int32_t id = vocab.find(std::string_view(name, 6));
  if (id < 0) id = vocab.find(std::string_view(reinterpret_cast<const char*>(&byte), 1));
  return id;
}

}  // namespace

void spm_encode(const Vocab& vocab, std::string_view text, std::vector<int32_t>& out) {
  std::vector<Symbol> symbols;
  symbols.reserve(text.size());
  for (size_t off = 0; off < text.size();) {
    const size_t n = std::min(text.size() - off, unicode::utf8_len(uint8_t(text[off])));
    const int32_t index = int32_t(symbols.size());
    symbols.push_back({index - 1, -1, uint32_t(off), uint32_t(n)});
    if (index > 0) symbols[index - 1].next = index;
    off += n;
  }
  std::priority_queue<Bigram, std::vector<Bigram>, BigramOrder> queue;
  auto try_pair = [&](int32_t left, int32_t right) {
    if (left < 0 || right < 0) return;
    const uint32_t size = symbols[left].size + symbols[right].size;
    const int32_t id = vocab.find(text.substr(symbols[left].begin, size));
    if (id < 0) return;
    queue.push({vocab.score[id], left, right, size});
  };
  for (int32_t i = 1; i < int32_t(symbols.size()); ++i) try_pair(i - 1, i);
  while (!queue.empty()) {
    const Bigram top = queue.top();
    queue.pop();
    Symbol& left = symbols[top.left];
    Symbol& right = symbols[top.right];
    if (left.size == 0 || right.size == 0 || left.size + right.size != top.size) continue;
    left.size += right.size;
    right.size = 0;
    left.next = right.next;
    if (right.next >= 0) symbols[right.next].prev = top.left;
    try_pair(left.prev, top.left);
    try_pair(top.left, left.next);
  }
  for (int32_t i = symbols.empty() ? -1 : 0; i >= 0; i = symbols[i].next) {
    const std::string_view piece = text.substr(symbols[i].begin, symbols[i].size);
    const int32_t id = vocab.find(piece);
    if (id >= 0) {
      out.push_back(id);
      continue;
    }
    // Every merged piece is a token, so this is a single character the vocabulary lacks.
    for (char c : piece) {
      const int32_t b = byte_token(vocab, uint8_t(c));
      if (b >= 0) out.push_back(b);
    }
  }
}

}  // namespace infera::tokenizer
