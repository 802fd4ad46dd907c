#include "engine/chat_prompt.h"

#include <string_view>

namespace infera {
namespace {

std::string_view trim(std::string_view s) {
  const auto first = s.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return {};
  const auto last = s.find_last_not_of(" \t\r\n");
  return s.substr(first, last - first + 1);
}

struct Span {
  size_t begin, end;
};

}  // namespace

std::vector<int32_t> tokenize_chat_prompt(const Tokenizer& tokenizer, const std::string& rendered,
                                          const std::vector<ChatMessage>& messages, bool add_bos) {
  std::vector<Span> contents;
  size_t from = 0;
  for (const ChatMessage& m : messages) {
    for (std::string_view text : {std::string_view(m.content), trim(m.content)}) {
      if (text.empty()) break;
      const size_t at = rendered.find(text, from);
      if (at != std::string::npos) {
        contents.push_back({at, at + text.size()});
        from = at + text.size();
        break;
      }
    }
  }
  std::vector<int32_t> ids;
  if (add_bos && tokenizer.bos() >= 0) ids.push_back(tokenizer.bos());
  auto append = [&](size_t begin, size_t end, bool parse_special) {
    if (begin >= end) return;
    const auto part = tokenizer.encode(std::string_view(rendered).substr(begin, end - begin), false,
                                       parse_special);
    ids.insert(ids.end(), part.begin(), part.end());
  };
  size_t pos = 0;
  for (const Span& s : contents) {
    append(pos, s.begin, /*parse_special=*/true);
    append(s.begin, s.end, /*parse_special=*/false);
    pos = s.end;
  }
  append(pos, rendered.size(), /*parse_special=*/true);
  return ids;
}

std::vector<int32_t> render_chat_prompt(const Tokenizer& tokenizer,
                                        const ChatTemplate& chat_template,
                                        const std::vector<ChatMessage>& messages) {
  ChatTemplateInputs in;
  in.messages = messages;
  in.add_generation_prompt = true;
  if (tokenizer.bos() >= 0) in.bos_token = tokenizer.token_text(tokenizer.bos());
  if (tokenizer.eos() >= 0) in.eos_token = tokenizer.token_text(tokenizer.eos());
  const std::string text = chat_template.render(in);
  const bool writes_bos =
      !in.bos_token.empty() && text.compare(0, in.bos_token.size(), in.bos_token) == 0;
  return tokenize_chat_prompt(tokenizer, text, messages, tokenizer.add_bos() && !writes_bos);
}

}  // namespace infera
