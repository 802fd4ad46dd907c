// The OpenAI request parsers: good bodies become the right structs, and malformed ones become a
// 400 naming the field, never a crash.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "server/openai_schema.h"

namespace infera::server {
namespace {

using json = nlohmann::json;

struct BadCase {
  std::string body;
  std::string param;  // "" = param null
};

template <typename Parse>
void expect_all_rejected(const std::vector<BadCase>& cases, Parse parse) {
  for (const BadCase& c : cases) {
    try {
      parse(c.body);
      ADD_FAILURE() << "accepted: " << c.body;
    } catch (const RequestError& e) {
      EXPECT_EQ(e.api().status, 400) << c.body;
      EXPECT_EQ(e.api().param, c.param) << c.body;
      EXPECT_EQ(e.api().type, "invalid_request_error") << c.body;
      EXPECT_FALSE(e.api().message.empty()) << c.body;
    }
  }
}

const std::string kMsgs = R"("messages":[{"role":"user","content":"Hi"}])";

// A chat body with one extra field.
std::string chat_with(const std::string& field) { return "{" + kMsgs + "," + field + "}"; }
std::string completion_with(const std::string& field) {
  return R"({"prompt":"Hello",)" + field + "}";
}

// Malformed values of the fields both endpoints share: (field text, param).
std::vector<std::pair<std::string, std::string>> shared_bad_fields() {
  return {
      {R"("model":5)", "model"},
      {R"("max_tokens":"10")", "max_tokens"},
      {R"("max_tokens":0)", "max_tokens"},
      {R"("max_tokens":-3)", "max_tokens"},
      {R"("max_tokens":1.5)", "max_tokens"},
      {R"("max_tokens":18446744073709551615)", "max_tokens"},
      {R"("max_completion_tokens":true)", "max_completion_tokens"},
      {R"("max_completion_tokens":0)", "max_completion_tokens"},
      {R"("temperature":"hot")", "temperature"},
      {R"("temperature":-0.1)", "temperature"},
      {R"("temperature":2.5)", "temperature"},
      {R"("temperature":[1])", "temperature"},
      {R"("top_p":0)", "top_p"},
      {R"("top_p":1.5)", "top_p"},
      {R"("top_p":"x")", "top_p"},
      {R"("top_k":-1)", "top_k"},
      {R"("top_k":2.5)", "top_k"},
      {R"("top_k":"4")", "top_k"},
      {R"("min_p":-0.5)", "min_p"},
      {R"("min_p":1.01)", "min_p"},
      {R"("presence_penalty":3)", "presence_penalty"},
      {R"("presence_penalty":-2.01)", "presence_penalty"},
      {R"("frequency_penalty":"1")", "frequency_penalty"},
      {R"("frequency_penalty":2.5)", "frequency_penalty"},
      {R"("repetition_penalty":0)", "repetition_penalty"},
      {R"("repetition_penalty":-1)", "repetition_penalty"},
      {R"("repetition_penalty":11)", "repetition_penalty"},
      {R"("seed":"7")", "seed"},
      {R"("seed":1.25)", "seed"},
      {R"("stop":5)", "stop"},
      {R"("stop":[1,2])", "stop"},
      {R"("stop":["a","b","c","d","e"])", "stop"},
      {R"("stop":"")", "stop"},
      {R"("stop":["ok",""])", "stop"},
      {R"("stop":{"a":1})", "stop"},
      {R"("n":9)", "n"},
      {R"("n":0)", "n"},
      {R"("n":-1)", "n"},
      {R"("n":"1")", "n"},
      {R"("stream":"yes")", "stream"},
      {R"("stream":1)", "stream"},
      {R"("stream":true,"stream_options":[])", "stream_options"},
      {R"("stream_options":{"include_usage":true})", "stream_options"},
      {R"("stream":true,"stream_options":{"include_usage":"y"})", "stream_options.include_usage"},
      {R"("user":42)", "user"},
      {R"("logprobs":"no")", "logprobs"},
  };
}

TEST(ServerSchema, ChatCompletionParsesFields) {
  const ChatCompletionRequest r = parse_chat_completion_request(R"({
    "model": "m", "messages": [
      {"role": "system", "content": "You are helpful."},
      {"role": "user", "content": [{"type": "text", "text": "Hello "}, {"type": "text", "text": "there"}]},
      {"role": "assistant", "content": null, "tool_calls": [{"id": "c1", "type": "function",
        "function": {"name": "f", "arguments": "{}"}}]},
      {"role": "tool", "tool_call_id": "c1", "content": "42"},
      {"role": "developer", "content": "Be brief."}],
    "max_tokens": 10, "max_completion_tokens": 20, "temperature": 0, "top_p": 0.5, "top_k": 3,
    "min_p": 0.1, "presence_penalty": 1, "frequency_penalty": -1, "repetition_penalty": 1.1,
    "seed": -1, "stop": ["\n", "END"], "n": 1, "stream": true,
    "stream_options": {"include_usage": true}, "user": "u", "unknown_field": {"x": [1, 2]}})");
  ASSERT_EQ(r.messages.size(), 5u);
  EXPECT_EQ(r.messages[0].role, "system");
  EXPECT_EQ(r.messages[1].content, "Hello there");
  EXPECT_EQ(r.messages[2].content, "");
  EXPECT_EQ(json::parse(r.messages[2].tool_calls_json)[0]["id"], "c1");
  EXPECT_EQ(r.messages[3].tool_call_id, "c1");
  EXPECT_EQ(r.messages[4].role, "system");
  EXPECT_EQ(r.gen.model, "m");
  EXPECT_EQ(r.gen.max_tokens, 20);
  EXPECT_EQ(r.gen.sampling.temperature, 0.0f);
  EXPECT_EQ(r.gen.sampling.top_p, 0.5f);
  EXPECT_EQ(r.gen.sampling.top_k, 3);
  EXPECT_FLOAT_EQ(r.gen.sampling.min_p, 0.1f);
  EXPECT_EQ(r.gen.sampling.presence_penalty, 1.0f);
  EXPECT_EQ(r.gen.sampling.frequency_penalty, -1.0f);
  EXPECT_FLOAT_EQ(r.gen.sampling.repeat_penalty, 1.1f);
  EXPECT_EQ(r.gen.sampling.seed, ~uint64_t{0});
  EXPECT_EQ(r.gen.stop, (std::vector<std::string>{"\n", "END"}));
  EXPECT_TRUE(r.gen.stream);
  EXPECT_TRUE(r.gen.include_usage);
  EXPECT_EQ(r.gen.user, "u");
  r.gen.sampling.validate();
}

TEST(ServerSchema, DefaultsAreOpenAIs) {
  const ChatCompletionRequest r = parse_chat_completion_request("{" + kMsgs + "}");
  EXPECT_FALSE(r.gen.max_tokens.has_value());
  EXPECT_EQ(r.gen.sampling.temperature, 1.0f);
  EXPECT_EQ(r.gen.sampling.top_p, 1.0f);
  EXPECT_EQ(r.gen.sampling.top_k, 0);
  EXPECT_EQ(r.gen.sampling.min_p, 0.0f);
  EXPECT_EQ(r.gen.sampling.seed, SamplingParams::kRandomSeed);
  EXPECT_FALSE(r.gen.stream);
  EXPECT_TRUE(r.gen.stop.empty());
  // JSON null counts as absent.
  const ChatCompletionRequest n =
      parse_chat_completion_request(chat_with(R"("temperature":null,"stop":null,"seed":null)"));
  EXPECT_EQ(n.gen.sampling.temperature, 1.0f);
  r.gen.sampling.validate();
}

TEST(ServerSchema, ChatRejectsMalformedBodies) {
  std::vector<BadCase> cases = {
      {"", ""},
      {"not json", ""},
      {"{", ""},
      {"[]", ""},
      {"42", ""},
      {R"("messages")", ""},
      {"{\"messages\":[{\"role\":\"user\",\"content\":\"\xff\"}]}", ""},  // invalid UTF-8
      {"{}", "messages"},
      {R"({"messages":null})", "messages"},
      {R"({"messages":"hi"})", "messages"},
      {R"({"messages":{}})", "messages"},
      {R"({"messages":[]})", "messages"},
      {R"({"messages":[5]})", "messages[0]"},
      {R"({"messages":[{"content":"x"}]})", "messages[0].role"},
      {R"({"messages":[{"role":3,"content":"x"}]})", "messages[0].role"},
      {R"({"messages":[{"role":"wizard","content":"x"}]})", "messages[0].role"},
      {R"({"messages":[{"role":"user"}]})", "messages[0].content"},
      {R"({"messages":[{"role":"user","content":null}]})", "messages[0].content"},
      {R"({"messages":[{"role":"user","content":7}]})", "messages[0].content"},
      {R"({"messages":[{"role":"user","content":{"text":"x"}}]})", "messages[0].content"},
      {R"({"messages":[{"role":"user","content":["x"]}]})", "messages[0].content[0]"},
      {R"({"messages":[{"role":"user","content":[{"text":"x"}]}]})", "messages[0].content[0].type"},
      {R"({"messages":[{"role":"user","content":[{"type":"image_url","image_url":{}}]}]})",
       "messages[0].content[0].type"},
      {R"({"messages":[{"role":"user","content":[{"type":"text"}]}]})",
       "messages[0].content[0].text"},
      {R"({"messages":[{"role":"user","content":[{"type":"text","text":1}]}]})",
       "messages[0].content[0].text"},
      {R"({"messages":[{"role":"user","content":"a"},{"role":"tool","content":"r"}]})",
       "messages[1].tool_call_id"},
      {R"({"messages":[{"role":"assistant","content":"a","tool_calls":{}}]})",
       "messages[0].tool_calls"},
      {R"({"messages":[{"role":"user","content":"a","name":5}]})", "messages[0].name"},
  };
  for (const auto& [field, param] : shared_bad_fields()) cases.push_back({chat_with(field), param});
  ASSERT_GE(cases.size(), 40u);
  expect_all_rejected(cases, [](const std::string& b) { parse_chat_completion_request(b); });
}

TEST(ServerSchema, CompletionParsesPromptForms) {
  EXPECT_EQ(parse_completion_request(R"({"prompt":"Hi"})").prompt, "Hi");
  EXPECT_EQ(parse_completion_request(R"({"prompt":["Hi"]})").prompt, "Hi");
  const CompletionRequest t = parse_completion_request(R"({"prompt":[1,2,3],"max_tokens":4})");
  EXPECT_TRUE(t.prompt_is_tokens);
  EXPECT_EQ(t.prompt_tokens, (std::vector<int32_t>{1, 2, 3}));
  EXPECT_EQ(t.gen.max_tokens, 4);
  EXPECT_NO_THROW(parse_completion_request(R"({"prompt":"x","echo":false,"best_of":1})"));
}

TEST(ServerSchema, CompletionRejectsMalformedBodies) {
  std::vector<BadCase> cases = {
      {"", ""},
      {"nope", ""},
      {"[1]", ""},
      {"\"text\"", ""},
      {"{}", "prompt"},
      {R"({"prompt":null})", "prompt"},
      {R"({"prompt":5})", "prompt"},
      {R"({"prompt":[]})", "prompt"},
      {R"({"prompt":["a","b"]})", "prompt"},
      {R"({"prompt":[1,"a"]})", "prompt"},
      {R"({"prompt":[-1]})", "prompt"},
      {R"({"prompt":[4294967296]})", "prompt"},
      {R"({"prompt":{"a":1}})", "prompt"},
      {R"({"prompt":[[1,2]]})", "prompt"},
      {R"({"prompt":"x","echo":true})", "echo"},
      {R"({"prompt":"x","echo":"no"})", "echo"},
      {R"({"prompt":"x","best_of":2})", "best_of"},
      {R"({"prompt":"x","suffix":"y"})", "suffix"},
      {R"({"prompt":"x","suffix":3})", "suffix"},
  };
  for (const auto& [field, param] : shared_bad_fields())
    cases.push_back({completion_with(field), param});
  ASSERT_GE(cases.size(), 40u);
  expect_all_rejected(cases, [](const std::string& b) { parse_completion_request(b); });
}

TEST(ServerSchema, TokenizeAndDetokenize) {
  const TokenizeRequest t = parse_tokenize_request(R"({"content":"hi","add_special":true})");
  EXPECT_EQ(t.content, "hi");
  EXPECT_TRUE(t.add_special);
  EXPECT_EQ(parse_detokenize_request(R"({"tokens":[1,2]})").tokens, (std::vector<int32_t>{1, 2}));
  expect_all_rejected(std::vector<BadCase>{{"{}", "content"},
                                           {R"({"content":1})", "content"},
                                           {R"({"content":"a","add_special":1})", "add_special"},
                                           {"x", ""}},
                      [](const std::string& b) { parse_tokenize_request(b); });
  expect_all_rejected(std::vector<BadCase>{{"{}", "tokens"},
                                           {R"({"tokens":"1"})", "tokens"},
                                           {R"({"tokens":[1.5]})", "tokens"},
                                           {R"({"tokens":[-2]})", "tokens"}},
                      [](const std::string& b) { parse_detokenize_request(b); });
}

TEST(ServerSchema, ErrorBodyHasOpenAIShape) {
  ApiError e;
  e.message = "bad \"n\"";
  e.param = "n";
  e.code = "invalid_value";
  EXPECT_EQ(error_body(e), R"({"error":{"code":"invalid_value","message":"bad \"n\"","param":"n",)"
                           R"("type":"invalid_request_error"}})");
  ApiError plain;
  plain.status = 401;
  plain.message = "no";
  const json j = json::parse(error_body(plain));
  EXPECT_TRUE(j["error"]["param"].is_null());
  EXPECT_TRUE(j["error"]["code"].is_null());
  // An error is thrown, not returned, by the parsers, with the same body shape.
  try {
    parse_chat_completion_request(chat_with(R"("n":30)"));
    FAIL();
  } catch (const RequestError& err) {
    const json b = json::parse(error_body(err.api()));
    EXPECT_EQ(b["error"]["param"], "n");
    EXPECT_EQ(b["error"]["type"], "invalid_request_error");
  }
}

