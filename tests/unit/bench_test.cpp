// `infera bench` logic: the statistics, the bandwidth probe on a small buffer, the weight bytes a
// decode step reads (checked against the GGUF tensor table, counted independently), the timed
// tests on a tiny model, and the JSON report (parsed back).
#include "engine/bench.h"

#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/membw.h"
#include "core/thread_pool.h"
#include "model/model.h"

namespace infera {
namespace {

const std::string kTinyQ8 = std::string(INFERA_TEST_DATA_DIR) + "/models/tiny-llama-q8_0.gguf";

TEST(BenchStats, MeanAndSampleStddev) {
  const std::vector<double> xs = {2, 4, 4, 4, 5, 5, 7, 9};
  const SampleStats s = sample_stats(xs);
  EXPECT_EQ(s.n, 8);
  EXPECT_DOUBLE_EQ(s.mean, 5.0);
  // Σ (x - 5)² = 32; divided by n - 1 = 7.
  EXPECT_DOUBLE_EQ(s.stddev, std::sqrt(32.0 / 7.0));
}

TEST(BenchStats, FewSamples) {
  EXPECT_EQ(sample_stats({}).n, 0);
  EXPECT_EQ(sample_stats({}).mean, 0.0);
  const std::vector<double> one = {3.5};
  EXPECT_DOUBLE_EQ(sample_stats(one).mean, 3.5);
  EXPECT_EQ(sample_stats(one).stddev, 0.0);
}

TEST(MemBw, ChecksumFormula) {
  EXPECT_EQ(expected_membw_checksum(0), 0u);
  EXPECT_EQ(expected_membw_checksum(1), 0u);
  EXPECT_EQ(expected_membw_checksum(4), 6u);
  EXPECT_EQ(expected_membw_checksum(5), 10u);
  uint64_t sum = 0;
  for (uint64_t i = 0; i < 100003; ++i) sum += i;
  EXPECT_EQ(expected_membw_checksum(100003), sum);
  // Past 2^32 words the product wraps mod 2^64; each step must still add exactly n.
  for (uint64_t n : {(uint64_t{1} << 33) + 3, (uint64_t{1} << 40) + 4, ~uint64_t{0} - 1})
    EXPECT_EQ(expected_membw_checksum(n + 1) - expected_membw_checksum(n), n);
}

TEST(MemBw, SmallBufferGivesPositiveFiniteRateAndReadsEveryWord) {
  for (int threads : {1, 3}) {
    ThreadPool pool(threads);
    // 1 MiB + 96 bytes: not a multiple of the thread count's slices, nor of the 64-byte unroll.
    const MemBwResult r = measure_read_bandwidth(pool, (1u << 20) + 96, 3);
    EXPECT_GT(r.gb_per_s, 0.0);
    EXPECT_TRUE(std::isfinite(r.gb_per_s));
    EXPECT_LE(r.worst_gb_per_s, r.gb_per_s);
    EXPECT_EQ(r.buffer_bytes, (1u << 20) + 96u);
    EXPECT_EQ(r.threads, threads);
    EXPECT_EQ(r.checksum, expected_membw_checksum(r.buffer_bytes / 8));
  }
}

// The probe kept for repeated reads (bench-kernels reads it before each timing): every read
// covers every word again.
TEST(MemBw, ProbeReadsItsWholeBufferEachTime) {
  ThreadPool pool(2);
  ReadBandwidthProbe probe(pool, (1u << 16) + 32);
  EXPECT_EQ(probe.buffer_bytes(), (1u << 16) + 32u);
  for (int i = 0; i < 3; ++i) {
    const double rate = probe.read_once();
    EXPECT_GT(rate, 0.0);
    EXPECT_TRUE(std::isfinite(rate));
    EXPECT_EQ(probe.checksum(), expected_membw_checksum(probe.buffer_bytes() / 8));
  }
  EXPECT_THROW(ReadBandwidthProbe(pool, 31), Error);
}

TEST(MemBw, RejectsBadArguments) {
  ThreadPool pool(1);
  EXPECT_THROW(measure_read_bandwidth(pool, 16, 1), Error);
  EXPECT_THROW(measure_read_bandwidth(pool, 1024, 0), Error);
}

// Weight bytes per decode step, counted from the file's tensor table by name: every blk.*
// projection in full, output.weight in full (token_embd.weight when tied), one embedding row.
TEST(BenchFootprint, DecodeBytesMatchTensorTable) {
  const auto model = Model::load(kTinyQ8);
  uint64_t layers = 0, output = 0, embd_row = 0, all = 0;
  const gguf::TensorInfo* embd = model->file().find_tensor("token_embd.weight");
  const gguf::TensorInfo* out = model->file().find_tensor("output.weight");
  ASSERT_NE(embd, nullptr);
  embd_row = embd->n_bytes / embd->ne[1];
  output = (out ? out : embd)->n_bytes;
  for (const auto& t : model->file().tensors()) {
    all += t.n_bytes;
    if (!t.name.starts_with("blk.")) continue;
    for (const char* m : {".attn_q.", ".attn_k.", ".attn_v.", ".attn_output.", ".ffn_gate.",
                          ".ffn_up.", ".ffn_down."})
      if (t.name.find(m) != std::string::npos) layers += t.n_bytes;
  }
  const ModelFootprint f = model_footprint(*model);
  EXPECT_EQ(f.layer_matrix_bytes, layers);
  EXPECT_EQ(f.output_bytes, output);
  EXPECT_EQ(f.embedding_row_bytes, embd_row);
  EXPECT_EQ(f.tensor_bytes, all);
  // By hand for this file (Q8_0: 34 bytes per 32 weights; 2 layers, n_embd 128, n_ff 256, 2 KV
  // heads of 32, vocab 512, output tied): 2 × (2·17408 + 2·8704 + 3·34816) + 69632 + 136.
  EXPECT_EQ(f.decode_bytes(), 383112u);
  EXPECT_EQ(f.main_type.empty(), false);
}

TEST(BenchRun, PromptAndGenerationOnTinyModel) {
  const auto model = Model::load(kTinyQ8);
  ThreadPool pool(2);
  for (const BenchTest test :
       {BenchTest{BenchKind::kPrompt, 16}, BenchTest{BenchKind::kGenerate, 4},
        BenchTest{BenchKind::kPrompt, 16, 40}, BenchTest{BenchKind::kGenerate, 4, 40}}) {
    const BenchResult r = run_bench(*model, pool, test, 2, 7);
    ASSERT_EQ(r.tokens_per_s.size(), 2u) << bench_test_name(test);
    for (const double tps : r.tokens_per_s) {
      EXPECT_GT(tps, 0.0);
      EXPECT_TRUE(std::isfinite(tps));
    }
    EXPECT_EQ(r.stats.n, 2);
    // The depth's tokens went through the session before the clock started: pp at its depth,
    // tg one further (the first token).
    const int64_t first = test.kind == BenchKind::kGenerate ? 1 : 0;
    EXPECT_EQ(r.timed_from_position, test.depth + first) << bench_test_name(test);
  }
  EXPECT_EQ(bench_test_name({BenchKind::kPrompt, 512}), "pp512");
  EXPECT_EQ(bench_test_name({BenchKind::kGenerate, 128}), "tg128");
  EXPECT_EQ(bench_test_name({BenchKind::kGenerate, 128, 4096}), "tg128 @ d4096");
  EXPECT_THROW(run_bench(*model, pool, {BenchKind::kPrompt, 0}, 1, 7), Error);
  EXPECT_THROW(run_bench(*model, pool, {BenchKind::kGenerate, 4, -1}, 1, 7), Error);
  EXPECT_THROW(run_bench(*model, pool, {BenchKind::kGenerate, 4}, 0, 7), Error);
  std::mt19937_64 rng(1);
  for (const int32_t t : random_tokens(1000, 512, rng)) {
    EXPECT_GE(t, 0);
    EXPECT_LT(t, 512);
  }
}

TEST(BenchReport, JsonParsesAndRoofline) {
  BenchReport report;
  report.model_path = "dir/\"odd\"\\name\n.gguf";
  report.model_desc = "llama 1M Q8_0";
  report.footprint.layer_matrix_bytes = 900;
  report.footprint.output_bytes = 90;
  report.footprint.embedding_row_bytes = 10;
  report.isa = "avx2";
  report.threads = 2;
  BenchResult tg;
  tg.test = {BenchKind::kGenerate, 128};
  tg.tokens_per_s = {40.0, 50.0};
  tg.stats = sample_stats(tg.tokens_per_s);
  BenchResult pp;
  pp.test = {BenchKind::kPrompt, 512};
  pp.tokens_per_s = {100.0};
  pp.stats = sample_stats(pp.tokens_per_s);
  // Deeper in the context generation also reads the KV cache: no share of the weights' roofline.
  BenchResult deep = tg;
  deep.test.depth = 1024;
  report.results = {pp, tg, deep};

  // Without a probe: no roofline.
  EXPECT_EQ(report.roofline_tokens_per_s(), 0.0);
  auto j = nlohmann::json::parse(format_bench_json(report));
  EXPECT_EQ(j["model"], report.model_path);
  EXPECT_TRUE(j["membw"].is_null());
  EXPECT_TRUE(j["tests"][1]["roofline_fraction"].is_null());

  // 1e-6 GB/s = 1000 bytes/s over 1000 bytes per token: 1 token/s.
  MemBwResult bw;
  bw.gb_per_s = 1e-6;
  bw.loop = "scalar";
  report.membw = bw;
  EXPECT_DOUBLE_EQ(report.roofline_tokens_per_s(), 1.0);
  j = nlohmann::json::parse(format_bench_json(report));
  EXPECT_EQ(j["decode_weight_bytes"]["total"], 1000);
  EXPECT_EQ(j["tests"][0]["name"], "pp512");
  EXPECT_TRUE(j["tests"][0]["roofline_fraction"].is_null());
  EXPECT_EQ(j["tests"][1]["name"], "tg128");
  EXPECT_DOUBLE_EQ(j["tests"][1]["avg_ts"].get<double>(), 45.0);
  EXPECT_DOUBLE_EQ(j["tests"][1]["roofline_fraction"].get<double>(), 45.0);
  EXPECT_EQ(j["tests"][1]["samples_ts"].size(), 2u);
  EXPECT_EQ(j["tests"][1]["n_depth"], 0);
  EXPECT_EQ(j["tests"][2]["name"], "tg128 @ d1024");
  EXPECT_EQ(j["tests"][2]["n_depth"], 1024);
  EXPECT_TRUE(j["tests"][2]["roofline_fraction"].is_null());

  const std::string table = format_bench_table(report);
  EXPECT_NE(table.find("| llama 1M Q8_0"), std::string::npos);
  EXPECT_NE(table.find("45.00 ± 7.07"), std::string::npos);
  EXPECT_NE(table.find("4500.0% of the roofline"), std::string::npos);
  EXPECT_NE(table.find("| tg128 @ d1024 |"), std::string::npos);
  EXPECT_EQ(table.find("tg128 @ d1024: "), std::string::npos);
}

}  // namespace
}  // namespace infera
