#include "server/routes.h"

#include <httplib.h>

#include <chrono>
#include <memory>
#include <mutex>
#include <random>

#include "engine/chat_prompt.h"
#include "server/client_connection.h"
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

// httplib 0.11 applies its payload limit to Content-Length bodies only; a chunked body arrives
// whole and is refused here.
bool body_within_limit(const ServerState& st, const httplib::Request& req, httplib::Response& res) {
  if (req.body.size() <= st.max_body_bytes) return true;
  send_error(res, make_error(413,
                             "the request body is too large (limit " +
                                 std::to_string(st.max_body_bytes) + " bytes)",
                             "invalid_request_error"));
  return false;
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

// Checks the prompt against a sequence's context and fills in max_tokens.
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
  const int64_t n_gen = g.max_tokens.value_or(st.seq_ctx - n_prompt);
  // Compared without adding: max_tokens may be as large as int64 allows.
  if (n_prompt >= st.seq_ctx || n_gen > st.seq_ctx - n_prompt) {
    throw RequestError(make_error(
        400,
        "This model's maximum context length is " + std::to_string(st.seq_ctx) +
            " tokens. However, you requested " +
            std::to_string(static_cast<uint64_t>(n_prompt) + static_cast<uint64_t>(n_gen)) +
            " tokens (" + std::to_string(n_prompt) + " in the prompt, " + std::to_string(n_gen) +
            " in the completion). Please reduce the length of the prompt or max_tokens.",
        "invalid_request_error", g.max_tokens ? "max_tokens" : prompt_param,
        "context_length_exceeded"));
  }
  GenerationRequest r;
  r.prompt = std::move(prompt);
  r.sampling = g.sampling;
  r.max_tokens = n_gen;
  r.stop = g.stop;
  r.top_logprobs = g.top_logprobs;
  return r;
}

enum class Api { kChat, kCompletion };

// One request's jobs (one per choice) and what its responses need.
struct Generation {
  std::vector<std::shared_ptr<Job>> jobs;
  ResponseHeader header;
  Api api = Api::kChat;
  bool include_usage = false;
  bool logprobs = false;
  const Tokenizer* tokenizer = nullptr;

  void cancel_all() const {
    for (const auto& j : jobs) j->channel.cancel();
  }
  std::vector<LogprobInfo> logprob_infos(const std::vector<TokenLogprob>& lps) const {
    std::vector<LogprobInfo> out;
    for (const TokenLogprob& lp : lps) {
      LogprobInfo info{tokenizer->token_to_piece(lp.token), lp.logprob, {}};
      for (const auto& [id, logprob] : lp.top)
        info.top.push_back({tokenizer->token_to_piece(id), logprob});
      out.push_back(std::move(info));
    }
    return out;
  }
};

// State of a streamed response between calls of httplib's content provider.
struct StreamState {
  Generation gen;
  std::vector<bool> done;
  std::vector<int64_t> text_offset;
  Usage usage;
  size_t n_done = 0;
  bool sent_roles = false;
  bool failed = false;
};

bool write_event(httplib::DataSink& sink, const std::string& data) {
  const std::string line = "data: " + data + "\n\n";
  return sink.write(line.data(), line.size());
}

FinishReason finish_reason_of(JobEnd end) {
  return end == JobEnd::kStop ? FinishReason::kStop : FinishReason::kLength;
}

