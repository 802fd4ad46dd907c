// The chat-template lexer: text, tags and expression tokens, with jinja2's whitespace handling
// under transformers' settings (described in template_parser.cpp).
#include "chat/template_lexer.h"

#include <charconv>
#include <cstdint>

#include "chat/text_util.h"
#include "core/error.h"

namespace infera::chat {

void syntax_error(const Positions& pos, size_t offset, const std::string& what) {
  const auto [line, col] = pos.at(offset);
  throw Error(ErrorKind::kInvalidArgument, "chat template syntax error at " + std::to_string(line) +
                                               ":" + std::to_string(col) + ": " + what);
}

namespace {

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}
bool is_name_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

class Lexer {
 public:
  Lexer(std::string_view src, const Positions& pos) : src_(src), pos_info_(pos) {}

  std::vector<Token> run() {
    size_t pos = 0;
    bool line_starting = true;
    while (pos < src_.size()) {
      size_t p = pos;
      while (true) {
        p = src_.find('{', p);
        if (p == std::string_view::npos || p + 1 >= src_.size()) {
          p = std::string_view::npos;
          break;
        }
        const char k = src_[p + 1];
        if (k == '{' || k == '%' || k == '#') break;
        ++p;
      }
      if (p == std::string_view::npos) {
        emit_text(std::string(src_.substr(pos)), pos);
        break;
      }
      std::string text(src_.substr(pos, p - pos));
      const char kind = src_[p + 1];
      char sign = 0;
      if (p + 2 < src_.size() && (src_[p + 2] == '-' || src_[p + 2] == '+')) sign = src_[p + 2];
      if (sign == '-') {
        size_t e = text.size();
        while (e > 0 && is_space(text[e - 1])) --e;
        text.resize(e);
      } else if (sign != '+' && kind != '{') {
        // lstrip_blocks: only spaces/tabs between the line start and the tag.
        const size_t nl = text.rfind('\n');
        const size_t l_pos = nl == std::string::npos ? 0 : nl + 1;
        if (l_pos > 0 || line_starting) {
          bool only_ws = l_pos < text.size();
          for (size_t i = l_pos; i < text.size(); ++i) {
            if (!is_space(text[i])) {
              only_ws = false;
              break;
            }
          }
          if (only_ws) text.resize(l_pos);
        }
      }
      emit_text(std::move(text), pos);
      size_t q = p + 2 + (sign ? 1 : 0);
      if (kind == '#') {
        const size_t end = src_.find("#}", q);
        if (end == std::string_view::npos) syntax_error(pos_info_, p, "unclosed comment");
        const bool strip = end > q && src_[end - 1] == '-';
        pos = finish_tag(end + 2, strip, true, false);
      } else {
        const bool block = kind == '%';
        tokens_.push_back({block ? Tok::kBlockBegin : Tok::kVarBegin, "", p});
        bool strip = false;
        bool keep = false;
        const size_t end = lex_inside(q, block, p, strip, keep);
        tokens_.push_back({block ? Tok::kBlockEnd : Tok::kVarEnd, "", end});
        pos = finish_tag(end + (strip || keep ? 3 : 2), strip, block, keep);
      }
      line_starting = pos > 0 && src_[pos - 1] == '\n';
    }
    tokens_.push_back({Tok::kEof, "", src_.size()});
    return std::move(tokens_);
  }

 private:
  void emit_text(std::string text, size_t offset) {
    if (!text.empty()) tokens_.push_back({Tok::kText, std::move(text), offset});
  }

  size_t finish_tag(size_t pos, bool strip, bool trim, bool keep) {
    if (strip) {
      while (pos < src_.size() && is_space(src_[pos])) ++pos;
    } else if (trim && !keep && pos < src_.size() && src_[pos] == '\n') {
      ++pos;
    }
    return pos;
  }

  // Lexes expression tokens from q up to the closing delimiter; returns the offset of the
  // closing delimiter (its sign included).
  size_t lex_inside(size_t q, bool block, size_t tag_start, bool& strip, bool& keep) {
    int depth = 0;  // open brackets: `}}` inside {{ {'a': {'b': 1}} }} does not end the tag
    while (true) {
      while (q < src_.size() && is_space(src_[q])) ++q;
      if (q >= src_.size()) {
        syntax_error(pos_info_, tag_start,
                     block ? "unclosed block tag '{%'" : "unclosed variable tag '{{'");
      }
      const std::string_view rest = src_.substr(q);
      if (block) {
        if (rest.starts_with("-%}")) {
          strip = true;
          return q;
        }
        if (rest.starts_with("+%}")) {
          keep = true;
          return q;
        }
        if (rest.starts_with("%}")) return q;
      } else if (depth == 0) {
        if (rest.starts_with("-}}")) {
          strip = true;
          return q;
        }
        if (rest.starts_with("}}")) return q;
      }
      const char c = src_[q];
      if (c == '\'' || c == '"') {
        q = lex_string(q);
        continue;
      }
      if (is_digit(c)) {
        q = lex_number(q);
        continue;
      }
      if (is_name_start(c)) {
        size_t e = q;
        while (e < src_.size() && (is_name_start(src_[e]) || is_digit(src_[e]))) ++e;
        tokens_.push_back({Tok::kName, std::string(src_.substr(q, e - q)), q});
        q = e;
        continue;
      }
      static const char* kTwo[] = {"**", "//", "==", "!=", "<=", ">="};
      bool matched = false;
      for (const char* op : kTwo) {
        if (rest.starts_with(op)) {
          tokens_.push_back({Tok::kOp, op, q});
          q += 2;
          matched = true;
          break;
        }
      }
      if (matched) continue;
      if (std::string_view("+-*/%~()[]{},.:|=<>").find(c) != std::string_view::npos) {
        if (c == '(' || c == '[' || c == '{') ++depth;
        if ((c == ')' || c == ']' || c == '}') && depth > 0) --depth;
        tokens_.push_back({Tok::kOp, std::string(1, c), q});
        ++q;
        continue;
      }
      syntax_error(pos_info_, q, std::string("unexpected character '") + c + "'");
    }
  }

