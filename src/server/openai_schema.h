#pragma once
// The OpenAI request bodies as native structs, and the JSON of responses and errors. Routes parse
// a body here at once and never touch JSON again; everything a client controls is checked here.
// ref: https://platform.openai.com/docs/api-reference/chat/create
//      https://platform.openai.com/docs/api-reference/completions/create
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "chat/chat_template.h"
#include "core/error.h"
#include "sample/sampler.h"

namespace infera::server {

// An error as OpenAI reports it: HTTP status and {"error":{"message","type","param","code"}}.
// param and code are JSON null when empty.
struct ApiError {
  int status = 400;
  std::string message;
  std::string type = "invalid_request_error";
  std::string param;
  std::string code;
};
std::string error_body(const ApiError& e);

// Thrown by the parsers (and by routes for checks that need the model): carries the ApiError.
class RequestError : public Error {
 public:
  explicit RequestError(ApiError e) : Error(ErrorKind::kInvalidArgument, e.message), api_(e) {}
  const ApiError& api() const { return api_; }

 private:
  ApiError api_;
};

// Limits on what one request may ask for.
constexpr int kMaxChoices = 8;             // n
constexpr int kMaxTopLogprobs = 20;        // chat's top_logprobs
constexpr int kMaxCompletionLogprobs = 5;  // the legacy completions' logprobs

// Fields shared by /v1/chat/completions and /v1/completions.
struct GenerationFields {
  std::string model;                  // as sent; informational (one model is served)
  std::optional<int64_t> max_tokens;  // max_completion_tokens wins over max_tokens
  SamplingParams sampling;            // OpenAI's defaults: temperature 1, top_p 1, no top-k/min-p
  std::vector<std::string> stop;      // at most 4, none empty
  int n = 1;                          // choices, each an independent sequence
  int top_logprobs = -1;  // -1: no logprobs; else alternatives per token (chat: top_logprobs)
  bool stream = false;
  bool include_usage = false;  // stream_options.include_usage
  std::string user;
};

struct ChatCompletionRequest {
  std::vector<ChatMessage> messages;
  GenerationFields gen;
};

struct CompletionRequest {
  // Either text or (when the prompt was an array of token ids) tokens.
  std::string prompt;
  std::vector<int32_t> prompt_tokens;
  bool prompt_is_tokens = false;
  GenerationFields gen;
};

struct TokenizeRequest {
  std::string content;
  bool add_special = false;  // add BOS where the vocabulary asks for it
  bool parse_special = true;
};

struct DetokenizeRequest {
  std::vector<int32_t> tokens;
};

// Each throws RequestError (status 400, param naming the field) for a body that is not JSON, not
// an object, or has a field of the wrong type or out of range. Unknown fields are ignored.
ChatCompletionRequest parse_chat_completion_request(std::string_view body);
CompletionRequest parse_completion_request(std::string_view body);
TokenizeRequest parse_tokenize_request(std::string_view body);
DetokenizeRequest parse_detokenize_request(std::string_view body);

enum class FinishReason { kStop, kLength };
std::string_view finish_reason_name(FinishReason r);

struct Usage {
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
};

// What the response builders need to know about the request.
struct ResponseHeader {
  std::string id;  // "chatcmpl-…" or "cmpl-…"
  int64_t created = 0;
  std::string model;
};

// A generated token's log-probability as responses show it: the token's text (raw bytes of its
// piece, which may be part of a UTF-8 character) and the alternatives at its position.
struct LogprobAlternative {
  std::string token;
  float logprob = 0;
};
struct LogprobInfo {
  std::string token;
  float logprob = 0;
  std::vector<LogprobAlternative> top;
};

struct Choice {
  std::string text;
  FinishReason finish = FinishReason::kStop;
  std::optional<std::vector<LogprobInfo>> logprobs;  // set when the request asked for them
};

// Full (non-stream) responses; choices in index order.
std::string chat_completion_json(const ResponseHeader& h, const std::vector<Choice>& choices,
                                 const Usage& usage);
std::string completion_json(const ResponseHeader& h, const std::vector<Choice>& choices,
                            const Usage& usage);

// Stream chunks (the JSON after "data: ") of choice `index`. with_usage_null adds "usage": null,
// as OpenAI does on every chunk but the last when stream_options.include_usage is set. logprobs:
// nullptr when not asked. text_offset: bytes of the choice's text sent before this chunk.
std::string chat_chunk_role(const ResponseHeader& h, int index, bool with_usage_null);
std::string chat_chunk_content(const ResponseHeader& h, int index, const std::string& text,
                               const std::vector<LogprobInfo>* logprobs, bool with_usage_null);
std::string chat_chunk_finish(const ResponseHeader& h, int index, FinishReason finish,
                              bool with_usage_null);
std::string chat_chunk_usage(const ResponseHeader& h, const Usage& usage);
std::string completion_chunk_text(const ResponseHeader& h, int index, const std::string& text,
                                  const std::vector<LogprobInfo>* logprobs, int64_t text_offset,
                                  std::optional<FinishReason> finish, bool with_usage_null);
std::string completion_chunk_usage(const ResponseHeader& h, const Usage& usage);

std::string models_json(const std::string& model, int64_t created);
std::string tokens_json(const std::vector<int32_t>& tokens);
std::string content_json(const std::string& content);

}  // namespace infera::server
