// `infera bench`: llama-bench-style prompt (pp) and generation (tg) throughput, the weight bytes
// a generated token reads, the machine's measured read bandwidth and the roofline they imply.
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/default_model.h"
#include "cli/load_model.h"
#include "core/error.h"
#include "core/membw.h"
#include "core/thread_pool.h"
#include "engine/bench.h"
#include "kernels/cpu_features.h"
#include "model/model.h"

namespace infera::cli {
namespace {

struct BenchOptions {
  std::string model;
  std::vector<int64_t> n_prompt{512};
  std::vector<int64_t> n_gen{128};
  std::vector<int64_t> n_depth{0};
  int threads = 0;
  LoadOptions load;
  int reps = 3;
  uint64_t seed = 1234;
  bool no_probe = false;
  int64_t probe_mib = 1024;
  int probe_runs = 5;
  bool json = false;
};

void bench(const BenchOptions& opt) {
  const std::string path = opt.model.empty() ? default_model_path() : opt.model;
  const auto model = Model::load(path, opt.load);
  ThreadPool pool(opt.threads);

  BenchReport report;
  report.model_path = path;
  report.footprint = model_footprint(*model);
  report.model_desc = model_description(*model, report.footprint);
  report.isa = std::string(isa_name(active_isa()));
  report.threads = pool.size();

  // Progress goes to stderr so that stdout holds only the table or the JSON.
  std::vector<BenchTest> tests;
  for (const int64_t depth : opt.n_depth) {
    for (const int64_t n : opt.n_prompt)
      if (n > 0) tests.push_back({BenchKind::kPrompt, n, depth});
    for (const int64_t n : opt.n_gen)
      if (n > 0) tests.push_back({BenchKind::kGenerate, n, depth});
  }
  for (const BenchTest& test : tests) {
    std::fprintf(stderr, "infera bench: %s, 1 warm-up + %d runs...\n",
                 bench_test_name(test).c_str(), opt.reps);
    report.results.push_back(run_bench(*model, pool, test, opt.reps, opt.seed));
  }
  if (!opt.no_probe) {
    std::fprintf(stderr, "infera bench: read-bandwidth probe, %lld MiB x %d...\n",
                 static_cast<long long>(opt.probe_mib), opt.probe_runs);
    report.membw =
        measure_read_bandwidth(pool, static_cast<uint64_t>(opt.probe_mib) << 20, opt.probe_runs);
  }

  const std::string text = opt.json ? format_bench_json(report) + "\n" : format_bench_table(report);
  std::fwrite(text.data(), 1, text.size(), stdout);
}

}  // namespace

void add_bench_command(CLI::App& app) {
  auto opt = std::make_shared<BenchOptions>();
  CLI::App* cmd = app.add_subcommand(
      "bench", "Measure prompt and generation throughput, and generation against memory bandwidth");
  cmd->add_option("-m,--model", opt->model,
                  "GGUF model file (default: SmolLM2-135M-Instruct, see README)");
  cmd->add_option("-p,--n-prompt", opt->n_prompt,
                  "Prompt lengths to time, comma-separated (0 = no pp test)")
      ->delimiter(',')
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("-n,--n-gen", opt->n_gen,
                  "Generated-token counts to time, comma-separated (0 = no tg test)")
      ->delimiter(',')
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("-d,--n-depth", opt->n_depth,
                  "Tokens already in the context when each test starts, comma-separated: every "
                  "test runs at every depth (default 0)")
      ->delimiter(',')
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("-t,--threads", opt->threads, "Threads (default: all cores)")
      ->check(CLI::NonNegativeNumber);
  add_load_options(cmd, &opt->load);
  cmd->add_option("-r,--repetitions", opt->reps, "Timed runs of each test (after one warm-up)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("-s,--seed", opt->seed, "Seed of the random token ids");
  cmd->add_flag("--no-probe", opt->no_probe, "Skip the memory-bandwidth probe");
  cmd->add_option("--probe-mib", opt->probe_mib,
                  "Probe buffer in MiB; keep it well above the last-level cache")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--probe-runs", opt->probe_runs, "Probe runs; the best one counts")
      ->check(CLI::PositiveNumber);
  cmd->add_flag("--json", opt->json, "Print one JSON object instead of the table");
  cmd->callback([opt]() { bench(*opt); });
}

}  // namespace infera::cli