  size_t lex_string(size_t q) {
    const char quote = src_[q];
    const size_t start = q;
    ++q;
    std::string value;
    while (true) {
      if (q >= src_.size()) syntax_error(pos_info_, start, "unterminated string");
      const char c = src_[q];
      if (c == quote) {
        ++q;
        break;
      }
      if (c != '\\') {
        value.push_back(c);
        ++q;
        continue;
      }
      if (q + 1 >= src_.size()) syntax_error(pos_info_, start, "unterminated string");
      const char e = src_[q + 1];
      q += 2;
      // Python's unicode-escape decoding (ref: jinja2 lexer, string literals).
      switch (e) {
        case 'n':
          value.push_back('\n');
          break;
        case 't':
          value.push_back('\t');
          break;
        case 'r':
          value.push_back('\r');
          break;
        case 'b':
          value.push_back('\b');
          break;
        case 'f':
          value.push_back('\f');
          break;
        case 'v':
          value.push_back('\v');
          break;
        case 'a':
          value.push_back('\a');
          break;
        case '\\':
          value.push_back('\\');
          break;
        case '\'':
          value.push_back('\'');
          break;
        case '"':
          value.push_back('"');
          break;
        case '\n':
          break;  // line continuation
        case 'x':
        case 'u':
        case 'U': {
          const int n = e == 'x' ? 2 : (e == 'u' ? 4 : 8);
          if (q + static_cast<size_t>(n) > src_.size()) {
            syntax_error(pos_info_, q, "truncated escape in string");
          }
          uint32_t cp = 0;
          auto res = std::from_chars(src_.data() + q, src_.data() + q + n, cp, 16);
          if (res.ptr != src_.data() + q + n || cp > 0x10FFFF) {
            syntax_error(pos_info_, q, "bad escape in string");
          }
          append_utf8(value, cp);
          q += static_cast<size_t>(n);
          break;
        }
        default:
          if (e >= '0' && e <= '7') {
            uint32_t cp = static_cast<uint32_t>(e - '0');
            for (int k = 0; k < 2 && q < src_.size() && src_[q] >= '0' && src_[q] <= '7'; ++k) {
              cp = cp * 8 + static_cast<uint32_t>(src_[q++] - '0');
            }
            append_utf8(value, cp);
          } else {
            value.push_back('\\');
            value.push_back(e);
          }
      }
    }
    // Adjacent string literals are joined by the parser; keep each token separate here.
    tokens_.push_back({Tok::kString, std::move(value), start});
    return q;
  }

  size_t lex_number(size_t q) {
    const size_t start = q;
    auto digits = [&] {
      while (q < src_.size() && (is_digit(src_[q]) || (src_[q] == '_' && q + 1 < src_.size() &&
                                                       is_digit(src_[q + 1])))) {
        ++q;
      }
    };
    digits();
    bool is_float = false;
    if (q + 1 < src_.size() && src_[q] == '.' && is_digit(src_[q + 1]) &&
        !(start > 0 && src_[start - 1] == '.')) {
      is_float = true;
      ++q;
      digits();
    }
    if (q < src_.size() && (src_[q] == 'e' || src_[q] == 'E')) {
      size_t e = q + 1;
      if (e < src_.size() && (src_[e] == '+' || src_[e] == '-')) ++e;
      if (e < src_.size() && is_digit(src_[e])) {
        is_float = true;
        q = e;
        digits();
      }
    }
    std::string spelling;
    for (size_t i = start; i < q; ++i) {
      if (src_[i] != '_') spelling.push_back(src_[i]);
    }
    tokens_.push_back({is_float ? Tok::kFloat : Tok::kInt, std::move(spelling), start});
    return q;
  }

  std::string_view src_;
  const Positions& pos_info_;
  std::vector<Token> tokens_;
};

}  // namespace

std::vector<Token> tokenize_template(std::string_view src, const Positions& pos) {
  return Lexer(src, pos).run();
}

}  // namespace infera::chat
