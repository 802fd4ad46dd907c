#pragma once
// Tokens of a chat template, internal to src/chat/: the template is cut into text and tags with
// jinja2's whitespace rules (see template_parser.cpp), and each tag into expression tokens.
#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace infera::chat {

enum class Tok {
  kText,
  kVarBegin,
  kVarEnd,
  kBlockBegin,
  kBlockEnd,
  kName,
  kString,
  kInt,
  kFloat,
  kOp,
  kEof
};

struct Token {
  Tok type = Tok::kEof;
  std::string text;  // text, name, string value, operator, or number spelling
  size_t offset = 0;
};

// Line and column (1-based) of a byte offset, for error messages.
class Positions {
 public:
  explicit Positions(std::string_view src) {
    line_starts_.push_back(0);
    for (size_t i = 0; i < src.size(); ++i) {
      if (src[i] == '\n') line_starts_.push_back(i + 1);
    }
  }
  std::pair<int, int> at(size_t offset) const {
    size_t lo = 0;
    size_t hi = line_starts_.size();
    while (hi - lo > 1) {
      const size_t mid = (lo + hi) / 2;
      if (line_starts_[mid] <= offset) {
        lo = mid;
      } else {
        hi = mid;
      }
    }
    return {static_cast<int>(lo + 1), static_cast<int>(offset - line_starts_[lo] + 1)};
  }

 private:
  std::vector<size_t> line_starts_;
};

// Throws infera::Error (kInvalidArgument) "chat template syntax error at L:C: what".
[[noreturn]] void syntax_error(const Positions& pos, size_t offset, const std::string& what);

// Cuts `src` (newlines already normalised) into tokens, ending with kEof.
std::vector<Token> tokenize_template(std::string_view src, const Positions& pos);

}  // namespace infera::chat