// Relays one choice's events; false when the client is gone.
bool relay_events(StreamState& s, int index, const std::vector<JobEvent>& events,
                  httplib::DataSink& sink) {
  const Generation& g = s.gen;
  const bool usage_null = g.include_usage;
  const auto i = static_cast<size_t>(index);
  for (const JobEvent& e : events) {
    if (e.kind == JobEvent::Kind::kText) {
      std::vector<LogprobInfo> infos;
      if (g.logprobs) infos = g.logprob_infos(e.logprobs);
      const auto* lp = g.logprobs ? &infos : nullptr;
      const std::string chunk = g.api == Api::kChat
                                    ? chat_chunk_content(g.header, index, e.text, lp, usage_null)
                                    : completion_chunk_text(g.header, index, e.text, lp,
                                                            s.text_offset[i], {}, usage_null);
      s.text_offset[i] += static_cast<int64_t>(e.text.size());
      if (!write_event(sink, chunk)) return false;
      continue;
    }
    s.done[i] = true;
    ++s.n_done;
    if (e.end == JobEnd::kError || e.end == JobEnd::kCancelled) {
      const std::string msg = e.text.empty() ? "the request was cancelled" : e.text;
      write_event(sink, error_body(make_error(500, msg, "server_error")));
      s.failed = true;
      return true;
    }
    const FinishReason fr = finish_reason_of(e.end);
    const std::string chunk =
        g.api == Api::kChat
            ? chat_chunk_finish(g.header, index, fr, usage_null)
            : completion_chunk_text(g.header, index, "", nullptr, s.text_offset[i], fr, usage_null);
    if (!write_event(sink, chunk)) return false;
    s.usage.prompt_tokens = e.prompt_tokens;  // the same prompt for every choice
    s.usage.completion_tokens += e.completion_tokens;
  }
  return true;
}

// One call of the content provider; false ends the response (the client is gone).
bool stream_step(StreamState& s, httplib::DataSink& sink) {
  const Generation& g = s.gen;
  if (g.api == Api::kChat && !s.sent_roles) {
    s.sent_roles = true;
    for (size_t i = 0; i < g.jobs.size(); ++i)
      if (!write_event(sink, chat_chunk_role(g.header, static_cast<int>(i), g.include_usage)))
        return false;
  }
  // One choice waits for events up to 200 ms; several are polled in turn.
  const auto wait = g.jobs.size() == 1 ? 200ms : 20ms;
  bool any = false;
  for (size_t i = 0; i < g.jobs.size() && !s.failed; ++i) {
    if (s.done[i]) continue;
    std::vector<JobEvent> events;
    if (!g.jobs[i]->channel.pop(&events, wait)) continue;
    any = true;
    if (!relay_events(s, static_cast<int>(i), events, sink)) return false;
  }
  if (s.failed || s.n_done == g.jobs.size()) {
    if (s.failed) {
      g.cancel_all();
    } else if (g.include_usage) {
      const std::string uc = g.api == Api::kChat ? chat_chunk_usage(g.header, s.usage)
                                                 : completion_chunk_usage(g.header, s.usage);
      if (!write_event(sink, uc)) return false;
    }
    const std::string done = "data: [DONE]\n\n";
    sink.write(done.data(), done.size());
    sink.done();
    return true;
  }
  return any || sink.is_writable();
}

// Waits for every choice of a non-streaming request and answers with all of them. While it
// waits, a client that closes its connection cancels the request.
void respond_when_done(const httplib::Request& req, httplib::Response& res, const Generation& g) {
  const int fd = find_connection_socket(req.remote_addr, req.remote_port, req.local_port);
  std::vector<Choice> choices(g.jobs.size());
  for (Choice& c : choices)
    if (g.logprobs) c.logprobs.emplace();
  Usage usage;
  auto next_check = std::chrono::steady_clock::now();
  for (size_t i = 0; i < g.jobs.size(); ++i) {
    bool done = false;
    while (!done) {
      if (fd >= 0 && std::chrono::steady_clock::now() >= next_check) {
        if (peer_closed(fd)) {
          g.cancel_all();
          return;
        }
        next_check = std::chrono::steady_clock::now() + 100ms;
      }
      std::vector<JobEvent> events;
      if (!g.jobs[i]->channel.pop(&events, 100ms)) continue;
      for (const JobEvent& e : events) {
        if (e.kind == JobEvent::Kind::kText) {
          choices[i].text += e.text;
          if (g.logprobs) {
            for (LogprobInfo& info : g.logprob_infos(e.logprobs))
              choices[i].logprobs->push_back(std::move(info));
          }
          continue;
        }
        if (e.end == JobEnd::kError || e.end == JobEnd::kCancelled) {
          g.cancel_all();
          send_error(res, make_error(e.end == JobEnd::kError ? 500 : 503,
                                     e.text.empty() ? "the request was cancelled" : e.text,
                                     "server_error"));
          return;
        }
        choices[i].finish = finish_reason_of(e.end);
        usage.prompt_tokens = e.prompt_tokens;
        usage.completion_tokens += e.completion_tokens;
        done = true;
      }
    }
  }
  res.set_content(g.api == Api::kChat ? chat_completion_json(g.header, choices, usage)
                                      : completion_json(g.header, choices, usage),
                  kJson);
}

