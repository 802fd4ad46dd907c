#pragma once
// A multi-turn chat with one model: the messages so far, rendered with the model's chat template,
// and one Session whose KV cache is reused across turns — each turn evaluates only the tokens
// after the longest prefix it shares with what the cache already holds.
#include <memory>
#include <string>
#include <vector>

#include "chat/chat_template.h"
#include "engine/generate.h"

namespace infera {

class Conversation {
 public:
  Conversation(const Model& model, const Tokenizer& tokenizer, ChatTemplate chat_template,
               const SamplingParams& sampling, int64_t n_ctx, ThreadPool& pool);

  void set_system_prompt(std::string text);
  // Appends a message to the history without generating (earlier turns of a restored chat).
  void add_message(ChatMessage message) { messages_.push_back(std::move(message)); }
  // Adds the user's message, streams the assistant's answer to `sink`, and records the answer
  // (what was produced before a stop or cancel) as the assistant's message.
  // Throws infera::Error when the conversation no longer fits the context.
  GenerationStats reply(const std::string& user_text, int64_t max_tokens, const TextSink& sink);

  const std::vector<ChatMessage>& messages() const { return messages_; }
  // Tokens of the last prompt that were already in the KV cache (not evaluated again).
  int64_t reused_tokens() const { return reused_tokens_; }

 private:
  std::vector<int32_t> render_prompt() const;

  const Model& model_;
  const Tokenizer& tokenizer_;
  ChatTemplate template_;
  SamplingParams sampling_;
  Session session_;
  std::vector<ChatMessage> messages_;
  std::vector<int32_t> cached_;  // the tokens the session's KV cache holds, in order
  int64_t reused_tokens_ = 0;
};

}  // namespace infera
