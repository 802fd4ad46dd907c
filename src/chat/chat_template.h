#pragma once
// Chat templates: the Jinja programs shipped with models (GGUF `tokenizer.chat_template`) that
// turn a conversation into the prompt text. infera renders them the way Hugging Face
// transformers' apply_chat_template does (jinja2 ImmutableSandboxedEnvironment with
// trim_blocks, lstrip_blocks and loop controls; its tojson, raise_exception, strftime_now), so a
// prompt is byte-identical to the Python reference. tests/data/chat/ holds golden renders of
// real templates, written by tools/gen_chat_template_golden.py.
//
// What the templates see: `messages` (a list of dicts: role, content, and name, tool_call_id,
// tool_calls when set), `tools` (the parsed tools_json list, or None), `documents` (None),
// `add_generation_prompt`, `bos_token`, `eos_token`, `date_string` when given, and every key of
// extra_context_json (e.g. {"enable_thinking": false}).
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace infera {

namespace gguf {
class GgufFile;
}
namespace chat {
struct Program;
}

struct ChatMessage {
  std::string role;
  std::string content;
  // Optional (omitted from the message dict when empty):
  std::string tool_call_id;
  std::string name;
  std::string tool_calls_json;  // JSON array text, OpenAI shape: [{"id", "type", "function"}]
};

struct ChatTemplateInputs {
  std::vector<ChatMessage> messages;
  bool add_generation_prompt = true;
  std::string bos_token, eos_token;
  std::string tools_json;          // JSON array text, or empty for `tools = None`
  std::string date_string;         // when non-empty, the `date_string` variable (Llama 3.x)
  std::string extra_context_json;  // JSON object whose keys become variables, or empty
  int64_t now_unix_seconds = -1;   // strftime_now's clock (local time); < 0: now
};

class ChatTemplate {
 public:
  // Throws infera::Error (kInvalidArgument) "chat template syntax error at L:C: ..." on a
  // malformed template.
  static ChatTemplate parse(std::string_view source);

  // Throws infera::Error (kInvalidArgument) on template errors: unknown filter or test, wrong
  // types, undefined values used as objects, raise_exception(msg) (msg is in the message), or a
  // render past the output / step / nesting limits. Bad JSON in the inputs is an error too.
  std::string render(const ChatTemplateInputs& in) const;

  const std::string& source() const { return source_; }

 private:
  std::shared_ptr<const chat::Program> program_;
  std::string source_;
};

// The model's template: `tokenizer.chat_template` from the GGUF, or ChatML with is_fallback set
// when the file has none (callers should warn).
struct ModelChatTemplate {
  ChatTemplate tmpl;
  bool is_fallback;
};
ModelChatTemplate chat_template_for(const gguf::GgufFile& file);

// The ChatML template used when a model has none.
extern const char* const kChatMlTemplate;

}  // namespace infera
