// Several sequences in one forward batch over the shared paged KV cache give every sequence the
// logits it gets alone, bit for bit — the server's determinism rests on this — and a prefix
// attached from the cache gives the logits of computing it again.
#include "model/batch_forward.h"

#include <gtest/gtest.h>

#include <cstring>

#include "core/error.h"
#include "golden_compare.h"
#include "model/session.h"

namespace infera::testing {
namespace {

std::unique_ptr<Model> load_smollm2() {
  return Model::load(real_models_dir() + "/SmolLM2-135M-Instruct.Q4_1.gguf");
}

std::vector<int32_t> tokens_from(int32_t seed, int n, int64_t n_vocab) {
  std::vector<int32_t> t;
  uint32_t x = static_cast<uint32_t>(seed) * 2654435761u + 1;
  for (int i = 0; i < n; ++i) {
    x = x * 1664525u + 1013904223u;
    t.push_back(static_cast<int32_t>((x >> 8) % static_cast<uint32_t>(n_vocab)));
  }
  return t;
}

// Next-token logits after each prefix length in `at`, evaluated alone.
std::vector<std::vector<float>> alone(const Model& model, ThreadPool& pool,
                                      const std::vector<int32_t>& tokens,
                                      const std::vector<int>& at) {
  std::vector<std::vector<float>> out;
  Session s(model, 256, pool);
  int done = 0;
  std::vector<float> logits;
  for (int n : at) {
    s.eval(std::span<const int32_t>(tokens).subspan(done, n - done), LogitsFor::kLastToken,
           &logits);
    done = n;
    out.push_back(logits);
  }
  return out;
}

bool bit_equal(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

TEST(BatchForward, SequencesInOneBatchGetTheirLogitsAlone) {
  const auto model = load_smollm2();
  const int64_t n_vocab = model->config().n_vocab;
  ThreadPool pool(2);
  // Three prompts of different lengths: the first two are prefilled in chunks while the third
  // decodes token by token, all in the same steps; blocks interleave in the cache.
  const std::vector<std::vector<int32_t>> prompts = {
      tokens_from(1, 40, n_vocab), tokens_from(2, 23, n_vocab), tokens_from(3, 12, n_vocab)};
  KvCache cache(model->config(), 32, 16);
  BatchForward forward(*model, cache, pool, 64);
  std::vector<KvSequence> seqs(3);
  std::vector<std::vector<float>> logits(3, std::vector<float>(static_cast<size_t>(n_vocab)));
  std::vector<std::vector<std::vector<float>>> got(3);
  std::vector<std::vector<int>> cuts(3);
  // Step sizes per sequence per step.
  const std::vector<std::vector<int>> plan = {{16, 16, 8}, {10, 13, 0}, {5, 1, 1, 1, 1, 1, 1, 1}};
  for (size_t step = 0; step < 8; ++step) {
    std::vector<BatchSegment> segs;
    std::vector<size_t> who;
    for (size_t i = 0; i < 3; ++i) {
      if (step >= plan[i].size() || plan[i][step] == 0) continue;
      const int n = plan[i][step];
      ASSERT_TRUE(cache.reserve(seqs[i], seqs[i].n_past + n));
      BatchSegment s;
      s.seq = &seqs[i];
      s.tokens = std::span<const int32_t>(prompts[i]).subspan(seqs[i].n_past, n);
      s.logits = LogitsFor::kLastToken;
      s.logits_out = logits[i].data();
      segs.push_back(s);
      who.push_back(i);
    }
    if (segs.empty()) continue;
    forward.run(segs);
    for (size_t i : who) {
      got[i].push_back(logits[i]);
      cuts[i].push_back(static_cast<int>(seqs[i].n_past));
    }
  }
  for (size_t i = 0; i < 3; ++i) {
    const auto want = alone(*model, pool, prompts[i], cuts[i]);
    ASSERT_EQ(want.size(), got[i].size());
    for (size_t k = 0; k < want.size(); ++k)
      EXPECT_TRUE(bit_equal(want[k], got[i][k])) << "sequence " << i << " after " << cuts[i][k];
  }
}

TEST(BatchForward, AnAttachedPrefixGivesTheLogitsOfRecomputingIt) {
  const auto model = load_smollm2();
  const int64_t n_vocab = model->config().n_vocab;
  ThreadPool pool(2);
  KvCache cache(model->config(), 16, 16);
  BatchForward forward(*model, cache, pool, 64);
  const std::vector<int32_t> shared = tokens_from(7, 48, n_vocab);
  std::vector<int32_t> a = shared, b = shared;
  for (int32_t t : tokens_from(8, 5, n_vocab)) a.push_back(t);
  for (int32_t t : tokens_from(9, 7, n_vocab)) b.push_back(t);

  std::vector<float> logits(static_cast<size_t>(n_vocab));
  KvSequence sa;
  ASSERT_TRUE(cache.reserve(sa, static_cast<int64_t>(a.size())));
  BatchSegment seg{&sa, a, LogitsFor::kLastToken, logits.data()};
  forward.run(std::span<const BatchSegment>(&seg, 1));
  cache.register_full_blocks(sa, a);
  cache.release(sa);

  KvSequence sb;
  EXPECT_EQ(cache.attach_prefix(sb, b), 48);
  ASSERT_TRUE(cache.reserve(sb, static_cast<int64_t>(b.size())));
  BatchSegment rest{&sb, std::span<const int32_t>(b).subspan(48), LogitsFor::kLastToken,
                    logits.data()};
  forward.run(std::span<const BatchSegment>(&rest, 1));
  const auto want = alone(*model, pool, b, {static_cast<int>(b.size())});
  EXPECT_TRUE(bit_equal(want[0], logits));
}

TEST(BatchForward, RejectsABatchItCannotRun) {
  const auto model = load_smollm2();
  ThreadPool pool(1);
  KvCache cache(model->config(), 2, 16);
  BatchForward forward(*model, cache, pool, 8);
  KvSequence s;
  ASSERT_TRUE(cache.reserve(s, 16));
  const std::vector<int32_t> nine(9, 1), two(2, 1), bad = {1, -4};
  BatchSegment too_many{&s, nine};
  EXPECT_THROW(forward.run(std::span<const BatchSegment>(&too_many, 1)), infera::Error);
  BatchSegment bad_id{&s, bad};
  EXPECT_THROW(forward.run(std::span<const BatchSegment>(&bad_id, 1)), infera::Error);
  s.n_past = 15;  // two more positions need a second block
  BatchSegment no_room{&s, two};
  EXPECT_THROW(forward.run(std::span<const BatchSegment>(&no_room, 1)), infera::Error);
  EXPECT_EQ(s.n_past, 15);
}

}  // namespace
}  // namespace infera::testing