TEST(ServerSchema, ResponsesHaveOpenAIShape) {
  const ResponseHeader h{"chatcmpl-1", 1700000000, "m"};
  const json full =
      json::parse(chat_completion_json(h, {{"Paris", FinishReason::kStop, {}}}, {7, 2}));
  EXPECT_EQ(full["object"], "chat.completion");
  EXPECT_EQ(full["choices"][0]["message"]["content"], "Paris");
  EXPECT_EQ(full["choices"][0]["message"]["role"], "assistant");
  EXPECT_EQ(full["choices"][0]["finish_reason"], "stop");
  EXPECT_TRUE(full["choices"][0]["logprobs"].is_null());
  EXPECT_EQ(full["usage"]["total_tokens"], 9);
  const json role = json::parse(chat_chunk_role(h, 0, true));
  EXPECT_EQ(role["object"], "chat.completion.chunk");
  EXPECT_EQ(role["choices"][0]["delta"]["role"], "assistant");
  EXPECT_TRUE(role["usage"].is_null());
  EXPECT_TRUE(role.contains("usage"));
  EXPECT_FALSE(json::parse(chat_chunk_content(h, 0, "x", nullptr, false)).contains("usage"));
  const json fin = json::parse(chat_chunk_finish(h, 2, FinishReason::kLength, false));
  EXPECT_EQ(fin["choices"][0]["finish_reason"], "length");
  EXPECT_EQ(fin["choices"][0]["index"], 2);
  EXPECT_TRUE(fin["choices"][0]["delta"].empty());
  const json usage = json::parse(chat_chunk_usage(h, {3, 4}));
  EXPECT_TRUE(usage["choices"].empty());
  EXPECT_EQ(usage["usage"]["completion_tokens"], 4);
  const json c = json::parse(completion_chunk_text(h, 0, "a", nullptr, 0, std::nullopt, false));
  EXPECT_EQ(c["object"], "text_completion");
  EXPECT_TRUE(c["choices"][0]["finish_reason"].is_null());
  EXPECT_EQ(json::parse(completion_json(h, {{"t", FinishReason::kLength, {}}},
                                        {1, 1}))["choices"][0]["text"],
            "t");
}

