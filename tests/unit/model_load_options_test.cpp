// LoadOptions::f32_weights: every matrix of another type is replaced by its exact dequantized
// values, f32 matrices stay mapped in place, and a tied output keeps sharing the embedding.
// LoadOptions::regroup_weights: Q4_0 matrices rewritten in place where AVX2 or AVX-512 runs them
// faster so (interleaved or regrouped), with the same logits as the file's layout, mapped or read.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "kernels/cpu_features.h"
#include "kernels/matmul.h"
#include "kernels/weight_regroup.h"
#include "model/model.h"
#include "model/session.h"
#include "quant/dequantize.h"

namespace infera {
namespace {

const std::string kModels = std::string(INFERA_TEST_DATA_DIR) + "/models/";

std::vector<std::pair<std::string, const WeightMatrix*>> matrices_of(const Model& m) {
  std::vector<std::pair<std::string, const WeightMatrix*>> out = {{"token_embd", &m.token_embd},
                                                                  {"output", &m.output}};
  for (size_t l = 0; l < m.layers.size(); ++l) {
    const LayerWeights& L = m.layers[l];
    const std::string p = "blk." + std::to_string(l) + ".";
    for (const auto& [name, w] : {std::pair{"wq", &L.wq},
                                  {"wk", &L.wk},
                                  {"wv", &L.wv},
                                  {"wo", &L.wo},
                                  {"w_gate", &L.w_gate},
                                  {"w_up", &L.w_up},
                                  {"w_down", &L.w_down}})
      out.emplace_back(p + name, w);
  }
  return out;
}

// Calls check(a's matrix, b's matrix) for each matrix of two loads of one file, traced by name.
template <typename Check>
void for_each_matrix_of_both(const Model& a, const Model& b, const Check& check) {
  const auto in_a = matrices_of(a);
  const auto in_b = matrices_of(b);
  ASSERT_EQ(in_a.size(), in_b.size());
  for (size_t i = 0; i < in_a.size(); ++i) {
    SCOPED_TRACE(in_a[i].first);
    check(*in_a[i].second, *in_b[i].second);
  }
}

TEST(LoadOptions, F32WeightsAreTheFilesValuesDequantized) {
  // Q4_K and Q6_K matrices: the K-quant decoders, the hardest case.
  const std::string path = kModels + "tiny-llama-k-q4_k_m.gguf";
  const auto quantized = Model::load(path);
  LoadOptions options;
  options.f32_weights = true;
  const auto f32 = Model::load(path, options);

  int converted = 0;
  for_each_matrix_of_both(*quantized, *f32, [&](const WeightMatrix& q, const WeightMatrix& f) {
    ASSERT_EQ(f.type, TensorType::F32);
    ASSERT_EQ(f.cols, q.cols);
    ASSERT_EQ(f.rows, q.rows);
    ASSERT_EQ(f.row_bytes, static_cast<uint64_t>(q.cols) * sizeof(float));
    converted += q.type != TensorType::F32;
    std::vector<float> row(static_cast<size_t>(q.cols));
    for (int64_t r = 0; r < q.rows; ++r) {
      dequantize_matrix_row(q, r, row.data());  // whatever layout the load gave q
      ASSERT_EQ(std::memcmp(row.data(), f.row(r), f.row_bytes), 0) << "row " << r;
    }
  });
  EXPECT_GT(converted, 0) << "the test model should hold quantized matrices";
}

// The tiny models tie their output to the token embedding (no output.weight).
TEST(LoadOptions, F32MatricesStayMappedAndTiedOutputShared) {
  LoadOptions options;
  options.f32_weights = true;
  const auto m = Model::load(kModels + "tiny-llama-f32.gguf", options);
  ASSERT_EQ(m->file().find_tensor("output.weight"), nullptr);
  EXPECT_EQ(m->layers[0].wq.data, m->file().find_tensor("blk.0.attn_q.weight")->data);
  EXPECT_EQ(m->token_embd.data, m->file().find_tensor("token_embd.weight")->data);
  EXPECT_EQ(m->output.data, m->token_embd.data);

  const auto q = Model::load(kModels + "tiny-llama-q8_0.gguf", options);
  ASSERT_EQ(q->file().find_tensor("output.weight"), nullptr);
  EXPECT_EQ(q->token_embd.type, TensorType::F32);
  EXPECT_EQ(q->output.data, q->token_embd.data);  // one dequantized copy, not two
}

// Logits of every position of a 24-token prompt, then of 6 tokens decoded one at a time.
std::vector<float> logits_of(const Model& m) {
  ThreadPool pool(2);
  Session s(m, 64, pool);
  std::vector<int32_t> prompt;
  for (int i = 0; i < 24; ++i) prompt.push_back((i * 37 + 5) % 500);
  std::vector<float> all, step;
  s.eval(prompt, LogitsFor::kEveryToken, &all);
  for (int i = 0; i < 6; ++i) {
    const int32_t t = (i * 91 + 3) % 500;
    s.eval(std::span<const int32_t>(&t, 1), LogitsFor::kLastToken, &step);
    all.insert(all.end(), step.begin(), step.end());
  }
  return all;
}

TEST(LoadOptions, RewrittenQ4_0GivesTheFilesLogits) {
  const std::string path = kModels + "tiny-llama-k-q4_0.gguf";
  LoadOptions as_stored;
  as_stored.regroup_weights = false;
  const auto stored = Model::load(path, as_stored);
  LoadOptions mapped;
  mapped.storage = gguf::FileStorage::kMapped;
  const auto read = Model::load(path);
  const auto mapped_model = Model::load(path, mapped);
  const bool regroups = active_isa() != Isa::kScalar;
  // Where the model rewrote a matrix it chose the layout that pays for it on this CPU.

  const std::vector<float> want = logits_of(*stored);
  for (const Model* m : {read.get(), mapped_model.get()}) {
    int regrouped = 0;
    for_each_matrix_of_both(*stored, *m, [&](const WeightMatrix& s, const WeightMatrix& g) {
      EXPECT_EQ(s.layout, WeightLayout::kAsStored);
      ASSERT_EQ(g.layout, layout_that_pays(s));
      if (g.layout == WeightLayout::kAsStored) return;
      ++regrouped;
      std::vector<uint8_t> row(s.row_bytes);
      for (int64_t r = 0; r < g.rows; ++r) {
        restore_rows(g, r, 1, row.data());
        ASSERT_EQ(std::memcmp(row.data(), s.row(r), s.row_bytes), 0) << "row " << r;
      }
    });
    if (regroups) EXPECT_GT(regrouped, 0) << "the test model should hold Q4_0 matrices";
    EXPECT_EQ(m->output.data, m->token_embd.data);  // tied: one matrix, regrouped once
    EXPECT_EQ(m->output.layout, m->token_embd.layout);
    const std::vector<float> got = logits_of(*m);
    ASSERT_EQ(got.size(), want.size());
    EXPECT_EQ(std::memcmp(got.data(), want.data(), want.size() * sizeof(float)), 0);
  }
}

}  // namespace
}  // namespace infera
