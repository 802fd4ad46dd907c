// `infera bench-kernels`: every kernel on every instruction-set path of this CPU, each fast path
// checked against the scalar reference, with its speed. The exit code is non-zero when a check
// fails, so the command doubles as a correctness test on a new machine.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "core/error.h"
#include "core/thread_pool.h"
#include "engine/kernel_bench.h"
#include "kernels/cpu_features.h"

namespace infera::cli {
namespace {

struct KernelBenchCliOptions {
  KernelBenchOptions bench;
  int threads = 0;
  bool quick = false;
  bool json = false;
};

std::string check_cell(const KernelBenchResult& r) {
  switch (r.check) {
    case CheckStatus::kWithin: {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.1e", r.error);
      return buf;
    }
    case CheckStatus::kFailed: {
      char buf[48];
      std::snprintf(buf, sizeof buf, "FAIL %.1e", r.error);
      return buf;
    }
    default:
      return std::string(check_status_name(r.check));
  }
}

void print_table(const std::vector<KernelBenchResult>& results, int threads) {
  const CpuFeatures& f = cpu_features();
  std::printf("# best isa: %s (avx2 %d, avx512f %d, avx512_vnni %d), %d threads (ops: 1)\n",
              std::string(isa_name(best_isa())).c_str(), f.avx2, f.avx512f, f.avx512_vnni, threads);
  std::printf(
      "# check: ref = the scalar reference itself; exact = bit-identical to it; a number"
      " = error within tolerance (matmul: normwise, attention: abs, ops: vs f64)\n");
  bool probed = false;
  for (const KernelBenchResult& r : results) probed = probed || r.of_probe > 0;
  if (probed)
    std::printf(
        "# of probe: GB/s over the read-bandwidth probe's just before each repetition (median);"
        " probe: its GB/s\n");
  std::printf("%-10s %-22s %-6s %-7s %-12s %9s %9s %12s", "kernel", "shape", "type", "isa", "check",
              "GB/s", "GFLOP/s", "µs/call");
  if (probed) std::printf(" %9s %8s", "of probe", "probe");
  std::printf("\n");
  for (const KernelBenchResult& r : results) {
    std::printf("%-10s %-22s %-6s %-7s %-12s %9.2f %9.2f %12.2f", r.kernel.c_str(), r.shape.c_str(),
                r.type.c_str(), r.isa.c_str(), check_cell(r).c_str(), r.gb_per_s(), r.gop_per_s(),
                r.seconds_per_call * 1e6);
    if (probed && r.of_probe > 0)
      std::printf(" %8.1f%% %8.2f", 100.0 * r.of_probe, r.probe_gb_per_s);
    std::printf("\n");
  }
}

// Keys: kernel, shape, type, isa, threads, check ("ref", "exact", "ok", "FAIL"), error,
// tolerance, bytes, ops, us_per_call, gb_per_s, gop_per_s, reps, calls_per_rep; with
// --weights-mib, matmul rows also probe_gb_per_s and of_probe (KernelBenchResult).
std::string results_json(const std::vector<KernelBenchResult>& results, int threads) {
  nlohmann::json rows = nlohmann::json::array();
  for (const KernelBenchResult& r : results) {
    rows.push_back({{"kernel", r.kernel},
                    {"shape", r.shape},
                    {"type", r.type},
                    {"isa", r.isa},
                    {"threads", r.threads},
                    {"check", std::string(check_status_name(r.check))},
                    {"error", std::isfinite(r.error) ? nlohmann::json(r.error) : nlohmann::json()},
                    {"tolerance", r.tolerance},
                    {"bytes", r.bytes},
                    {"ops", r.ops},
                    {"us_per_call", r.seconds_per_call * 1e6},
                    {"gb_per_s", r.gb_per_s()},
                    {"gop_per_s", r.gop_per_s()},
                    {"reps", r.reps},
                    {"calls_per_rep", r.calls_per_rep}});
    if (r.of_probe > 0) {
      rows.back()["probe_gb_per_s"] = r.probe_gb_per_s;
      rows.back()["of_probe"] = r.of_probe;
    }
  }
  const nlohmann::json doc = {
      {"best_isa", std::string(isa_name(best_isa()))}, {"threads", threads}, {"results", rows}};
  return doc.dump(2);
}

void bench_kernels(KernelBenchCliOptions opt) {
  if (opt.quick) {
    opt.bench.min_time_s = std::min(opt.bench.min_time_s, 0.02);
    opt.bench.min_reps = 1;
  }
  ThreadPool pool(opt.threads);
  // Progress goes to stderr so that stdout holds only the table or the JSON.
  const auto progress = [](const KernelBenchResult& r) {
    std::fprintf(stderr, "\rbench-kernels: %s %s %s %s          ", r.kernel.c_str(), r.type.c_str(),
                 r.shape.c_str(), r.isa.c_str());
  };
  const std::vector<KernelBenchResult> results = run_kernel_benchmarks(opt.bench, pool, progress);
  std::fprintf(stderr, "\n");
  if (results.empty())
    throw Error(ErrorKind::kInvalidArgument,
                "bench-kernels: --filter '" + opt.bench.filter + "' matches no kernel");

  if (opt.json) {
    std::printf("%s\n", results_json(results, pool.size()).c_str());
  } else {
    print_table(results, pool.size());
  }
  std::fflush(stdout);

  int failed = 0;
  for (const KernelBenchResult& r : results) failed += r.passed() ? 0 : 1;
  if (failed > 0)
    throw Error(ErrorKind::kInvalidArgument,
                "bench-kernels: " + std::to_string(failed) + " check(s) failed");
}

}  // namespace

void add_kernel_bench_command(CLI::App& app) {
  auto opt = std::make_shared<KernelBenchCliOptions>();
  CLI::App* cmd = app.add_subcommand(
      "bench-kernels",
      "Check every kernel's SIMD paths against the scalar reference and measure GB/s and GFLOP/s");
  cmd->add_option("-t,--threads", opt->threads, "Threads (default: all cores)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option(
      "--filter", opt->bench.filter,
      "Only cases whose kernel/type/shape contains this, e.g. matmul/Q4_K or attention");
  cmd->add_flag("--quick", opt->quick, "Few iterations: a check rather than a benchmark");
  cmd->add_option("--min-time", opt->bench.min_time_s,
                  "Least seconds each measurement runs (its median repetition is reported)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--rows", opt->bench.rows, "matmul output features (also the GLU width)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--cols", opt->bench.cols,
                  "matmul input features, a multiple of 256 for K types (also the rms_norm width)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--prefill", opt->bench.prefill_tokens,
                  "Tokens of the prefill shapes of matmul and attention")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--n-ctx", opt->bench.n_ctx, "Keys an attention query sees (also softmax width)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--heads", opt->bench.n_head, "Attention query heads (default: SmolLM2's 9)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--kv-heads", opt->bench.n_head_kv,
                  "Attention key/value heads, dividing --heads (default 3)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--head-dim", opt->bench.head_dim, "Attention head width (default 64)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("-s,--seed", opt->bench.seed, "Seed of the random weights and inputs");
  cmd->add_option_function<uint64_t>(
         "--weights-mib", [opt](uint64_t mib) { opt->bench.weights_bytes = mib << 20; },
         "matmul: cycle through copies of the weights filling this many MiB, so that past the "
         "last-level cache each call reads them from memory, as decode does (e.g. 1024); a read-"
         "bandwidth probe of that size runs before each repetition, for the 'of probe' column")
      ->check(CLI::Range(uint64_t{1}, uint64_t{1} << 20));
  cmd->add_flag("--json", opt->json, "Print one JSON object instead of the table");
  cmd->callback([opt]() { bench_kernels(*opt); });
}

}  // namespace infera::cli
