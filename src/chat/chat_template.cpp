#include "chat/chat_template.h"

#include "chat/template_ast.h"
#include "chat/template_eval.h"
#include "chat/value.h"
#include "core/error.h"
#include "gguf/gguf_file.h"

namespace infera {

const char* const kChatMlTemplate =
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + "
    "message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}"
    "{{ '<|im_start|>assistant\\n' }}{% endif %}";

namespace {

chat::Value parse_input_json(const std::string& text, const char* what) {
  try {
    return chat::parse_json(text);
  } catch (const Error& e) {
    throw Error(ErrorKind::kInvalidArgument, std::string(what) + ": " + e.what());
  }
}

chat::Value message_value(const ChatMessage& m) {
  chat::Object obj;
  obj.items.emplace_back("role", chat::Value::string(m.role));
  obj.items.emplace_back("content", chat::Value::string(m.content));
  if (!m.name.empty()) obj.items.emplace_back("name", chat::Value::string(m.name));
  if (!m.tool_call_id.empty()) {
    obj.items.emplace_back("tool_call_id", chat::Value::string(m.tool_call_id));
  }
  if (!m.tool_calls_json.empty()) {
    obj.items.emplace_back("tool_calls", parse_input_json(m.tool_calls_json, "tool_calls"));
  }
  return chat::Value::object(std::move(obj));
}

}  // namespace

ChatTemplate ChatTemplate::parse(std::string_view source) {
  ChatTemplate t;
  t.program_ = chat::parse_template(source);
  t.source_ = std::string(source);
  return t;
}

std::string ChatTemplate::render(const ChatTemplateInputs& in) const {
  chat::Object context;
  chat::Array messages;
  messages.reserve(in.messages.size());
  for (const ChatMessage& m : in.messages) messages.push_back(message_value(m));
  context.set("messages", chat::Value::array(std::move(messages)));
  context.set("tools", in.tools_json.empty() ? chat::Value::none()
                                             : parse_input_json(in.tools_json, "tools"));
  context.set("documents", chat::Value::none());
  context.set("add_generation_prompt", chat::Value::boolean(in.add_generation_prompt));
  context.set("bos_token", chat::Value::string(in.bos_token));
  context.set("eos_token", chat::Value::string(in.eos_token));
  if (!in.date_string.empty()) context.set("date_string", chat::Value::string(in.date_string));
  if (!in.extra_context_json.empty()) {
    const chat::Value extra = parse_input_json(in.extra_context_json, "extra context");
    if (!extra.is_object()) {
      throw Error(ErrorKind::kInvalidArgument, "extra context: expected a JSON object");
    }
    for (const auto& [k, v] : extra.as_object().items) context.set(k, v);
  }
  chat::RenderOptions options;
  options.now_unix_seconds = in.now_unix_seconds;
  if (!program_) throw Error(ErrorKind::kInvalidArgument, "chat template: not parsed");
  return chat::render_program(*program_, context, options);
}

ModelChatTemplate chat_template_for(const gguf::GgufFile& file) {
  if (auto source = file.get_string("tokenizer.chat_template"); source && !source->empty()) {
    return {ChatTemplate::parse(*source), false};
  }
  return {ChatTemplate::parse(kChatMlTemplate), true};
}

}  // namespace infera