TEST(ServerSchema, RefusesDeepNestingAndEmptyContent) {
  const std::string deep = std::string(65, '[') + std::string(65, ']');
  EXPECT_THROW(parse_chat_completion_request(chat_with(R"("x":)" + deep)), RequestError);
  const std::string ok = std::string(60, '[') + std::string(60, ']');
  EXPECT_NO_THROW(parse_chat_completion_request(chat_with(R"("x":)" + ok)));
  try {
    parse_chat_completion_request(R"({"messages":[{"role":"user","content":[]}]})");
    FAIL();
  } catch (const RequestError& e) {
    EXPECT_EQ(e.api().param, "messages[0].content");
  }
}

TEST(ServerSchema, ChoicesAreIndexedInOrder) {
  const ResponseHeader h{"cmpl-1", 1700000000, "m"};
  const json j = json::parse(completion_json(
      h, {{"a", FinishReason::kStop, {}}, {"b", FinishReason::kLength, {}}}, {5, 3}));
  ASSERT_EQ(j["choices"].size(), 2u);
  EXPECT_EQ(j["choices"][1]["index"], 1);
  EXPECT_EQ(j["choices"][1]["text"], "b");
  EXPECT_EQ(j["choices"][1]["finish_reason"], "length");
}

TEST(ServerSchema, LogprobsParseAsEachApiDefinesThem) {
  EXPECT_EQ(parse_chat_completion_request(chat_with(R"("logprobs":true)")).gen.top_logprobs, 0);
  EXPECT_EQ(parse_chat_completion_request(chat_with(R"("logprobs":true,"top_logprobs":5)"))
                .gen.top_logprobs,
            5);
  EXPECT_EQ(parse_chat_completion_request(chat_with(R"("logprobs":false)")).gen.top_logprobs, -1);
  for (const char* bad_field : {R"("top_logprobs":3)", R"("logprobs":true,"top_logprobs":21)",
                                R"("logprobs":true,"top_logprobs":-1)"}) {
    try {
      parse_chat_completion_request(chat_with(bad_field));
      ADD_FAILURE() << bad_field;
    } catch (const RequestError& e) {
      EXPECT_EQ(e.api().param, "top_logprobs") << bad_field;
    }
  }
  EXPECT_EQ(parse_completion_request(R"({"prompt":"x","logprobs":3})").gen.top_logprobs, 3);
  EXPECT_EQ(parse_completion_request(R"({"prompt":"x","logprobs":null})").gen.top_logprobs, -1);
  for (const char* body : {R"({"prompt":"x","logprobs":6})", R"({"prompt":"x","logprobs":true})"}) {
    try {
      parse_completion_request(body);
      ADD_FAILURE() << body;
    } catch (const RequestError& e) {
      EXPECT_EQ(e.api().param, "logprobs") << body;
    }
  }
}

