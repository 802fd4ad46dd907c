// `infera chat`: an interactive multi-turn chat in the terminal, with the model's chat template.
// Reads one user turn per line; works the same with stdin not a terminal (one turn per line, for
// scripts). Ctrl-C stops the current answer and returns to the prompt; Ctrl-D (end of input) quits.
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>

#include "cli/commands.h"
#include "cli/default_model.h"
#include "cli/load_model.h"
#include "cli/sampling_options.h"
#include "core/error.h"
#include "core/thread_pool.h"
#include "engine/conversation.h"
#include "model/model.h"
#include "tokenizer/tokenizer.h"

namespace infera::cli {
namespace {

std::atomic<bool> g_interrupted{false};
extern "C" void on_sigint(int) { g_interrupted.store(true); }

struct ChatOptions {
  std::string model;
  std::string system;
  int64_t n_predict = 512;
  int64_t ctx_size = 4096;
  int threads = 0;
  LoadOptions load;
  SamplingParams sampling;
};

void chat(const ChatOptions& opt) {
  const std::string path = opt.model.empty() ? default_model_path() : opt.model;
  const auto model = load_model_with_progress(path, opt.load);
  const auto tokenizer = Tokenizer::from_gguf(model->file());
  ModelChatTemplate tmpl = chat_template_for(model->file());
  if (tmpl.is_fallback)
    std::fprintf(stderr, "infera: warning: the model has no chat template; using ChatML\n");
  ThreadPool pool(opt.threads);
  const int64_t n_ctx = std::min<int64_t>(opt.ctx_size, model->config().n_ctx_train);
  Conversation conv(*model, *tokenizer, std::move(tmpl.tmpl), opt.sampling, n_ctx, pool);
  if (!opt.system.empty()) conv.set_system_prompt(opt.system);

  const bool interactive = isatty(STDIN_FILENO) != 0;
  if (interactive) {
    std::fprintf(stderr,
                 "infera chat: %s (%lld-token context). Ctrl-C stops an answer, Ctrl-D quits.\n",
                 path.c_str(), static_cast<long long>(n_ctx));
  }
  struct sigaction sa = {};
  sa.sa_handler = on_sigint;
  sigemptyset(&sa.sa_mask);
  std::string line;
  while (true) {
    if (interactive) std::fputs("> ", stdout), std::fflush(stdout);
    // While waiting for input Ctrl-C quits as usual; while answering it only stops the answer.
    std::signal(SIGINT, SIG_DFL);
    if (!std::getline(std::cin, line)) break;
    if (line.empty()) continue;
    g_interrupted.store(false);
    sigaction(SIGINT, &sa, nullptr);
    const GenerationStats st = conv.reply(line, opt.n_predict, [](std::string_view text) {
      std::fwrite(text.data(), 1, text.size(), stdout);
      std::fflush(stdout);
      return !g_interrupted.load();
    });
    std::fputc('\n', stdout);
    std::fflush(stdout);
    std::fprintf(
        stderr, "[prompt %lld tokens (%lld reused) %.1f t/s, answer %lld tokens %.1f t/s, %s]\n",
        static_cast<long long>(st.prompt_tokens), static_cast<long long>(conv.reused_tokens()),
        st.prompt_seconds > 0 ? st.prompt_tokens / st.prompt_seconds : 0.0,
        static_cast<long long>(st.generated_tokens),
        st.generate_seconds > 0 ? st.generated_tokens / st.generate_seconds : 0.0,
        std::string(stop_reason_name(st.stop)).c_str());
  }
  std::signal(SIGINT, SIG_DFL);
}

}  // namespace

void add_chat_command(CLI::App& app) {
  auto opt = std::make_shared<ChatOptions>();
  CLI::App* cmd =
      app.add_subcommand("chat", "Chat with a model in the terminal (one turn per line)");
  cmd->add_option("-m,--model", opt->model,
                  "GGUF model file (default: SmolLM2-135M-Instruct, see README)");
  cmd->add_option("--system", opt->system, "System prompt");
  cmd->add_option("-n,--n-predict", opt->n_predict, "Most tokens per answer")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("-c,--ctx-size", opt->ctx_size, "Context size in tokens")
      ->check(CLI::PositiveNumber);
  cmd->add_option("-t,--threads", opt->threads, "Threads (default: all cores)")
      ->check(CLI::NonNegativeNumber);
  add_load_options(cmd, &opt->load);
  add_sampling_options(cmd, &opt->sampling);
  cmd->callback([opt]() {
    opt->sampling.validate();
    chat(*opt);
  });
}

}  // namespace infera::cli
