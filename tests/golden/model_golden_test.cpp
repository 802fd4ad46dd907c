// infera's forward pass against golden outputs of an independent reference (llama-cpp-python),
// on the real models and on synthetic ones. See tests/README.md for how the goldens are made.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/thread_pool.h"
#include "golden_compare.h"
#include "model/session.h"

namespace infera::testing {
namespace {

const std::string kDataDir = INFERA_TEST_DATA_DIR;

struct Bounds {
  double min_top1;               // fraction of positions whose argmax equals the reference's
  double max_mean_kl;            // mean KL(reference ‖ infera) per position, nats
  int min_greedy_equal;          // greedy continuations identical to the reference's (of 10)
  double max_divergence_margin;  // a continuation may only leave the reference's at a near-tie
};

struct GoldenCase {
  std::string name;         // tests/data/golden/<name>.golden and .json
  bool noise_floor_bounds;  // bounds come from the reference's measured noise floor
  Bounds bounds;            // otherwise
  bool file_as_is = false;  // load the file as it is even where the golden used f32 weights
};

// Teacher-forced positions compared per model (whole sequences, at least this many).
constexpr int64_t kMinPositions = 2048;

// The engine's bar: top-1 ≥ 99%, mean KL ≤ 0.005, ≥ 8 of 10 greedy continuations identical.
const Bounds kEngineBar = {0.99, 0.005, 8, 0.25};

// Every model meets that bar where both engines compute in f32: synthetic f32 models, and the real
// models with their weights dequantized to f32 at load ("-f32" cases: llama.cpp runs the f32 copy
// its own quantizer makes, infera loads the 4-bit file with LoadOptions::f32_weights). Then no
// activation is rounded to 8 bits and what is left is float rounding. With 8-bit and 4-bit weights
// every activation is quantized too and the bar moves with the rounding noise that adds.
//
// In that quantized mode the real 4-bit models cannot meet the bar against llama.cpp without
// copying the rounding of its SIMD code paths: llama.cpp itself, with flash attention on instead of
// off — the same math, other rounding — agrees with the golden files on only ~95–97% of top-1
// tokens, with mean KL up to 0.006, and keeps 2–3 of 10 greedy continuations
// (tools/measure_reference_noise.py measures this into tests/data/golden/reference-noise.json).
// infera computes what llama.cpp computes (8-bit activation blocks and integer dot products, fp16
// KV cache, fp16 GELU) and lands on that floor. So real models are held to the floor: top-1 within
// 1 point of it, KL within 25% of it (and never looser than 0.005), no fewer identical
// continuations than it minus one, and divergences only at near-ties no wider than twice the widest
// the reference itself shows (at least 0.25).
//
// The same rule holds infera's 8-bit path against the f32 goldens: no farther from the model
// computed exactly than llama.cpp's own 8-bit path is (measured into the same file).
const GoldenCase kCases[] = {
    {"smollm2-135m-instruct-q4_1", true, {}},
    {"gemma3-270m-q4_k_m", true, {}},
    {"smollm2-135m-instruct-q4_1-f32", false, kEngineBar},
    {"gemma3-270m-q4_k_m-f32", false, kEngineBar},
    {"smollm2-135m-instruct-q4_1-f32", true, {}, /*file_as_is=*/true},
    {"gemma3-270m-q4_k_m-f32", true, {}, /*file_as_is=*/true},
    {"tiny-llama-f32", false, kEngineBar},
    {"tiny-qwen2-f32", false, kEngineBar},
    {"tiny-qwen3-f32", false, kEngineBar},
    {"tiny-llama-q8_0", false, {0.98, 0.005, 8, 0.25}},
    {"tiny-llama-k-q4_k_m", false, {0.97, 0.005, 5, 0.25}},
    // Q4_0, its rows interleaved (AVX2) or regrouped (AVX-512) at load: 5 of 10 greedy
    // continuations identical on every ISA (the scalar reference too), each divergence at a top-2
    // margin of at most 0.131 — random weights quantized to 4 bits leave many near-ties.
    {"tiny-llama-k-q4_0", false, {0.98, 0.005, 3, 0.25}},
};

std::string label_of(const GoldenCase& c) { return c.name + (c.file_as_is ? " (8-bit path)" : ""); }

// Names the case in test output (gtest would otherwise print its bytes).
void PrintTo(const GoldenCase& c, std::ostream* os) { *os << label_of(c); }

Bounds bounds_for(const GoldenCase& c) {
  if (!c.noise_floor_bounds) return c.bounds;
  const std::string path = kDataDir + "/golden/reference-noise.json";
  std::ifstream in(path);
  if (!in)
    throw std::runtime_error("missing " + path + " (tools/measure_reference_noise.py writes it)");
  const auto floor = nlohmann::json::parse(in).at("models").at(c.name);
  Bounds b;
  b.min_top1 = floor.at("top1_agreement").get<double>() - 0.01;
  b.max_mean_kl = std::max(0.005, 1.25 * floor.at("mean_kl").get<double>());
  // Of 10 greedy continuations, how many stay identical swings by two under a benign change of
  // rounding: infera's own Gemma 3 Q4_K_M runs gave 2 … 5 across kernel commits whose teacher-
  // forced top-1 and KL stayed put, each run's first divergence at a top-2 margin under 0.1. The
  // margin bound below is what tells a wrong model from a near-tie.
  b.min_greedy_equal = std::max(0, floor.at("greedy_identical").get<int>() - 2);
  b.max_divergence_margin =
      std::max(0.25, 2.0 * floor.at("max_margin_at_divergence").get<double>());
  return b;
}

// The model a golden file was made from, as its .json sidecar names it, loaded as it says unless
// the case asks for the file as it is.
std::unique_ptr<Model> load_model_for(const GoldenCase& c) {
  const std::string& name = c.name;
  const std::string json_path = kDataDir + "/golden/" + name + ".json";
  std::ifstream in(json_path);
  if (!in)
    throw std::runtime_error("missing " + json_path +
                             " (regenerate with tools/gen_golden_logits.py)");
  const auto meta = nlohmann::json::parse(in);
  const std::string file = meta.at("model").at("file");
  const bool real = meta.at("model").at("real");
  const std::string path = real ? real_models_dir() + "/" + file : kDataDir + "/models/" + file;
  if (!std::filesystem::exists(path)) {
    throw std::runtime_error(
        "model " + path + " not found" +
        (real ? std::string(": run tools/fetch_models.sh (or set INFERA_MODELS_DIR)") : ""));
  }
  LoadOptions options;
  options.f32_weights = !c.file_as_is && meta.at("model").value("f32_weights", false);
  return Model::load(path, options);
}

class ModelGolden : public ::testing::TestWithParam<GoldenCase> {};

TEST_P(ModelGolden, TeacherForcedLogitsAgree) {
  const GoldenCase& c = GetParam();
  const auto model = load_model_for(c);
  const auto golden = read_golden_file(kDataDir + "/golden/" + c.name + ".golden");
  ASSERT_EQ(golden.n_vocab, model->config().n_vocab);
  const Bounds b = bounds_for(c);
  const auto st = compare_teacher_forced(*model, golden, 2, kMinPositions);
  std::printf(
      "[%s] positions %lld, top-1 agreement %.4f (bound %.4f), mean KL %.6f (bound %.6f), max KL "
      "%.6f\n",
      label_of(c).c_str(), static_cast<long long>(st.positions), st.top1_rate(), b.min_top1,
      st.kl_mean(), b.max_mean_kl, st.kl_max);
  EXPECT_GE(st.positions, std::min<int64_t>(kMinPositions, 1024));
  EXPECT_GE(st.top1_rate(), b.min_top1);
  EXPECT_LE(st.kl_mean(), b.max_mean_kl);
}

TEST_P(ModelGolden, GreedyContinuationsMatch) {
  const GoldenCase& c = GetParam();
  const auto model = load_model_for(c);
  const auto golden = read_golden_file(kDataDir + "/golden/" + c.name + ".golden");
  const auto st = compare_greedy(*model, golden, 2);
  std::printf(
      "[%s] greedy continuations identical: %d of %d, largest top-2 margin at a divergence "
      "%.4f%s%s\n",
      label_of(c).c_str(), st.identical, st.prompts, st.max_divergence_margin,
      st.first_mismatch.empty() ? "" : "; ", st.first_mismatch.c_str());
  const Bounds b = bounds_for(c);
  EXPECT_GE(st.prompts, 10);
  EXPECT_GE(st.identical, b.min_greedy_equal) << st.first_mismatch;
  EXPECT_LE(st.max_divergence_margin, b.max_divergence_margin) << st.first_mismatch;
}

INSTANTIATE_TEST_SUITE_P(Golden, ModelGolden, ::testing::ValuesIn(kCases),
                         [](const ::testing::TestParamInfo<GoldenCase>& info) {
                           std::string n =
                               info.param.name + (info.param.file_as_is ? "_8bit_path" : "");
                           for (char& ch : n) {
                             if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           }
                           return n;
                         });

std::string smollm2_path() { return real_models_dir() + "/SmolLM2-135M-Instruct.Q4_1.gguf"; }

// Results may not depend on the number of threads: every output element is computed by the same
// sequential code whichever thread runs it.
TEST(ModelDeterminism, LogitsIdenticalForAnyThreadCount) {
  const auto model = Model::load(smollm2_path());
  const std::vector<int32_t> tokens = {504, 3575, 282,  4649, 314,  7042, 28,
                                       284, 260,  3575, 282,  4521, 314};
  std::vector<std::vector<float>> results;
  for (int threads : {1, 2, 3}) {
    ThreadPool pool(threads);
    Session session(*model, 64, pool);
    std::vector<float> logits;
    session.eval(tokens, LogitsFor::kEveryToken, &logits);
    results.push_back(std::move(logits));
  }
  EXPECT_EQ(results[0], results[1]);
  EXPECT_EQ(results[0], results[2]);
}

// Session::eval splits a prompt into forward chunks (512 tokens, 128 where every token's logits
// are wanted): where the chunks fall may not change a logit. 140 tokens with every logit are two
// chunks (128 + 12); the same tokens for the last logit only are one.
TEST(ModelDeterminism, ChunkBoundariesDoNotChangeLogits) {
  const auto model = Model::load(smollm2_path());
  const int64_t V = model->config().n_vocab;
  std::vector<int32_t> tokens(140);
  for (size_t i = 0; i < tokens.size(); ++i) tokens[i] = static_cast<int32_t>((i * 7919 + 13) % V);
  ThreadPool pool(2);
  Session chunked(*model, 256, pool), whole(*model, 256, pool), first(*model, 256, pool);
  std::vector<float> every, last, at127;
  chunked.eval(tokens, LogitsFor::kEveryToken, &every);
  whole.eval(tokens, LogitsFor::kLastToken, &last);
  first.eval(std::span<const int32_t>(tokens.data(), 128), LogitsFor::kLastToken, &at127);
  ASSERT_EQ(every.size(), tokens.size() * static_cast<size_t>(V));
  for (int64_t i = 0; i < V; ++i) {
    ASSERT_EQ(every[127 * V + i], at127[i]) << "position 127 token " << i;
    ASSERT_EQ(every[139 * V + i], last[i]) << "position 139 token " << i;
  }
}

// Prefill in one call and token-by-token decoding see the same positions and cache contents.
TEST(ModelDeterminism, IncrementalDecodingMatchesBatchWithinRounding) {
  const auto model = Model::load(smollm2_path());
  const std::vector<int32_t> tokens = {504, 3575, 282, 4649, 314, 7042, 28, 284};
  ThreadPool pool(2);
  Session batch(*model, 16, pool), single(*model, 16, pool);
  std::vector<float> all, one;
  batch.eval(tokens, LogitsFor::kEveryToken, &all);
  const int64_t V = model->config().n_vocab;
  for (size_t t = 0; t < tokens.size(); ++t) {
    single.eval(std::span<const int32_t>(&tokens[t], 1), LogitsFor::kLastToken, &one);
    // Same arithmetic in the same order per element: batching changes nothing.
    for (int64_t i = 0; i < V; ++i)
      ASSERT_EQ(one[i], all[t * V + i]) << "position " << t << " token " << i;
  }
}

uint64_t resident_bytes() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) {
      std::istringstream fields(line.substr(6));
      uint64_t kb = 0;
      fields >> kb;
      return kb * 1024;
    }
  }
  return 0;
}

// Weights are mapped, not copied: after load and a forward pass that touches every weight,
// resident memory grows by at most file size + KV cache + 10%.
TEST(ModelMemory, ResidentMemoryWithinFileSizePlusKvCache) {
  const uint64_t before = resident_bytes();
  const auto model = Model::load(smollm2_path());
  ThreadPool pool(2);
  Session session(*model, 2048, pool);
  std::vector<float> logits;
  const std::vector<int32_t> tokens = {504, 3575, 282, 4649};
  session.eval(tokens, LogitsFor::kLastToken, &logits);
  const uint64_t grown = resident_bytes() - before;
  const uint64_t budget = model->file().file_size() + session.kv_cache_bytes();
  std::printf("resident growth %.1f MiB; file %.1f MiB + KV cache %.1f MiB\n", grown / 1048576.0,
              model->file().file_size() / 1048576.0, session.kv_cache_bytes() / 1048576.0);
  EXPECT_LE(grown, budget + budget / 10);
}

}  // namespace
}  // namespace infera::testing
