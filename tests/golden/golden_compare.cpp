#include "golden_compare.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <functional>

#include "core/thread_pool.h"
#include "model/session.h"

namespace infera::testing {
namespace {

// Log-softmax of one row of logits, in double.
std::vector<double> log_softmax(const float* logits, int64_t n) {
  double max = -INFINITY;
  for (int64_t i = 0; i < n; ++i) max = std::max(max, static_cast<double>(logits[i]));
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += std::exp(logits[i] - max);
  const double lse = max + std::log(sum);
  std::vector<double> out(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) out[i] = logits[i] - lse;
  return out;
}

// KL(P ‖ Q) over the reference's top-k tokens plus one bucket holding the rest of the mass. By
// the data-processing inequality this never exceeds the KL of the full distributions.
double bucketed_kl(const int32_t* ids, const float* ref_logprobs, uint32_t k,
                   const std::vector<double>& ours) {
  double kl = 0, p_top = 0, q_top = 0;
  for (uint32_t j = 0; j < k; ++j) {
    const double lp = ref_logprobs[j];
    const double lq = ours[static_cast<size_t>(ids[j])];
    const double p = std::exp(lp);
    kl += p * (lp - lq);
    p_top += p;
    q_top += std::exp(lq);
  }
  const double p_rest = std::max(0.0, 1.0 - p_top);
  const double q_rest = std::max(1e-300, 1.0 - q_top);
  if (p_rest > 1e-12) kl += p_rest * std::log(p_rest / q_rest);
  return std::max(0.0, kl);
}

int32_t argmax(const float* x, int64_t n) {
  return static_cast<int32_t>(std::max_element(x, x + n) - x);
}

}  // namespace

TeacherForcedStats compare_teacher_forced(const Model& model, const GoldenFile& golden,
                                          int n_threads, int64_t min_positions) {
  ThreadPool pool(n_threads);
  const int64_t n_vocab = model.config().n_vocab;
  TeacherForcedStats st;
  constexpr int64_t kStep = 64;  // bounds the logits buffer (64 × 262,144 floats for Gemma 3)
  std::vector<float> logits;
  for (const auto& seq : golden.sequences) {
    if (min_positions > 0 && st.positions >= min_positions) break;
    const auto n = static_cast<int64_t>(seq.tokens.size());
    Session session(model, n, pool);
    for (int64_t start = 0; start < n; start += kStep) {
      const int64_t len = std::min(kStep, n - start);
      session.eval(std::span<const int32_t>(seq.tokens.data() + start, static_cast<size_t>(len)),
                   LogitsFor::kEveryToken, &logits);
      for (int64_t t = 0; t < len; ++t) {
        const int64_t p = start + t;
        const float* row = logits.data() + t * n_vocab;
        const auto ours = log_softmax(row, n_vocab);
        const int32_t* ids = seq.ids.data() + p * seq.top_k;
        const float* lps = seq.logprobs.data() + p * seq.top_k;
        const double kl = bucketed_kl(ids, lps, seq.top_k, ours);
        st.kl_sum += kl;
        st.kl_max = std::max(st.kl_max, kl);
        st.top1_agree += argmax(row, n_vocab) == ids[0];
        ++st.positions;
      }
    }
  }
  return st;
}

GreedyStats compare_greedy(const Model& model, const GoldenFile& golden, int n_threads) {
  ThreadPool pool(n_threads);
  const int64_t n_vocab = model.config().n_vocab;
  GreedyStats st;
  std::vector<float> logits;
  for (const auto& g : golden.greedy) {
    Session session(model, static_cast<int64_t>(g.prompt.size() + g.generated.size() + 1), pool);
    session.eval(g.prompt, LogitsFor::kLastToken, &logits);
    std::vector<int32_t> out;
    double margin_at_divergence = -1;
    for (size_t i = 0; i < g.generated.size(); ++i) {
      const int32_t next = argmax(logits.data(), n_vocab);
      if (next != g.generated[i] && margin_at_divergence < 0) {
        std::vector<float> top(logits.begin(), logits.begin() + n_vocab);
        std::partial_sort(top.begin(), top.begin() + 2, top.end(), std::greater<float>());
        margin_at_divergence = top[0] - top[1];
      }
      out.push_back(next);
      if (i + 1 < g.generated.size())
        session.eval(std::span<const int32_t>(&next, 1), LogitsFor::kLastToken, &logits);
    }
    ++st.prompts;
    if (out == g.generated) {
      ++st.identical;
      continue;
    }
    st.max_divergence_margin = std::max(st.max_divergence_margin, margin_at_divergence);
    if (st.first_mismatch.empty()) {
      size_t at = 0;
      while (at < out.size() && out[at] == g.generated[at]) ++at;
      st.first_mismatch = "prompt " + std::to_string(st.prompts - 1) +
                          " diverges at generated token " + std::to_string(at) + ": infera " +
                          std::to_string(out[at]) + ", reference " +
                          std::to_string(g.generated[at]) + " (infera's top-2 margin there " +
                          std::to_string(margin_at_divergence) + ")";
    }
  }
  return st;
}

std::string real_models_dir() {
  if (const char* dir = std::getenv("INFERA_MODELS_DIR"); dir && *dir) return dir;
  const char* home = std::getenv("HOME");
  return std::string(home ? home : "") + "/.cache/infera/models";
}

}  // namespace infera::testing
