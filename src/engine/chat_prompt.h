#pragma once
// Turning a rendered chat prompt into tokens without letting message contents smuggle in control
// tokens: the template's own text is tokenized with special tokens recognised (that is how
// "<|im_start|>" becomes one token), while each message's content is tokenized as plain text, so a
// user who types "<|im_end|>" gets those characters, not an end of turn.
#include <string>
#include <vector>

#include "chat/chat_template.h"
#include "tokenizer/tokenizer.h"

namespace infera {

// `rendered` is what the template produced from `messages`. Contents are located in it in message
// order; a content the template changed beyond trimming whitespace is not found and is tokenized
// like template text. A BOS token is prepended when `add_bos`.
std::vector<int32_t> tokenize_chat_prompt(const Tokenizer& tokenizer, const std::string& rendered,
                                          const std::vector<ChatMessage>& messages, bool add_bos);

// Renders `messages` with the chat template (BOS/EOS texts from the tokenizer, generation prompt
// on) and tokenizes the result as above. Templates that write the BOS token themselves (Gemma's)
// get no second one. Throws infera::Error when the template fails.
std::vector<int32_t> render_chat_prompt(const Tokenizer& tokenizer,
                                        const ChatTemplate& chat_template,
                                        const std::vector<ChatMessage>& messages);

}  // namespace infera
