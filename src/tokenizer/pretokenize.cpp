#include "tokenizer/pretokenize.h"

#include <array>
#include <span>

#include "tokenizer/unicode.h"

// Pattern sources (llama.cpp, src/llama-vocab.cpp, llm_tokenizer_bpe):
//   GPT-2:   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)   (+ \s+)
//   Llama 3: (?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|
//            \p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
//   Qwen 2:  as Llama 3 with \p{N} in place of \p{N}{1,3}
//   SmolLM:  \p{N}  then GPT-2
//   default: [\p{P}\$\+<=>\^~\|]+  then GPT-2, \p{N}+, [0-9][0-9][0-9]
//   DeepSeek LLM:   [\r\n], \s?[<letters>]+, \s?[!-/:-~！-／：-～‘-‟　-。]+, \s+$,
//                   [一-龥ࠀ-一가-퟿]+, \p{N}+
//   DeepSeek Coder: [\r\n], \s?\p{L}+, \s?\p{P}+, [一-龥ࠀ-一가-퟿]+, \p{N}
// llama.cpp runs the DeepSeek patterns with std::regex after replacing every non-ASCII white-space
// code point by U+000B, so \s is Unicode White_Space and no explicit class matches white space.

namespace infera::tokenizer {
namespace {

constexpr uint8_t kL = 1, kN = 2, kP = 4, kW = 8;

// Per-code-point class bits for one text.
std::vector<uint8_t> classify(const std::vector<uint32_t>& cps) {
  std::vector<uint8_t> out(cps.size());
  for (size_t i = 0; i < cps.size(); ++i) {
    uint8_t f = 0;
    switch (unicode::cp_class(cps[i])) {
      case unicode::CpClass::kLetter:
        f = kL;
        break;
      case unicode::CpClass::kNumber:
        f = kN;
        break;
      case unicode::CpClass::kPunct:
        f = kP;
        break;
      default:
        break;
    }
    if (unicode::is_whitespace(cps[i])) f |= kW;
    out[i] = f;
  }
  return out;
}

// Context of one scanner call: one piece [begin, end) of the text; positions past `end` read as
// "out of range" (no class, no code point), like llama.cpp's custom splitters.
struct Piece {
  const std::vector<uint32_t>& cps;
  const std::vector<uint8_t>& fl;
  size_t end;
  uint32_t cp(size_t p) const { return p < end ? cps[p] : 0xFFFFFFFFu; }
  bool in(size_t p) const { return p < end; }
  bool letter(size_t p) const { return p < end && (fl[p] & kL); }
  bool number(size_t p) const { return p < end && (fl[p] & kN); }
  bool space(size_t p) const { return p < end && (fl[p] & kW); }
  // [^\s\p{L}\p{N}]
  bool other(size_t p) const { return p < end && !(fl[p] & (kL | kN | kW)); }
};

void push(std::vector<Span>& out, size_t b, size_t e) {
  if (e > b) out.push_back({b, e});
}

// 's|'t|'re|'ve|'m|'ll|'d (case-folded when `fold`): length of the match at p, or 0.
size_t contraction(const Piece& s, size_t p, bool fold) {
  if (s.cp(p) != '\'' || !s.in(p + 1)) return 0;
  auto low = [&](size_t q) {
    uint32_t c = s.cp(q);
    return (fold && c >= 'A' && c <= 'Z') ? c + 32 : c;
  };
  const uint32_t a = low(p + 1);
  if (a == 's' || a == 't' || a == 'm' || a == 'd') return 2;
  if (!s.in(p + 2)) return 0;
  const uint32_t b = low(p + 2);
  if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return 3;
  return 0;
}

void split_gpt2(const std::vector<uint32_t>& cps, const std::vector<uint8_t>& fl, Span in,
                std::vector<Span>& out) {
  const Piece s{cps, fl, in.end};
  size_t pos = in.begin;
  while (pos < in.end) {
    const size_t start = pos;
    if (size_t n = contraction(s, pos, false)) {
      pos += n;
      push(out, start, pos);
      continue;
    }
    const bool sp = s.cp(pos) == ' ';
    const size_t q = pos + (sp ? 1 : 0);  // first code point after an optional space
    if (s.letter(q)) {                    // ' ?\p{L}+'
      pos = q;
      while (s.letter(pos)) ++pos;
      push(out, start, pos);
      continue;
    }
    if (s.number(q)) {  // ' ?\p{N}+'
      pos = q;
      while (s.number(pos)) ++pos;
      push(out, start, pos);
      continue;
    }
    if (s.other(q)) {  // ' ?[^\s\p{L}\p{N}]+'
      pos = q;
      while (s.other(pos)) ++pos;
      push(out, start, pos);
      continue;
    }
    size_t nws = 0;
    while (s.space(pos + nws)) ++nws;
    if (nws > 1 && s.in(pos + nws)) {  // '\s+(?!\S)': leave the last space to the next word
      pos += nws - 1;
      push(out, start, pos);
      continue;
    }
    if (nws > 0) {  // '\s+'
      pos += nws;
      push(out, start, pos);
      continue;
    }
    ++pos;  // nothing matched: a piece of one code point
    push(out, start, pos);
  }
}

void split_llama3(const std::vector<uint32_t>& cps, const std::vector<uint8_t>& fl, Span in,
                  size_t max_digits, std::vector<Span>& out) {
  const Piece s{cps, fl, in.end};
  size_t pos = in.begin;
  while (pos < in.end) {
    const size_t start = pos;
    const uint32_t c = s.cp(pos);
    if (size_t n = contraction(s, pos, true)) {
      pos += n;
      push(out, start, pos);
      continue;
    }
    // '[^\r\n\p{L}\p{N}]?\p{L}+'
    if (c != '\r' && c != '\n' && !s.number(pos) && (s.letter(pos) || s.letter(pos + 1))) {
      ++pos;
      while (s.letter(pos)) ++pos;
      push(out, start, pos);
      continue;
    }
    if (s.number(pos)) {  // '\p{N}{1,max_digits}'
      while (s.number(pos) && pos - start < max_digits) ++pos;
      push(out, start, pos);
      continue;
    }
    // ' ?[^\s\p{L}\p{N}]+[\r\n]*'
    const size_t q = pos + (c == ' ' ? 1 : 0);
    if (s.other(q)) {
      pos = q;
      while (s.other(pos)) ++pos;
      while (s.cp(pos) == '\r' || s.cp(pos) == '\n') ++pos;
      push(out, start, pos);
      continue;
    }
    size_t nws = 0;
    size_t after_newline = 0;  // end of the last \r or \n inside the white-space run
    while (s.space(pos + nws)) {
      const uint32_t w = s.cp(pos + nws);
      if (w == '\r' || w == '\n') after_newline = pos + nws + 1;
      ++nws;
    }
    if (after_newline > 0) {  // '\s*[\r\n]+'
      pos = after_newline;
      push(out, start, pos);
      continue;
    }
    if (nws > 1 && s.in(pos + nws)) {  // '\s+(?!\S)'
      pos += nws - 1;
      push(out, start, pos);
      continue;
    }
    if (nws > 0) {  // '\s+'
      pos += nws;
      push(out, start, pos);
      continue;
    }
    ++pos;
    push(out, start, pos);
  }
}

// Generic regex-search split: `match(p, end)` gives the length of a match starting at p (0 for
// none); matches and the gaps between them both become pieces.
template <typename Match>
void split_search(Span in, Match match, std::vector<Span>& out) {
  size_t gap = in.begin;
  size_t pos = in.begin;
  while (pos < in.end) {
    const size_t n = match(pos, in.end);
    if (n == 0) {
      ++pos;
      continue;
    }
    push(out, gap, pos);
    push(out, pos, pos + n);
    pos += n;
    gap = pos;
  }
  push(out, gap, in.end);
}

// The explicit letter class of the DeepSeek LLM pattern, as code-point ranges.
constexpr std::pair<uint32_t, uint32_t> kDeepseekLetters[] = {
    {0x41, 0x5A},       {0x61, 0x7A},       {0xB5, 0xB5},       {0xC0, 0xD6},
    {0xD8, 0xF6},       {0xF8, 0x1BA},      {0x1BC, 0x1BF},     {0x1C4, 0x293},
    {0x295, 0x2AF},     {0x370, 0x373},     {0x376, 0x377},     {0x37B, 0x37D},
    {0x37F, 0x37F},     {0x386, 0x386},     {0x388, 0x38A},     {0x38C, 0x38C},
    {0x38E, 0x3A1},     {0x3A3, 0x3F5},     {0x3F7, 0x481},     {0x48A, 0x52F},
    {0x531, 0x556},     {0x10A0, 0x10C5},   {0x13A0, 0x13F5},   {0x13F8, 0x13FD},
    {0x1C90, 0x1CBA},   {0x1CBD, 0x1CBF},   {0x1D00, 0x1D2B},   {0x1D6B, 0x1D77},
    {0x1D79, 0x1D9A},   {0x1E00, 0x1F15},   {0x1F18, 0x1F1D},   {0x1F20, 0x1F45},
    {0x1F48, 0x1F4D},   {0x1F50, 0x1F57},   {0x1F59, 0x1F59},   {0x1F5B, 0x1F5B},
    {0x1F5D, 0x1F5D},   {0x1F5F, 0x1F7D},   {0x1F80, 0x1FB4},   {0x1FB6, 0x1FBC},
    {0x1FBE, 0x1FBE},   {0x1FC2, 0x1FC4},   {0x1FC6, 0x1FCC},   {0x1FD0, 0x1FD3},
    {0x1FD6, 0x1FDB},   {0x1FE0, 0x1FEC},   {0x1FF2, 0x1FF4},   {0x1FF6, 0x1FFC},
    {0x2102, 0x2102},   {0x2107, 0x2107},   {0x210A, 0x2113},   {0x2115, 0x2115},
    {0x2119, 0x211D},   {0x2124, 0x2124},   {0x2126, 0x2126},   {0x2128, 0x2128},
    {0x212A, 0x212D},   {0x212F, 0x2134},   {0x2139, 0x2139},   {0x213C, 0x213F},
    {0x2145, 0x2149},   {0x214E, 0x214E},   {0x2183, 0x2184},   {0x2C00, 0x2C7B},
    {0x2C7E, 0x2CE4},   {0x2CEB, 0x2CEE},   {0x2CF2, 0x2CF3},   {0xA640, 0xA66D},
    {0xA680, 0xA69B},   {0xA722, 0xA76F},   {0xA771, 0xA787},   {0xA78B, 0xA78E},
    {0xAB70, 0xABBF},   {0xFB00, 0xFB06},   {0xFB13, 0xFB17},   {0xFF21, 0xFF3A},
    {0xFF41, 0xFF5A},   {0x10400, 0x1044F}, {0x104B0, 0x104D3}, {0x104D8, 0x104FB},
    {0x10C80, 0x10CB2}, {0x10CC0, 0x10CF2}, {0x118A0, 0x118DF}, {0x1E900, 0x1E943},
};

bool in_ranges(uint32_t cp, std::span<const std::pair<uint32_t, uint32_t>> ranges) {
  for (const auto& [a, b] : ranges) {
    if (cp >= a && cp <= b) return true;
  }
  return false;
}

// [一-龥ࠀ-一가-퟿] (white space excluded, see above).
bool deepseek_cjk(uint32_t cp) {
  return (cp >= 0x0800 && cp <= 0x9FA5) || (cp >= 0xAC00 && cp <= 0xD7FF);
}

// [!-/:-~！-／：-～‘-‟　-。] (white space excluded).
bool deepseek_punct(uint32_t cp) {
  return (cp >= 0x21 && cp <= 0x2F) || (cp >= 0x3A && cp <= 0x7E) ||
         (cp >= 0xFF01 && cp <= 0xFF0F) || (cp >= 0xFF1A && cp <= 0xFF5E) ||
         (cp >= 0x2018 && cp <= 0x201F) || (cp >= 0x3001 && cp <= 0x3002);
}

template <typename Fn>
std::vector<Span> apply(const std::vector<Span>& pieces, Fn fn) {
  std::vector<Span> out;
  out.reserve(pieces.size() * 2);
  for (const Span& p : pieces) fn(p, out);
  return out;
}

}  // namespace

std::optional<PreTokenizerSpec> pretokenizer_for(std::string_view name) {
  if (name == "deepseek-llm") return PreTokenizerSpec{PreTokenizer::kDeepseekLlm, false};
  if (name == "deepseek-coder") return PreTokenizerSpec{PreTokenizer::kDeepseekCoder, false};
  if (name.empty() || name == "default") return PreTokenizerSpec{PreTokenizer::kDefault, false};
  for (std::string_view n : {"llama3", "llama-v3", "llama-bpe", "falcon3", "pixtral"}) {
    if (name == n) return PreTokenizerSpec{PreTokenizer::kLlama3, true};
  }
  for (std::string_view n : {"qwen2", "deepseek-r1-qwen", "stablelm2"}) {
    if (name == n) return PreTokenizerSpec{PreTokenizer::kQwen2, false};
  }
  for (std::string_view n : {"smollm", "starcoder", "refact", "command-r", "codeshell"}) {
    if (name == n) return PreTokenizerSpec{PreTokenizer::kSmollm, false};
  }
  for (std::string_view n : {"gpt-2", "gpt2", "phi-2", "mpt", "olmo", "jina-es", "jina-de"}) {
    if (name == n) return PreTokenizerSpec{PreTokenizer::kGpt2, false};
  }
  return std::nullopt;
}

std::vector<Span> pretokenize(PreTokenizer type, const std::vector<uint32_t>& cps) {
  const std::vector<uint8_t> fl = classify(cps);
  std::vector<Span> pieces;
  if (!cps.empty()) pieces.push_back({0, cps.size()});
  auto gpt2 = [&](Span p, std::vector<Span>& out) { split_gpt2(cps, fl, p, out); };
  auto each_number = [&](Span p, std::vector<Span>& out) {
    split_search(
        p, [&](size_t q, size_t) -> size_t { return (fl[q] & kN) ? 1 : 0; }, out);
  };
  switch (type) {
    case PreTokenizer::kGpt2:
      return apply(pieces, gpt2);
    case PreTokenizer::kLlama3:
    case PreTokenizer::kQwen2: {
      const size_t digits = type == PreTokenizer::kLlama3 ? 3 : 1;
      return apply(pieces,
                   [&](Span p, std::vector<Span>& out) { split_llama3(cps, fl, p, digits, out); });
    }
    case PreTokenizer::kSmollm:
      return apply(apply(pieces, each_number), gpt2);
    case PreTokenizer::kDeepseekLlm:
    case PreTokenizer::kDeepseekCoder: {
      const bool llm = type == PreTokenizer::kDeepseekLlm;
      auto ws = [&](size_t q) { return (fl[q] & kW) != 0; };
      // A regex-search split for a pattern of the form "\s?[class]+" (optional_space) or
      // "[class]+" / "[class]" (run = false: one code point per match).
      auto by_class = [&](auto in_class, bool optional_space, bool run) {
        return [&, in_class, optional_space, run](Span p, std::vector<Span>& out) {
          split_search(
              p,
              [&](size_t q, size_t end) -> size_t {
                size_t e = q;
                if (optional_space && ws(q) && q + 1 < end && in_class(q + 1)) ++e;
                if (e >= end || !in_class(e)) return 0;
                ++e;
                while (run && e < end && in_class(e)) ++e;
                return e - q;
              },
              out);
        };
      };
      auto newline = [&](size_t q) { return cps[q] == '\r' || cps[q] == '\n'; };
      auto letter = [&](size_t q) {
        return llm ? in_ranges(cps[q], kDeepseekLetters) : (fl[q] & kL) != 0;
      };
      auto punct = [&](size_t q) {
        return llm ? !ws(q) && deepseek_punct(cps[q]) : (fl[q] & kP) != 0;
      };
      auto cjk = [&](size_t q) { return !ws(q) && deepseek_cjk(cps[q]); };
      auto number = [&](size_t q) { return (fl[q] & kN) != 0; };
      pieces = apply(pieces, by_class(newline, false, false));
      pieces = apply(pieces, by_class(letter, true, true));
      pieces = apply(pieces, by_class(punct, true, true));
      if (llm) {
        auto trailing_space = [&](Span p, std::vector<Span>& out) {  // \s+$
          size_t b = p.end;
          while (b > p.begin && ws(b - 1)) --b;
          push(out, p.begin, b);
          push(out, b, p.end);
        };
        pieces = apply(pieces, trailing_space);
      }
      pieces = apply(pieces, by_class(cjk, false, true));
      return apply(pieces, by_class(number, false, llm));
    }
    case PreTokenizer::kDefault: {
      auto punct_run = [&](Span p, std::vector<Span>& out) {
        auto is_punct = [&](size_t q) {
          const uint32_t c = cps[q];
          return (fl[q] & kP) || c == '$' || c == '+' || c == '<' || c == '=' || c == '>' ||
                 c == '^' || c == '~' || c == '|';
        };
        split_search(
            p,
            [&](size_t q, size_t end) -> size_t {
              size_t e = q;
              while (e < end && is_punct(e)) ++e;
              return e - q;
            },
            out);
      };
      auto number_run = [&](Span p, std::vector<Span>& out) {
        split_search(
            p,
            [&](size_t q, size_t end) -> size_t {
              size_t e = q;
              while (e < end && (fl[e] & kN)) ++e;
              return e - q;
            },
            out);
      };
      auto digits3 = [&](Span p, std::vector<Span>& out) {
        auto digit = [&](size_t q) { return cps[q] >= '0' && cps[q] <= '9'; };
        split_search(
            p,
            [&](size_t q, size_t end) -> size_t {
              return (q + 3 <= end && digit(q) && digit(q + 1) && digit(q + 2)) ? 3 : 0;
            },
            out);
      };
      return apply(apply(apply(apply(pieces, punct_run), gpt2), number_run), digits3);
    }
  }
  return pieces;
}

}  // namespace infera::tokenizer
