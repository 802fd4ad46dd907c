// `infera run`: raw text completion of a prompt, streamed to stdout.
#include <cstdio>
#include <memory>
#include <string>

#include "cli/commands.h"
#include "cli/default_model.h"
#include "cli/load_model.h"
#include "cli/sampling_options.h"
#include "core/error.h"
#include "core/thread_pool.h"
#include "engine/generate.h"
#include "model/model.h"
#include "model/session.h"
#include "sample/sampler.h"
#include "tokenizer/tokenizer.h"

namespace infera::cli {
namespace {

struct RunOptions {
  std::string model;
  std::string prompt;
  int64_t n_predict = 128;
  int64_t ctx_size = 2048;
  int threads = 0;
  LoadOptions load;
  SamplingParams sampling;
};

void run(const RunOptions& opt) {
  const std::string path = opt.model.empty() ? default_model_path() : opt.model;
  const auto model = load_model_with_progress(path, opt.load);
  const auto tokenizer = Tokenizer::from_gguf(model->file());
  Sampler sampler(opt.sampling, static_cast<int32_t>(model->config().n_vocab));

  const std::vector<int32_t> prompt =
      tokenizer->encode(opt.prompt, tokenizer->add_bos(), /*parse_special=*/true);
  if (prompt.empty()) throw Error(ErrorKind::kInvalidArgument, "the prompt is empty");
  const int64_t n_ctx = std::min<int64_t>(opt.ctx_size, model->config().n_ctx_train);
  if (static_cast<int64_t>(prompt.size()) >= n_ctx) {
    throw Error(ErrorKind::kInvalidArgument, "the prompt has " + std::to_string(prompt.size()) +
                                                 " tokens, which does not fit a context of " +
                                                 std::to_string(n_ctx) + " (raise --ctx-size)");
  }
  ThreadPool pool(opt.threads);
  Session session(*model, n_ctx, pool);

  std::fputs(opt.prompt.c_str(), stdout);
  std::fflush(stdout);
  const GenerationStats st =
      generate(session, *tokenizer, sampler, prompt, opt.n_predict, [](std::string_view text) {
        std::fwrite(text.data(), 1, text.size(), stdout);
        std::fflush(stdout);
        return true;
      });
  std::fputc('\n', stdout);
  std::fprintf(stderr,
               "\ninfera: prompt %lld tokens in %.2f s (%.1f tokens/s), generated %lld tokens in "
               "%.2f s (%.1f "
               "tokens/s), stopped at %s, seed %llu, %d threads\n",
               static_cast<long long>(st.prompt_tokens), st.prompt_seconds,
               st.prompt_seconds > 0 ? st.prompt_tokens / st.prompt_seconds : 0.0,
               static_cast<long long>(st.generated_tokens), st.generate_seconds,
               st.generate_seconds > 0 ? st.generated_tokens / st.generate_seconds : 0.0,
               std::string(stop_reason_name(st.stop)).c_str(),
               static_cast<unsigned long long>(sampler.seed()), pool.size());
}

}  // namespace

void add_run_command(CLI::App& app) {
  auto opt = std::make_shared<RunOptions>();
  CLI::App* cmd = app.add_subcommand("run", "Complete a prompt with a model, streaming the text");
  cmd->add_option("-m,--model", opt->model,
                  "GGUF model file (default: SmolLM2-135M-Instruct, see README)");
  cmd->add_option("-p,--prompt", opt->prompt, "Text to complete")->required();
  cmd->add_option("-n,--n-predict", opt->n_predict, "Most tokens to generate")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("-c,--ctx-size", opt->ctx_size, "Context size in tokens")
      ->check(CLI::PositiveNumber);
  cmd->add_option("-t,--threads", opt->threads, "Threads (default: all cores)")
      ->check(CLI::NonNegativeNumber);
  add_load_options(cmd, &opt->load);
  add_sampling_options(cmd, &opt->sampling);
  cmd->callback([opt]() {
    opt->sampling.validate();
    run(*opt);
  });
}

}  // namespace infera::cli
