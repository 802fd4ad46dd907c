// `infera serve`: the OpenAI-compatible HTTP server (src/server/). Binds first, answers /health
// with 503 while the model loads, then serves until SIGTERM or SIGINT, when it stops accepting
// requests, lets the running ones finish (bounded by --shutdown-timeout) and exits 0.
#include <pthread.h>
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>

#include "chat/chat_template.h"
#include "cli/commands.h"
#include "cli/default_model.h"
#include "cli/load_model.h"
#include "core/error.h"
#include "core/thread_pool.h"
#include "model/model.h"
#include "server/engine_loop.h"
#include "server/http_server.h"
#include "server/metrics.h"
#include "server/request_queue.h"
#include "tokenizer/tokenizer.h"

namespace infera::cli {
namespace {

struct ServeOptions {
  std::string model;
  std::string host = "127.0.0.1";
  int port = 8080;
  int parallel = 4;
  int64_t ctx_size = 2048;
  int64_t kv_tokens = 0;
  int64_t batch_size = 64;
  int max_waiting = 64;
  std::string api_key;
  std::string api_key_file;
  int threads = 0;
  LoadOptions load;
  double shutdown_timeout = 10;
  size_t max_body_mb = 16;
};

// The key file's first line, without surrounding whitespace: a key kept out of the command line
// (and so out of `ps` and shell history).
std::string read_api_key_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw Error(ErrorKind::kIo, "cannot read the API key file " + path);
  std::string key;
  std::getline(in, key);
  const auto first = key.find_first_not_of(" \t\r\n");
  const auto last = key.find_last_not_of(" \t\r\n");
  key = first == std::string::npos ? "" : key.substr(first, last - first + 1);
  if (key.empty()) {
    throw Error(ErrorKind::kInvalidArgument,
                "the API key file " + path + " is empty: put the key on its first line");
  }
  return key;
}

void serve(ServeOptions opt) {
  if (!opt.api_key_file.empty()) opt.api_key = read_api_key_file(opt.api_key_file);
  // Signals go to the thread that waits for them below, not to httplib's or the engine's threads
  // (which inherit this mask). SIGPIPE from a vanished client is ignored.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  const std::string path = opt.model.empty() ? default_model_path() : opt.model;
  server::MetricsRegistry metrics;
  server::register_server_metrics(&metrics);
  server::RequestQueue queue(static_cast<size_t>(opt.max_waiting));
  server::ServerState state;
  state.queue = &queue;
  state.metrics = &metrics;
  state.max_body_bytes = opt.max_body_mb << 20;

  server::HttpOptions http;
  http.host = opt.host;
  http.port = opt.port;
  http.api_key = opt.api_key;
  http.max_body_bytes = opt.max_body_mb << 20;
  http.threads = opt.parallel + opt.max_waiting + 8;
  server::HttpServer server(http, state);
  const int port = server.bind();
  server.start();  // /health says 503 until the model is in

  const auto model = load_model_with_progress(path, opt.load);
  const auto tokenizer = Tokenizer::from_gguf(model->file());
  ModelChatTemplate tmpl = chat_template_for(model->file());
  if (tmpl.is_fallback)
    std::fprintf(stderr, "infera: warning: the model has no chat template; using ChatML\n");
  const int64_t n_ctx_train = model->config().n_ctx_train;
  const int64_t seq_ctx = n_ctx_train > 0 ? std::min(opt.ctx_size, n_ctx_train) : opt.ctx_size;

  ThreadPool pool(opt.threads);
  server::EngineOptions engine_options;
  engine_options.parallel = opt.parallel;
  engine_options.ctx_size = seq_ctx;
  engine_options.kv_tokens = opt.kv_tokens;
  engine_options.batch_tokens = opt.batch_size;
  server::EngineLoop engine(*model, *tokenizer, pool, queue, metrics, engine_options);
  state.model = model.get();
  state.tokenizer = tokenizer.get();
  state.chat_template = std::move(tmpl.tmpl);
  state.model_name = std::filesystem::path(path).stem().string();
  state.created = std::chrono::duration_cast<std::chrono::seconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count();
  state.seq_ctx = seq_ctx;
  engine.start();
  state.ready = true;
  std::printf(
      "infera: serving %s on http://%s:%d (%d sequences at once, context %lld, KV cache %lld "
      "tokens, batch %lld, %d threads)\n",
      state.model_name.c_str(), opt.host.c_str(), port, opt.parallel,
      static_cast<long long>(seq_ctx), static_cast<long long>(engine.kv_capacity_tokens()),
      static_cast<long long>(opt.batch_size), pool.size());
  std::fflush(stdout);

  int sig = 0;
  sigwait(&signals, &sig);
  std::fprintf(stderr, "infera: %s received; finishing running requests (up to %.0f s)\n",
               sig == SIGINT ? "SIGINT" : "SIGTERM", opt.shutdown_timeout);
  state.draining = true;
  queue.close();
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::duration<double>(opt.shutdown_timeout);
  while (!engine.finished() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  if (!engine.finished()) {
    std::fprintf(stderr, "infera: shutdown timeout; ending the remaining requests\n");
    queue.abort();
  }
  engine.join();
  server.stop();
  std::fprintf(stderr, "infera: stopped\n");
}

}  // namespace

void add_serve_command(CLI::App& app) {
  auto opt = std::make_shared<ServeOptions>();
  CLI::App* cmd = app.add_subcommand("serve", "Serve a model over an OpenAI-compatible HTTP API");
  cmd->add_option("-m,--model", opt->model,
                  "GGUF model file (default: SmolLM2-135M-Instruct, see README)");
  cmd->add_option("--host", opt->host, "Address to listen on (default 127.0.0.1)");
  cmd->add_option("--port", opt->port, "Port (default 8080; 0 picks a free one)")
      ->check(CLI::Range(0, 65535));
  cmd->add_option("--parallel", opt->parallel,
                  "Requests generated at once, in one forward batch (default 4)")
      ->check(CLI::Range(1, 256));
  cmd->add_option("-c,--ctx-size", opt->ctx_size,
                  "Most tokens (prompt + completion) of one request (default 2048)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--kv-cache-tokens", opt->kv_tokens,
                  "Token positions of the KV cache shared by all requests (default: parallel x "
                  "ctx-size); blocks of repeated prompt prefixes stay cached in it")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--batch-size", opt->batch_size,
                  "Most tokens evaluated per step: decoding tokens plus prompt chunks (default 64)")
      ->check(CLI::Range(1, 4096));
  cmd->add_option("--max-waiting", opt->max_waiting,
                  "Requests that may wait for a slot before new ones get 429 (default 64)")
      ->check(CLI::Range(1, 4096));
  auto* key = cmd->add_option("--api-key", opt->api_key,
                              "Require 'Authorization: Bearer KEY' (not for /health, /metrics)");
  cmd->add_option("--api-key-file", opt->api_key_file,
                  "Like --api-key, the key read from the first line of FILE")
      ->excludes(key);
  cmd->add_option("--max-body-mb", opt->max_body_mb, "Largest request body in MiB (default 16)")
      ->check(CLI::Range(1, 1024));
  cmd->add_option("--shutdown-timeout", opt->shutdown_timeout,
                  "Seconds running requests get to finish on SIGTERM/SIGINT (default 10)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("-t,--threads", opt->threads, "Threads (default: all cores)")
      ->check(CLI::NonNegativeNumber);
  add_load_options(cmd, &opt->load);
  cmd->callback([opt]() { serve(*opt); });
}

}  // namespace infera::cli
