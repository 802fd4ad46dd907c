// Byte-level BPE (GPT-2 style) encoding, with llama.cpp's semantics (llm_tokenizer_bpe_session):
// pre-tokenize into words, map every byte of a word to its printable stand-in, then merge the
// adjacent pair of lowest rank, leftmost first, until no ranked pair is left.
#include <array>
#include <queue>

#include "tokenizer/unicode.h"
#include "tokenizer/vocab.h"

namespace infera::tokenizer {
namespace {

struct ByteTables {
  std::array<std::string, 256> to_char;
  std::array<int16_t, 512> from_cp;  // code points used by the mapping are all < 324
};

const ByteTables& tables() {
  static const ByteTables t = [] {
    ByteTables t;
    t.from_cp.fill(-1);
    // Printable Latin-1 bytes stand for themselves; the others get 256, 257, ... in byte order.
    uint32_t next = 256;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
      const uint32_t cp = printable ? uint32_t(b) : next++;
      unicode::append_utf8(t.to_char[b], cp);
      t.from_cp[cp] = int16_t(b);
    }
    return t;
  }();
  return t;
}

struct Symbol {
  int32_t prev;
  int32_t next;
  uint32_t begin;  // byte offset in the encoded word
  uint32_t size;   // 0 once merged into its left neighbour
};

struct Bigram {
  int32_t rank;
  int32_t left;
  int32_t right;
  uint32_t size;  // left.size + right.size when queued; a changed sum marks the entry stale
};
struct BigramOrder {  // lowest rank first, then leftmost
  bool operator()(const Bigram& a, const Bigram& b) const {
    return a.rank > b.rank || (a.rank == b.rank && a.left > b.left);
  }
};

void encode_word(const Vocab& vocab, const MergeRanks& merges, bool ignore_merges,
                 const std::string& word, std::vector<Symbol>& symbols, std::vector<int32_t>& out) {
  if (ignore_merges) {
    const int32_t id = vocab.find(word);
    if (id >= 0) {
      out.push_back(id);
      return;
    }
  }
  symbols.clear();
  for (size_t off = 0; off < word.size();) {
    const size_t n = std::min(word.size() - off, unicode::utf8_len(uint8_t(word[off])));
    const int32_t index = int32_t(symbols.size());
    symbols.push_back({index - 1, -1, uint32_t(off), uint32_t(n)});
    if (index > 0) symbols[index - 1].next = index;
    off += n;
  }
  auto view = [&](const Symbol& s) { return std::string_view(word).substr(s.begin, s.size); };
  std::priority_queue<Bigram, std::vector<Bigram>, BigramOrder> queue;
  auto try_pair = [&](int32_t left, int32_t right) {
    if (left < 0 || right < 0) return;
    const int32_t rank = merges.rank(view(symbols[left]), view(symbols[right]));
    if (rank < 0) return;
    queue.push({rank, left, right, symbols[left].size + symbols[right].size});
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
    const std::string_view piece = view(symbols[i]);
    const int32_t id = vocab.find(piece);
    if (id >= 0) {
      out.push_back(id);
      continue;
    }
    // Not a token (a vocabulary without every byte): keep the bytes that are tokens themselves.
    for (char c : piece) {
      const int32_t b = vocab.find(std::string_view(&c, 1));
      if (b >= 0) out.push_back(b);
    }
  }
}

}  // namespace

const std::string& byte_to_bpe_char(uint8_t byte) { return tables().to_char[byte]; }

int bpe_char_to_byte(uint32_t cp) { return cp < 512 ? tables().from_cp[cp] : -1; }

void MergeRanks::make_key(std::string& key, std::string_view left, std::string_view right) {
  // Length-prefixed so that no pair of strings collides with another.
  key.clear();
  const uint32_t n = uint32_t(left.size());
  key.append(reinterpret_cast<const char*>(&n), sizeof(n));
  key.append(left);
  key.append(right);
}

void MergeRanks::add(std::string_view left, std::string_view right, int32_t rank) {
  std::string key;
  make_key(key, left, right);
  ranks_.emplace(std::move(key), rank);
}

int32_t MergeRanks::rank(std::string_view left, std::string_view right) const {
  thread_local std::string key;
  make_key(key, left, right);
  auto it = ranks_.find(std::string_view(key));
  return it == ranks_.end() ? -1 : it->second;
}

void bpe_encode(const Vocab& vocab, const MergeRanks& merges, const PreTokenizerSpec& pre,
                std::string_view text, std::vector<int32_t>& out) {
  // Code points as llama.cpp reads them (malformed bytes become U+FFFD), split into words, and
  // each word written back as UTF-8 and then byte-level encoded.
  const std::vector<uint32_t> cps = unicode::decode_lenient(text);
  const std::vector<Span> words = pretokenize(pre.type, cps);
  std::string utf8;
  std::string word;
  std::vector<Symbol> symbols;
  for (const Span& w : words) {
    utf8.clear();
    for (size_t i = w.begin; i < w.end; ++i) unicode::append_utf8(utf8, cps[i]);
    word.clear();
    for (char c : utf8) word += byte_to_bpe_char(uint8_t(c));
    encode_word(vocab, merges, pre.ignore_merges, word, symbols, out);
  }
}

}  // namespace infera::tokenizer