void run_generation(ServerState& st, const httplib::Request& req, httplib::Response& res,
                    const GenerationRequest& request, const GenerationFields& f, Api api) {
  Generation g;
  g.api = api;
  g.include_usage = f.include_usage;
  g.logprobs = request.top_logprobs >= 0;
  g.tokenizer = st.tokenizer;
  g.header = ResponseHeader{random_id(api == Api::kChat ? "chatcmpl-" : "cmpl-"), unix_now(),
                            f.model.empty() ? st.model_name : f.model};
  for (int i = 0; i < f.n; ++i) {
    auto job = std::make_shared<Job>();
    job->request = request;
    // Choices differ by their seeds; a given seed still reproduces the whole response.
    if (request.sampling.seed != SamplingParams::kRandomSeed)
      job->request.sampling.seed = request.sampling.seed + static_cast<uint64_t>(i);
    const RequestQueue::Submit r = st.queue->submit(job);
    if (r == RequestQueue::Submit::kQueued) {
      g.jobs.push_back(std::move(job));
      continue;
    }
    g.cancel_all();
    st.metrics->inc("infera_requests_total", 1, {{"outcome", "rejected"}});
    if (r == RequestQueue::Submit::kFull) {
      res.set_header("Retry-After", "1");
      send_error(res, make_error(429, "the server is busy: too many requests are waiting",
                                 "rate_limit_error", "", "queue_full"));
    } else {
      send_error(res, make_error(503, "the server is shutting down", "server_error"));
    }
    return;
  }
  st.metrics->set("infera_requests_waiting", static_cast<double>(st.queue->waiting()));

  if (!f.stream) {
    respond_when_done(req, res, g);
    return;
  }
  auto s = std::make_shared<StreamState>();
  s->gen = std::move(g);
  s->done.assign(s->gen.jobs.size(), false);
  s->text_offset.assign(s->gen.jobs.size(), 0);
  res.set_header("Cache-Control", "no-cache");
  res.set_chunked_content_provider(
      "text/event-stream",
      [s](size_t, httplib::DataSink& sink) {
        if (stream_step(*s, sink)) return true;
        s->gen.cancel_all();
        return false;
      },
      // Runs when the response ends for any reason: choices still going have lost their client.
      [s](bool) { s->gen.cancel_all(); });
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
    if (!require_ready(st, res) || !body_within_limit(st, req, res)) return;
    guarded(st, res, [&] {
      const ChatCompletionRequest r = parse_chat_completion_request(req.body);
      const GenerationRequest gen = make_generation(st, chat_prompt(st, r), r.gen, "messages");
      run_generation(st, req, res, gen, r.gen, Api::kChat);
    });
  });

  svr.Post("/v1/completions", [&st](const httplib::Request& req, httplib::Response& res) {
    if (!require_ready(st, res) || !body_within_limit(st, req, res)) return;
    guarded(st, res, [&] {
      const CompletionRequest r = parse_completion_request(req.body);
      std::vector<int32_t> prompt =
          r.prompt_is_tokens
              ? r.prompt_tokens
              : st.tokenizer->encode(r.prompt, st.tokenizer->add_bos(), /*parse_special=*/true);
      const GenerationRequest gen = make_generation(st, std::move(prompt), r.gen, "prompt");
      run_generation(st, req, res, gen, r.gen, Api::kCompletion);
    });
  });

  svr.Post("/tokenize", [&st](const httplib::Request& req, httplib::Response& res) {
    if (!require_ready(st, res) || !body_within_limit(st, req, res)) return;
    guarded(st, res, [&] {
      const TokenizeRequest r = parse_tokenize_request(req.body);
      const bool bos = r.add_special && st.tokenizer->add_bos();
      res.set_content(tokens_json(st.tokenizer->encode(r.content, bos, r.parse_special)), kJson);
    });
  });

  svr.Post("/detokenize", [&st](const httplib::Request& req, httplib::Response& res) {
    if (!require_ready(st, res) || !body_within_limit(st, req, res)) return;
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