TEST(ServerSchema, LogprobsHaveOpenAIShape) {
  const ResponseHeader h{"chatcmpl-1", 1700000000, "m"};
  const std::vector<LogprobInfo> lps = {{"Hi", -0.25f, {{"Hi", -0.25f}, {"Hello", -1.5f}}},
                                        {"\xe2\x82", -0.5f, {}}};
  const json chat = json::parse(chat_chunk_content(h, 0, "Hi", &lps, false));
  const json& content = chat["choices"][0]["logprobs"]["content"];
  ASSERT_EQ(content.size(), 2u);
  EXPECT_EQ(content[0]["token"], "Hi");
  EXPECT_FLOAT_EQ(content[0]["logprob"].get<float>(), -0.25f);
  EXPECT_EQ(content[0]["bytes"], json::array({72, 105}));
  EXPECT_EQ(content[0]["top_logprobs"][1]["token"], "Hello");
  // Part of a UTF-8 character: the string is replaced, the bytes are exact.
  EXPECT_EQ(content[1]["bytes"], json::array({0xe2, 0x82}));
  const json legacy = json::parse(completion_chunk_text(h, 0, "Hi", &lps, 10, std::nullopt, false));
  const json& lp = legacy["choices"][0]["logprobs"];
  EXPECT_EQ(lp["tokens"][0], "Hi");
  EXPECT_EQ(lp["text_offset"], json::array({10, 12}));
  EXPECT_FLOAT_EQ(lp["top_logprobs"][0]["Hello"].get<float>(), -1.5f);
}

}  // namespace
}  // namespace infera::server
