#include "server/routes.h"

#include <httplib.h>

#include <chrono>
#include <memory>
#include <mutex>
#include <random>

#include "engine/chat_prompt.h"
#include "server/openai_schema.h"

namespace infera::server {
namespace {

using namespace std::chrono_literals;

constexpr const char* kJson = "application/json";

void send_error(httplib::Response& res, const ApiError& e) {
  res.status = e.status;
  res.set_content(error_body(e), kJson);
}

ApiError make_error(int status, const std::string& message, const std::string& type,
                    const std::string& param = {}, const std::string& code = {}) {
  ApiError e;
  e.status = status;
  e.message = message;
  e.type = type;
  e.param = param;
  e.code = code;
  return e;
}

std::string random_id(const char* prefix) {
  static std::mutex mutex;
  static std::mt19937_64 rng{std::random_device{}()};
  std::lock_guard lock(mutex);
  static const char* hex = "0123456789abcdef";
  std::string id = prefix;
  for (int i = 0; i < 24; ++i) id += hex[rng() & 15];
  return id;
}

int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Runs a handler, turning RequestError into its 400 body and anything else into a 500.
template <typename Fn>
void guarded(ServerState& st, httplib::Response& res, Fn&& fn) {
  try {
    fn();
  } catch (const RequestError& e) {
    st.metrics->inc("infera_requests_total", 1, {{"outcome", "invalid"}});
    send_error(res, e.api());
  } catch (const Error& e) {
    st.metrics->inc("infera_requests_total", 1, {{"outcome", "invalid"}});
    send_error(res, make_error(400, e.what(), "invalid_request_error"));
  } catch (const std::exception& e) {
    st.metrics->inc("infera_requests_total", 1, {{"outcome", "error"}});
    send_error(res, make_error(500, e.what(), "server_error"));
  }
}

bool require_ready(ServerState& st, httplib::Response& res) {
  if (st.ready && !st.draining) return true;
  send_error(
      res,
      make_error(503, st.draining ? "the server is shutting down" : "the model is still loading",
                 "server_error", "", "unavailable"));
  res.set_header("Retry-After", "1");
  return false;
}

std::vector<int32_t> chat_prompt(const ServerState& st, const ChatCompletionRequest& req) {
  try {
    return render_chat_prompt(*st.tokenizer, *st.chat_template, req.messages);
  } catch (const Error& e) {
    throw RequestError(make_error(400, std::string("the chat template failed: ") + e.what(),
                                  "invalid_request_error", "messages"));
  }
}

// Checks the prompt against the slot's context and fills in max_tokens.
GenerationRequest make_generation(const ServerState& st, std::vector<int32_t> prompt,
                                  const GenerationFields& g, const char* prompt_param) {
  if (prompt.empty())
    throw RequestError(
        make_error(400, "the prompt is empty", "invalid_request_error", prompt_param));
  for (int32_t t : prompt) {
    if (t < 0 || t >= st.tokenizer->n_vocab())
      throw RequestError(make_error(400, "token id " + std::to_string(t) + " is out of range",
                                    "invalid_request_error", prompt_param));
  }
  const int64_t n_prompt = static_cast<int64_t>(prompt.size());
  const int64_t n_gen = g.max_tokens.value_or(st.slot_ctx - n_prompt);
  if (n_prompt >= st.slot_ctx || n_prompt + n_gen > st.slot_ctx) {
    throw RequestError(make_error(
        400,
        "This model's maximum context length is " + std::to_string(st.slot_ctx) +
            " tokens. However, you requested " + std::to_string(n_prompt + n_gen) + " tokens (" +
            std::to_string(n_prompt) + " in the prompt, " + std::to_string(n_gen) +
            " in the completion). Please reduce the length of the prompt or max_tokens.",
        "invalid_request_error", g.max_tokens ? "max_tokens" : prompt_param,
        "context_length_exceeded"));
  }
  GenerationRequest r;
  r.prompt = std::move(prompt);
  r.sampling = g.sampling;
  r.max_tokens = n_gen;
  r.stop = g.stop;
  return r;
}

enum class Api { kChat, kCompletion };

struct StreamState {
  std::shared_ptr<Job> job;
  ResponseHeader header;
  Api api;
  bool include_usage;
  bool sent_role = false;
};

bool write_event(httplib::DataSink& sink, const std::string& data) {
  const std::string line = "data: " + data + "\n\n";
  return sink.write(line.data(), line.size());
}

// Relays one stream step; false ends the response (the client is gone).
bool stream_step(StreamState& s, httplib::DataSink& sink) {
  const bool usage_null = s.include_usage;
  if (s.api == Api::kChat && !s.sent_role) {
    s.sent_role = true;
    if (!write_event(sink, chat_chunk_role(s.header, usage_null))) return false;
  }
  std::vector<JobEvent> events;
  if (!s.job->channel.pop(&events, 200ms)) return sink.is_writable();
  for (const JobEvent& e : events) {
    if (e.kind == JobEvent::Kind::kText) {
      const std::string chunk = s.api == Api::kChat
                                    ? chat_chunk_content(s.header, e.text, usage_null)
                                    : completion_chunk_text(s.header, e.text, {}, usage_null);
      if (!write_event(sink, chunk)) return false;
      continue;
    }
    if (e.end == JobEnd::kError || e.end == JobEnd::kCancelled) {
      const std::string msg = e.text.empty() ? "the request was cancelled" : e.text;
      write_event(sink, error_body(make_error(500, msg, "server_error")));
    } else {
      const FinishReason fr = e.end == JobEnd::kStop ? FinishReason::kStop : FinishReason::kLength;
      const std::string chunk = s.api == Api::kChat
                                    ? chat_chunk_finish(s.header, fr, usage_null)
                                    : completion_chunk_text(s.header, "", fr, usage_null);
      if (!write_event(sink, chunk)) return false;
      if (s.include_usage) {
        const Usage u{e.prompt_tokens, e.completion_tokens};
        const std::string uc = s.api == Api::kChat ? chat_chunk_usage(s.header, u)
                                                   : completion_chunk_usage(s.header, u);
        if (!write_event(sink, uc)) return false;
      }
    }
    const std::string done = "data: [DONE]\n\n";
    sink.write(done.data(), done.size());
    sink.done();
    return true;
  }
  return true;
}

void run_generation(ServerState& st, httplib::Response& res, GenerationRequest gen,
                    const GenerationFields& g, Api api) {
  auto job = std::make_shared<Job>();
  job->request = std::move(gen);
  switch (st.queue->submit(job)) {
    case RequestQueue::Submit::kQueued:
      break;
    case RequestQueue::Submit::kFull:
      st.metrics->inc("infera_requests_total", 1, {{"outcome", "rejected"}});
      res.set_header("Retry-After", "1");
      send_error(res, make_error(429, "the server is busy: too many requests are waiting",
                                 "rate_limit_error", "", "queue_full"));
      return;
    case RequestQueue::Submit::kClosed:
      st.metrics->inc("infera_requests_total", 1, {{"outcome", "rejected"}});
      send_error(res, make_error(503, "the server is shutting down", "server_error"));
      return;
  }
  st.metrics->set("infera_requests_waiting", static_cast<double>(st.queue->waiting()));
  ResponseHeader header{random_id(api == Api::kChat ? "chatcmpl-" : "cmpl-"), unix_now(),
                        g.model.empty() ? st.model_name : g.model};

  if (g.stream) {
    auto s = std::make_shared<StreamState>(StreamState{job, header, api, g.include_usage});
    res.set_header("Cache-Control", "no-cache");
    res.set_chunked_content_provider(
        "text/event-stream",
        [s](size_t, httplib::DataSink& sink) {
          if (stream_step(*s, sink)) return true;
          s->job->channel.cancel();
          return false;
        },
        // Runs when the response ends for any reason: a job still going has lost its client.
        [job](bool) { job->channel.cancel(); });
    return;
  }

  std::string text;
  while (true) {
    std::vector<JobEvent> events;
    if (!job->channel.pop(&events, 1000ms)) continue;
    for (const JobEvent& e : events) {
      if (e.kind == JobEvent::Kind::kText) {
        text += e.text;
        continue;
      }
      if (e.end == JobEnd::kError || e.end == JobEnd::kCancelled) {
        send_error(
            res, make_error(e.end == JobEnd::kError ? 500 : 503,
                            e.text.empty() ? "the request was cancelled" : e.text, "server_error"));
        return;
      }
      const FinishReason fr = e.end == JobEnd::kStop ? FinishReason::kStop : FinishReason::kLength;
      const Usage u{e.prompt_tokens, e.completion_tokens};
      res.set_content(api == Api::kChat ? chat_completion_json(header, text, fr, u)
                                        : completion_json(header, text, fr, u),
                      kJson);
      return;
    }
  }
}

}  // namespace

void register_routes(httplib::Server& svr, ServerState& st) {
  svr.Get("/health", [&st](const httplib::Request&, httplib::Response& res) {
    if (st.ready && !st.draining) {
      res.set_content(R"({"status":"ok"})", kJson);
    } else {
      res.status = 503;
      res.set_content(st.draining ? R"({"status":"shutting down"})" : R"({"status":"loading"})",
                      kJson);
    }
  });

  svr.Get("/metrics", [&st](const httplib::Request&, httplib::Response& res) {
    st.metrics->set("infera_requests_waiting", static_cast<double>(st.queue->waiting()));
    res.set_content(st.metrics->render(), "text/plain; version=0.0.4; charset=utf-8");
  });

  svr.Get("/v1/models", [&st](const httplib::Request&, httplib::Response& res) {
    if (!require_ready(st, res)) return;
    res.set_content(models_json(st.model_name, st.created), kJson);
  });

  svr.Post("/v1/chat/completions", [&st](const httplib::Request& req, httplib::Response& res) {
    if (!require_ready(st, res)) return;
    guarded(st, res, [&] {
      const ChatCompletionRequest r = parse_chat_completion_request(req.body);
      GenerationRequest gen = make_generation(st, chat_prompt(st, r), r.gen, "messages");
      run_generation(st, res, std::move(gen), r.gen, Api::kChat);
    });
  });

  svr.Post("/v1/completions", [&st](const httplib::Request& req, httplib::Response& res) {
    if (!require_ready(st, res)) return;
    guarded(st, res, [&] {
      const CompletionRequest r = parse_completion_request(req.body);
      std::vector<int32_t> prompt =
          r.prompt_is_tokens
              ? r.prompt_tokens
              : st.tokenizer->encode(r.prompt, st.tokenizer->add_bos(), /*parse_special=*/true);
      GenerationRequest gen = make_generation(st, std::move(prompt), r.gen, "prompt");
      run_generation(st, res, std::move(gen), r.gen, Api::kCompletion);
    });
  });

  svr.Post("/tokenize", [&st](const httplib::Request& req, httplib::Response& res) {
    if (!require_ready(st, res)) return;
    guarded(st, res, [&] {
      const TokenizeRequest r = parse_tokenize_request(req.body);
      const bool bos = r.add_special && st.tokenizer->add_bos();
      res.set_content(tokens_json(st.tokenizer->encode(r.content, bos, r.parse_special)), kJson);
    });
  });

  svr.Post("/detokenize", [&st](const httplib::Request& req, httplib::Response& res) {
    if (!require_ready(st, res)) return;
    guarded(st, res, [&] {
      const DetokenizeRequest r = parse_detokenize_request(req.body);
      for (int32_t t : r.tokens) {
        if (t >= st.tokenizer->n_vocab())
          throw RequestError(make_error(400, "token id " + std::to_string(t) + " is out of range",
                                        "invalid_request_error", "tokens"));
      }
      res.set_content(content_json(st.tokenizer->decode(r.tokens)), kJson);
    });
  });
}

}  // namespace infera::server
