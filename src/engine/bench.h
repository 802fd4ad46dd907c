#pragma once
// `infera bench`, library side: llama-bench-style throughput tests (pp: one prompt in one eval;
// tg: single-token decode steps), the weight bytes a decode step must read, and the roofline that
// a measured memory bandwidth puts on generation speed.
#include <cstdint>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "core/membw.h"
#include "core/thread_pool.h"
#include "model/model.h"

namespace infera {

// Mean and sample standard deviation (n - 1 in the denominator, as llama-bench; 0 below two
// samples) of a set of measurements.
struct SampleStats {
  double mean = 0.0;
  double stddev = 0.0;
  int64_t n = 0;
};
SampleStats sample_stats(std::span<const double> samples);

// What a model weighs and what one generated token costs in weight reads.
struct ModelFootprint {
  uint64_t tensor_bytes = 0;  // Σ of every tensor's bytes in the file (llama-bench's "size")
  uint64_t n_params = 0;      // Σ of every tensor's elements
  std::string main_type;      // the tensor type holding the most bytes, e.g. "Q4_1"
  // Bytes of weights one decode step reads: every layer matrix in full, the output matrix in full
  // (the embedding matrix again when tied) and one row of the token embedding. Norm vectors and
  // biases (KBs, held as f32 copies) and the KV cache (grows with the context) are not counted.
  uint64_t layer_matrix_bytes = 0;
  uint64_t output_bytes = 0;
  uint64_t embedding_row_bytes = 0;
  uint64_t decode_bytes() const { return layer_matrix_bytes + output_bytes + embedding_row_bytes; }
};
ModelFootprint model_footprint(const Model& model);

// "llama 135M Q4_1": architecture, general.size_label (else the parameter count), main type.
std::string model_description(const Model& model, const ModelFootprint& footprint);

enum class BenchKind { kPrompt, kGenerate };

struct BenchTest {
  BenchKind kind = BenchKind::kPrompt;
  int64_t n_tokens = 0;  // prompt length (pp) or decode steps (tg), > 0
  int64_t depth = 0;     // tokens already in the KV cache when the timed part starts, >= 0
};
// "pp512", "tg128"; at a depth "pp512 @ d4096", "tg128 @ d4096" (as llama-bench names them).
std::string bench_test_name(const BenchTest& test);

struct BenchResult {
  BenchTest test;
  std::vector<double> tokens_per_s;  // one per timed repetition
  SampleStats stats;                 // of tokens_per_s
  // Positions the session already held when each timed part began: the depth (and, for tg, the
  // first token before it).
  int64_t timed_from_position = 0;
};

// n ids drawn uniformly from [0, n_vocab): valid, though not text.
std::vector<int32_t> random_tokens(int64_t n, int64_t n_vocab, std::mt19937_64& rng);

// Runs `test` once untimed (warm-up: page in the weights, settle the clocks), then `reps` times
// timed, each on a fresh session (the KV-cache allocation is not timed). At a depth, `depth`
// random tokens are evaluated first, untimed, so that the timed part attends to that many more
// keys (as in a long conversation).
//   pp: one eval of n random tokens, logits for the last; tokens/s = n / time of that eval.
//   tg: one untimed first token (BOS when the file names one, else random) before the depth's
//       tokens, then n single-token evals of random tokens; tokens/s = n / their total time.
// Throws infera::Error (kInvalidArgument) for n_tokens ≤ 0, depth < 0 or reps < 1.
BenchResult run_bench(const Model& model, ThreadPool& pool, const BenchTest& test, int reps,
                      uint64_t seed);

// Everything `infera bench` prints.
struct BenchReport {
  std::string model_path;
  std::string model_desc;
  ModelFootprint footprint;
  std::string isa;  // kernel path in use (cpu_features.h)
  int threads = 0;
  std::vector<BenchResult> results;
  std::optional<MemBwResult> membw;  // absent with --no-probe

  // Bandwidth ÷ bytes per token: the most tokens/s generation could reach if it did nothing but
  // stream its weights once per token. 0 without a probe.
  double roofline_tokens_per_s() const;
};

// llama-bench's Markdown table (model, size, params, backend, threads, test, t/s), then the
// decode weight bytes, the probe and tg as a share of the roofline (tests at depth 0 only: the
// roofline counts the weights, not the KV cache a deep context reads besides).
std::string format_bench_table(const BenchReport& report);

// The same as one JSON object (keys documented in bench.cpp).
std::string format_bench_json(const BenchReport& report);

}  // namespace infera
