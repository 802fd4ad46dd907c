#include "server/openai_schema.h"

#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>

namespace infera::server {
namespace {

using json = nlohmann::json;

[[noreturn]] void bad(const std::string& param, const std::string& message) {
  ApiError e;
  e.status = 400;
  e.message = message;
  e.param = param;
  e.code = param.empty() ? "" : "invalid_value";
  throw RequestError(e);
}

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

// Deeper JSON than any valid request needs; deeper values would make the recursive code that
// later walks them (dump, copies) overflow the stack.
constexpr int kMaxJsonDepth = 64;

json parse_object(std::string_view body) {
  const json::parser_callback_t limit_depth = [](int depth, json::parse_event_t, json&) {
    if (depth > kMaxJsonDepth) {
      bad("", "the request body nests deeper than " + std::to_string(kMaxJsonDepth) + " levels");
    }
    return true;
  };
  json j = json::parse(body.begin(), body.end(), limit_depth, /*allow_exceptions=*/false);
  if (j.is_discarded()) bad("", "the request body is not valid JSON");
  if (!j.is_object()) bad("", "the request body must be a JSON object");
  return j;
}

// Looks up an optional field; JSON null counts as absent.
const json* field(const json& obj, const char* name) {
  const auto it = obj.find(name);
  if (it == obj.end() || it->is_null()) return nullptr;
  return &*it;
}

double get_number(const json& v, const std::string& name) {
  if (!v.is_number()) bad(name, "'" + name + "' must be a number");
  return v.get<double>();
}

int64_t get_integer(const json& v, const std::string& name) {
  if (!v.is_number_integer()) bad(name, "'" + name + "' must be an integer");
  if (v.is_number_unsigned() &&
      v.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
    bad(name, "'" + name + "' is too large");
  return v.get<int64_t>();
}

double number_in(const json& obj, const char* name, double lo, double hi, double fallback) {
  const json* v = field(obj, name);
  if (!v) return fallback;
  const double x = get_number(*v, name);
  if (!(x >= lo && x <= hi)) {
    bad(name, "'" + std::string(name) + "' must be between " + json(lo).dump() + " and " +
                  json(hi).dump() + ", got " + v->dump());
  }
  return x;
}

bool get_bool(const json& obj, const char* name, bool fallback) {
  const json* v = field(obj, name);
  if (!v) return fallback;
  if (!v->is_boolean()) bad(name, "'" + std::string(name) + "' must be a boolean");
  return v->get<bool>();
}

std::string get_string(const json& obj, const char* name, const std::string& fallback) {
  const json* v = field(obj, name);
  if (!v) return fallback;
  if (!v->is_string()) bad(name, "'" + std::string(name) + "' must be a string");
  return v->get<std::string>();
}

GenerationFields parse_generation_fields(const json& j) {
  GenerationFields g;
  g.model = get_string(j, "model", "");

  for (const char* name : {"max_tokens", "max_completion_tokens"}) {
    if (const json* v = field(j, name)) {
      const int64_t n = get_integer(*v, name);
      if (n < 1) bad(name, "'" + std::string(name) + "' must be at least 1, got " + v->dump());
      g.max_tokens = n;  // max_completion_tokens comes second and wins
    }
  }

  SamplingParams& s = g.sampling;
  s.temperature = static_cast<float>(number_in(j, "temperature", 0.0, 2.0, 1.0));
  s.top_p = static_cast<float>(number_in(j, "top_p", 0.0, 1.0, 1.0));
  if (s.top_p <= 0.0f) bad("top_p", "'top_p' must be greater than 0");
  s.top_k = 0;
  if (const json* v = field(j, "top_k")) {
    const int64_t k = get_integer(*v, "top_k");
    if (k < 0 || k > std::numeric_limits<int32_t>::max())
      bad("top_k", "'top_k' must be a non-negative integer (0 = off), got " + v->dump());
    s.top_k = static_cast<int32_t>(k);
  }
  s.min_p = static_cast<float>(number_in(j, "min_p", 0.0, 1.0, 0.0));
  s.presence_penalty = static_cast<float>(number_in(j, "presence_penalty", -2.0, 2.0, 0.0));
  s.frequency_penalty = static_cast<float>(number_in(j, "frequency_penalty", -2.0, 2.0, 0.0));
  s.repeat_penalty = static_cast<float>(number_in(j, "repetition_penalty", 0.0, 10.0, 1.0));
  if (s.repeat_penalty <= 0.0f)
    bad("repetition_penalty", "'repetition_penalty' must be greater than 0");
  s.seed = SamplingParams::kRandomSeed;
  if (const json* v = field(j, "seed")) {
    // OpenAI's seed is a 64-bit signed integer; its bits become the sampler's seed.
    s.seed = static_cast<uint64_t>(get_integer(*v, "seed"));
  }

  if (const json* v = field(j, "stop")) {
    if (v->is_string()) {
      g.stop.push_back(v->get<std::string>());
    } else if (v->is_array()) {
      if (v->size() > 4) bad("stop", "'stop' may hold at most 4 strings");
      for (const json& e : *v) {
        if (!e.is_string()) bad("stop", "'stop' must be a string or an array of strings");
        g.stop.push_back(e.get<std::string>());
      }
    } else {
      bad("stop", "'stop' must be a string or an array of strings");
    }
    for (const std::string& st : g.stop)
      if (st.empty()) bad("stop", "'stop' strings must not be empty");
  }

  if (const json* v = field(j, "n")) {
    const int64_t n = get_integer(*v, "n");
    if (n < 1 || n > kMaxChoices) {
      bad("n", "'n' must be between 1 and " + std::to_string(kMaxChoices) + ", got " + v->dump());
    }
    g.n = static_cast<int>(n);
  }
  g.stream = get_bool(j, "stream", false);
  if (const json* v = field(j, "stream_options")) {
    if (!v->is_object()) bad("stream_options", "'stream_options' must be an object");
    if (!g.stream) bad("stream_options", "'stream_options' is only allowed when 'stream' is true");
    if (const json* u = field(*v, "include_usage")) {
      if (!u->is_boolean())
        bad("stream_options.include_usage", "'stream_options.include_usage' must be a boolean");
      g.include_usage = u->get<bool>();
    }
  }
  g.user = get_string(j, "user", "");
  return g;
}

std::string message_content(const json& m, const std::string& path, bool null_ok) {
  const auto it = m.find("content");
  if (it == m.end() || it->is_null()) {
    if (null_ok) return "";
    bad(path + ".content", "'" + path + ".content' is required");
  }
  if (it->is_string()) return it->get<std::string>();
  if (!it->is_array())
    bad(path + ".content", "'" + path + ".content' must be a string or an array of parts");
  if (it->empty()) bad(path + ".content", "'" + path + ".content' must not be an empty array");
  std::string text;
  for (size_t i = 0; i < it->size(); ++i) {
    const json& part = (*it)[i];
    const std::string p = path + ".content[" + std::to_string(i) + "]";
    if (!part.is_object()) bad(p, "'" + p + "' must be an object");
    const auto type = part.find("type");
    if (type == part.end() || !type->is_string()) bad(p + ".type", "'" + p + ".type' is required");
    if (*type != "text")
      bad(p + ".type", "content part type '" + type->get<std::string>() + "' is not supported");
    const auto t = part.find("text");
    if (t == part.end() || !t->is_string()) bad(p + ".text", "'" + p + ".text' must be a string");
    text += t->get<std::string>();
  }
  return text;
}

void header_json_start(const ResponseHeader& h, const char* object, json* j) {
  (*j)["id"] = h.id;
  (*j)["object"] = object;
  (*j)["created"] = h.created;
  (*j)["model"] = h.model;
}

json usage_json(const Usage& u) {
  return {{"prompt_tokens", u.prompt_tokens},
          {"completion_tokens", u.completion_tokens},
          {"total_tokens", u.prompt_tokens + u.completion_tokens}};
}

json chat_chunk(const ResponseHeader& h, int index, json delta, json logprobs, json finish,
                bool with_usage_null) {
  json j = json::object();
  header_json_start(h, "chat.completion.chunk", &j);
  j["choices"] = json::array({{{"index", index},
                               {"delta", std::move(delta)},
                               {"logprobs", std::move(logprobs)},
                               {"finish_reason", std::move(finish)}}});
  if (with_usage_null) j["usage"] = nullptr;
  return j;
}

json byte_values(const std::string& s) {
  json a = json::array();
  for (unsigned char c : s) a.push_back(static_cast<int>(c));
  return a;
}

// Chat's shape: {"content": [{"token", "logprob", "bytes", "top_logprobs": [...]}], "refusal"}.
// A token's text may be part of a UTF-8 character; "bytes" carries it exactly.
json chat_logprobs(const std::vector<LogprobInfo>* lps) {
  if (!lps) return nullptr;
  json content = json::array();
  for (const LogprobInfo& lp : *lps) {
    json top = json::array();
    for (const LogprobAlternative& a : lp.top)
      top.push_back({{"token", a.token}, {"logprob", a.logprob}, {"bytes", byte_values(a.token)}});
    content.push_back({{"token", lp.token},
                       {"logprob", lp.logprob},
                       {"bytes", byte_values(lp.token)},
                       {"top_logprobs", std::move(top)}});
  }
  return {{"content", std::move(content)}, {"refusal", nullptr}};
}

// The legacy completions shape: parallel arrays, top_logprobs as {token: logprob} objects, and
// each token's byte offset in the choice's text.
json completion_logprobs(const std::vector<LogprobInfo>* lps, int64_t text_offset) {
  if (!lps) return nullptr;
  json tokens = json::array(), token_logprobs = json::array(), top = json::array(),
       offsets = json::array();
  for (const LogprobInfo& lp : *lps) {
    tokens.push_back(lp.token);
    token_logprobs.push_back(lp.logprob);
    json alternatives = json::object();
    for (const LogprobAlternative& a : lp.top) alternatives[a.token] = a.logprob;
    top.push_back(std::move(alternatives));
    offsets.push_back(text_offset);
    text_offset += static_cast<int64_t>(lp.token.size());
  }
  return {{"tokens", std::move(tokens)},
          {"token_logprobs", std::move(token_logprobs)},
          {"top_logprobs", std::move(top)},
          {"text_offset", std::move(offsets)}};
}

}  // namespace

std::string error_body(const ApiError& e) {
  json err = {{"message", e.message}, {"type", e.type}};
  err["param"] = e.param.empty() ? json(nullptr) : json(e.param);
  err["code"] = e.code.empty() ? json(nullptr) : json(e.code);
  return dump(json{{"error", err}});
}

ChatCompletionRequest parse_chat_completion_request(std::string_view body) {
  const json j = parse_object(body);
  ChatCompletionRequest r;
  const auto msgs = j.find("messages");
  if (msgs == j.end() || msgs->is_null()) bad("messages", "'messages' is required");
  if (!msgs->is_array()) bad("messages", "'messages' must be an array");
  if (msgs->empty()) bad("messages", "'messages' must not be empty");
  for (size_t i = 0; i < msgs->size(); ++i) {
    const json& m = (*msgs)[i];
    const std::string path = "messages[" + std::to_string(i) + "]";
    if (!m.is_object()) bad(path, "'" + path + "' must be an object");
    const auto role = m.find("role");
    if (role == m.end() || !role->is_string())
      bad(path + ".role", "'" + path + ".role' must be a string");
    ChatMessage cm;
    cm.role = role->get<std::string>();
    if (cm.role == "developer") cm.role = "system";  // OpenAI's newer name for it
    if (cm.role != "system" && cm.role != "user" && cm.role != "assistant" && cm.role != "tool")
      bad(path + ".role", "'" + path + ".role' must be one of system, user, assistant, tool");
    const bool has_tool_calls = m.contains("tool_calls") && !m["tool_calls"].is_null();
    cm.content = message_content(m, path, cm.role == "assistant" && has_tool_calls);
    if (const json* nm = field(m, "name")) {
      if (!nm->is_string()) bad(path + ".name", "'" + path + ".name' must be a string");
      cm.name = nm->get<std::string>();
    }
    if (cm.role == "tool") {
      const json* id = field(m, "tool_call_id");
      if (!id || !id->is_string())
        bad(path + ".tool_call_id", "'" + path + ".tool_call_id' must be a string");
      cm.tool_call_id = id->get<std::string>();
    }
    if (has_tool_calls) {
      if (!m["tool_calls"].is_array())
        bad(path + ".tool_calls", "'" + path + ".tool_calls' must be an array");
      cm.tool_calls_json = dump(m["tool_calls"]);
    }
    r.messages.push_back(std::move(cm));
  }
  r.gen = parse_generation_fields(j);
  const bool logprobs = get_bool(j, "logprobs", false);
  if (const json* v = field(j, "top_logprobs")) {
    const int64_t k = get_integer(*v, "top_logprobs");
    if (k < 0 || k > kMaxTopLogprobs) {
      bad("top_logprobs", "'top_logprobs' must be between 0 and " +
                              std::to_string(kMaxTopLogprobs) + ", got " + v->dump());
    }
    if (!logprobs) bad("top_logprobs", "'top_logprobs' requires 'logprobs' to be true");
    r.gen.top_logprobs = static_cast<int>(k);
  } else if (logprobs) {
    r.gen.top_logprobs = 0;
  }
  return r;
}

CompletionRequest parse_completion_request(std::string_view body) {
  const json j = parse_object(body);
  CompletionRequest r;
  const json* p = field(j, "prompt");
  if (!p) bad("prompt", "'prompt' is required");
  if (p->is_string()) {
    r.prompt = p->get<std::string>();
  } else if (p->is_array()) {
    if (p->empty()) bad("prompt", "'prompt' must not be empty");
    if ((*p)[0].is_string()) {
      if (p->size() != 1) bad("prompt", "only one prompt per request is supported");
      r.prompt = (*p)[0].get<std::string>();
    } else {
      r.prompt_is_tokens = true;
      for (const json& t : *p) {
        if (!t.is_number_integer())
          bad("prompt", "'prompt' must be a string, an array of one string or of token ids");
        const int64_t id = t.get<int64_t>();
        if (id < 0 || id > std::numeric_limits<int32_t>::max())
          bad("prompt", "token id " + t.dump() + " is out of range");
        r.prompt_tokens.push_back(static_cast<int32_t>(id));
      }
    }
  } else {
    bad("prompt", "'prompt' must be a string, an array of one string or of token ids");
  }
  if (const json* e = field(j, "echo")) {
    if (!e->is_boolean()) bad("echo", "'echo' must be a boolean");
    if (e->get<bool>()) bad("echo", "'echo' is not supported yet");
  }
  if (const json* v = field(j, "best_of")) {
    if (get_integer(*v, "best_of") != 1) bad("best_of", "only best_of = 1 is supported");
  }
  if (const json* v = field(j, "suffix")) {
    if (!v->is_string()) bad("suffix", "'suffix' must be a string");
    if (!v->get<std::string>().empty()) bad("suffix", "'suffix' is not supported");
  }
  r.gen = parse_generation_fields(j);
  // The legacy API's logprobs is the number of alternatives (0: the sampled token only).
  if (const json* v = field(j, "logprobs")) {
    const int64_t k = get_integer(*v, "logprobs");
    if (k < 0 || k > kMaxCompletionLogprobs) {
      bad("logprobs", "'logprobs' must be between 0 and " + std::to_string(kMaxCompletionLogprobs) +
                          ", got " + v->dump());
    }
    r.gen.top_logprobs = static_cast<int>(k);
  }
  return r;
}

TokenizeRequest parse_tokenize_request(std::string_view body) {
  const json j = parse_object(body);
  TokenizeRequest r;
  const json* c = field(j, "content");
  if (!c || !c->is_string()) bad("content", "'content' must be a string");
  r.content = c->get<std::string>();
  r.add_special = get_bool(j, "add_special", false);
  r.parse_special = get_bool(j, "parse_special", true);
  return r;
}

DetokenizeRequest parse_detokenize_request(std::string_view body) {
  const json j = parse_object(body);
  DetokenizeRequest r;
  const json* t = field(j, "tokens");
  if (!t || !t->is_array()) bad("tokens", "'tokens' must be an array of token ids");
  for (const json& e : *t) {
    if (!e.is_number_integer()) bad("tokens", "'tokens' must be an array of token ids");
    const int64_t id = e.get<int64_t>();
    if (id < 0 || id > std::numeric_limits<int32_t>::max())
      bad("tokens", "token id " + e.dump() + " is out of range");
    r.tokens.push_back(static_cast<int32_t>(id));
  }
  return r;
}

std::string_view finish_reason_name(FinishReason r) {
  return r == FinishReason::kStop ? "stop" : "length";
}

std::string chat_completion_json(const ResponseHeader& h, const std::vector<Choice>& choices,
                                 const Usage& usage) {
  json j = json::object();
  header_json_start(h, "chat.completion", &j);
  j["choices"] = json::array();
  for (size_t i = 0; i < choices.size(); ++i) {
    const Choice& c = choices[i];
    j["choices"].push_back({{"index", i},
                            {"message", {{"role", "assistant"}, {"content", c.text}}},
                            {"logprobs", chat_logprobs(c.logprobs ? &*c.logprobs : nullptr)},
                            {"finish_reason", finish_reason_name(c.finish)}});
  }
  j["usage"] = usage_json(usage);
  return dump(j);
}

std::string completion_json(const ResponseHeader& h, const std::vector<Choice>& choices,
                            const Usage& usage) {
  json j = json::object();
  header_json_start(h, "text_completion", &j);
  j["choices"] = json::array();
  for (size_t i = 0; i < choices.size(); ++i) {
    const Choice& c = choices[i];
    j["choices"].push_back(
        {{"text", c.text},
         {"index", i},
         {"logprobs", completion_logprobs(c.logprobs ? &*c.logprobs : nullptr, 0)},
         {"finish_reason", finish_reason_name(c.finish)}});
  }
  j["usage"] = usage_json(usage);
  return dump(j);
}

std::string chat_chunk_role(const ResponseHeader& h, int index, bool with_usage_null) {
  return dump(chat_chunk(h, index, {{"role", "assistant"}, {"content", ""}}, nullptr, nullptr,
                         with_usage_null));
}

std::string chat_chunk_content(const ResponseHeader& h, int index, const std::string& text,
                               const std::vector<LogprobInfo>* logprobs, bool with_usage_null) {
  return dump(
      chat_chunk(h, index, {{"content", text}}, chat_logprobs(logprobs), nullptr, with_usage_null));
}

std::string chat_chunk_finish(const ResponseHeader& h, int index, FinishReason finish,
                              bool with_usage_null) {
  return dump(
      chat_chunk(h, index, json::object(), nullptr, finish_reason_name(finish), with_usage_null));
}

std::string chat_chunk_usage(const ResponseHeader& h, const Usage& usage) {
  json j = json::object();
  header_json_start(h, "chat.completion.chunk", &j);
  j["choices"] = json::array();
  j["usage"] = usage_json(usage);
  return dump(j);
}

std::string completion_chunk_text(const ResponseHeader& h, int index, const std::string& text,
                                  const std::vector<LogprobInfo>* logprobs, int64_t text_offset,
                                  std::optional<FinishReason> finish, bool with_usage_null) {
  json j = json::object();
  header_json_start(h, "text_completion", &j);
  j["choices"] = json::array(
      {{{"text", text},
        {"index", index},
        {"logprobs", completion_logprobs(logprobs, text_offset)},
        {"finish_reason", finish ? json(finish_reason_name(*finish)) : json(nullptr)}}});
  if (with_usage_null) j["usage"] = nullptr;
  return dump(j);
}

std::string completion_chunk_usage(const ResponseHeader& h, const Usage& usage) {
  json j = json::object();
  header_json_start(h, "text_completion", &j);
  j["choices"] = json::array();
  j["usage"] = usage_json(usage);
  return dump(j);
}

std::string models_json(const std::string& model, int64_t created) {
  return dump(json{
      {"object", "list"},
      {"data",
       json::array(
           {{{"id", model}, {"object", "model"}, {"created", created}, {"owned_by", "infera"}}})}});
}

std::string tokens_json(const std::vector<int32_t>& tokens) {
  return dump(json{{"tokens", tokens}});
}

std::string content_json(const std::string& content) { return dump(json{{"content", content}}); }

}  // namespace infera::server
