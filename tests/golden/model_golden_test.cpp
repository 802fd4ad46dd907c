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

struct GoldenCase {
  std::string name;       // tests/data/golden/<name>.golden and .json
  double min_top1;        // fraction of positions whose argmax equals the reference's
  double max_mean_kl;     // mean KL(reference ‖ infera) per position, nats
  int min_greedy_equal;   // greedy continuations identical to the reference's (of those recorded)
};

// The bar for every model: top-1 ≥ 99%, mean KL ≤ 0.005, ≥ 8 of 10 greedy continuations.
const GoldenCase kCases[] = {
    {"smollm2-135m-instruct-q4_1", 0.99, 0.005, 8},
    {"gemma3-270m-q4_k_m", 0.99, 0.005, 8},
    {"tiny-llama-f32", 0.99, 0.005, 8},
    {"tiny-llama-q8_0", 0.99, 0.005, 8},
    {"tiny-llama-k-q4_k_m", 0.99, 0.005, 8},
    {"tiny-qwen2-f32", 0.99, 0.005, 8},
    {"tiny-qwen3-f32", 0.99, 0.005, 8},
};

// The model a golden file was made from, as its .json sidecar names it.
std::string model_path_for(const std::string& name) {
  const std::string json_path = kDataDir + "/golden/" + name + ".json";
  std::ifstream in(json_path);
  if (!in) throw std::runtime_error("missing " + json_path + " (regenerate with tools/gen_golden_logits.py)");
  const auto meta = nlohmann::json::parse(in);
  const std::string file = meta.at("model").at("file");
  const bool real = meta.at("model").at("real");
  const std::string path = real ? real_models_dir() + "/" + file : kDataDir + "/models/" + file;
  if (!std::filesystem::exists(path)) {
    throw std::runtime_error("model " + path + " not found" +
                             (real ? std::string(": run tools/fetch_models.sh (or set INFERA_MODELS_DIR)") : ""));
  }
  return path;
}

class ModelGolden : public ::testing::TestWithParam<GoldenCase> {};

TEST_P(ModelGolden, TeacherForcedLogitsAgree) {
  const GoldenCase& c = GetParam();
  const auto model = Model::load(model_path_for(c.name));
  const auto golden = read_golden_file(kDataDir + "/golden/" + c.name + ".golden");
  ASSERT_EQ(golden.n_vocab, model->config().n_vocab);
  const auto st = compare_teacher_forced(*model, golden, 2);
  std::printf("[%s] positions %lld, top-1 agreement %.4f, mean KL %.6f, max KL %.6f\n", c.name.c_str(),
              static_cast<long long>(st.positions), st.top1_rate(), st.kl_mean(), st.kl_max);
  EXPECT_GT(st.positions, 0);
  EXPECT_GE(st.top1_rate(), c.min_top1);
  EXPECT_LE(st.kl_mean(), c.max_mean_kl);
}

TEST_P(ModelGolden, GreedyContinuationsMatch) {
  const GoldenCase& c = GetParam();
  const auto model = Model::load(model_path_for(c.name));
  const auto golden = read_golden_file(kDataDir + "/golden/" + c.name + ".golden");
  const auto st = compare_greedy(*model, golden, 2);
  std::printf("[%s] greedy continuations identical: %d of %d%s%s\n", c.name.c_str(), st.identical, st.prompts,
              st.first_mismatch.empty() ? "" : "; ", st.first_mismatch.c_str());
  EXPECT_GE(st.prompts, 10);
  EXPECT_GE(st.identical, c.min_greedy_equal) << st.first_mismatch;
}

INSTANTIATE_TEST_SUITE_P(Golden, ModelGolden, ::testing::ValuesIn(kCases),
                         [](const ::testing::TestParamInfo<GoldenCase>& info) {
                           std::string n = info.param.name;
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
  const std::vector<int32_t> tokens = {504, 3575, 282, 4649, 314, 7042, 28, 284, 260, 3575, 282, 4521, 314};
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
    for (int64_t i = 0; i < V; ++i) ASSERT_EQ(one[i], all[t * V + i]) << "position " << t << " token " << i;
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
