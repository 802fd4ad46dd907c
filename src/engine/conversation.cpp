#include "engine/conversation.h"

#include <algorithm>

#include "core/error.h"
#include "engine/chat_prompt.h"

namespace infera {

Conversation::Conversation(const Model& model, const Tokenizer& tokenizer,
                           ChatTemplate chat_template, const SamplingParams& sampling,
                           int64_t n_ctx, ThreadPool& pool)
    : model_(model),
      tokenizer_(tokenizer),
      template_(std::move(chat_template)),
      sampling_(sampling),
      session_(model, n_ctx, pool) {}

void Conversation::set_system_prompt(std::string text) {
  messages_.erase(std::remove_if(messages_.begin(), messages_.end(),
                                 [](const ChatMessage& m) { return m.role == "system"; }),
                  messages_.end());
  if (!text.empty())
    messages_.insert(messages_.begin(), ChatMessage{"system", std::move(text), {}, {}, {}});
}

std::vector<int32_t> Conversation::render_prompt() const {
  return render_chat_prompt(tokenizer_, template_, messages_);
}

GenerationStats Conversation::reply(const std::string& user_text, int64_t max_tokens,
                                    const TextSink& sink) {
  messages_.push_back(ChatMessage{"user", user_text, {}, {}, {}});
  std::vector<int32_t> prompt;
  try {
    prompt = render_prompt();
  } catch (...) {
    messages_.pop_back();
    throw;
  }
  if (static_cast<int64_t>(prompt.size()) >= session_.n_ctx()) {
    messages_.pop_back();
    throw Error(ErrorKind::kInvalidArgument, "the conversation (" + std::to_string(prompt.size()) +
                                                 " tokens) no longer fits the context of " +
                                                 std::to_string(session_.n_ctx()) + " tokens");
  }
  // Reuse the cached prefix; at least one token is evaluated so that there are logits to sample.
  size_t common = 0;
  const size_t limit = std::min(cached_.size(), prompt.size() - 1);
  while (common < limit && cached_[common] == prompt[common]) ++common;
  session_.truncate(static_cast<int64_t>(common));
  cached_.resize(common);
  reused_tokens_ = static_cast<int64_t>(common);

  Sampler sampler(sampling_, static_cast<int32_t>(model_.config().n_vocab));
  for (size_t i = 0; i < common; ++i) sampler.accept(prompt[i]);
  const std::span<const int32_t> fresh(prompt.data() + common, prompt.size() - common);
  GenerationStats st = generate(session_, tokenizer_, sampler, fresh, max_tokens, sink);

  cached_.insert(cached_.end(), fresh.begin(), fresh.end());
  // The last sampled token was never evaluated: the cache holds all but it.
  const size_t evaluated =
      st.tokens.empty() ? 0 : st.tokens.size() - (st.stop == StopReason::kEndOfGeneration ? 0 : 1);
  cached_.insert(cached_.end(), st.tokens.begin(),
                 st.tokens.begin() + static_cast<std::ptrdiff_t>(evaluated));
  session_.truncate(static_cast<int64_t>(cached_.size()));
  messages_.push_back(ChatMessage{"assistant", tokenizer_.decode(st.tokens), {}, {}, {}});
  return st;
}

}  // namespace infera
