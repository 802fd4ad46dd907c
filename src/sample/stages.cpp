#include "sample/stages.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <limits>

namespace infera {

namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();
constexpr float kPosInf = std::numeric_limits<float>::infinity();

float max_logit(const CandidateArray& cur) {
  if (cur.sorted) return cur.items.front().logit;
  float m = kNegInf;
  for (const TokenCandidate& c : cur.items) m = std::max(m, c.logit);
  return m;
}

}  // namespace

void load_candidates(const float* logits, int32_t n_vocab, CandidateArray* cur) {
  cur->items.resize(static_cast<size_t>(n_vocab));
  cur->sorted = false;
  bool any_pos_inf = false;
  for (int32_t i = 0; i < n_vocab; ++i) {
    float l = logits[i];
    if (std::isnan(l)) l = kNegInf;
    if (l == kPosInf) any_pos_inf = true;
    cur->items[static_cast<size_t>(i)] = {i, l, 0.0f};
  }
  if (any_pos_inf) {
    for (TokenCandidate& c : cur->items) c.logit = c.logit == kPosInf ? 0.0f : kNegInf;
  }
}

bool drop_impossible(CandidateArray* cur) {
  auto& v = cur->items;
  v.erase(std::remove_if(v.begin(), v.end(),
                         [](const TokenCandidate& c) { return c.logit == kNegInf; }),
          v.end());
  return !v.empty();
}

void keep_argmax(CandidateArray* cur) {
  auto& v = cur->items;
  assert(!v.empty());
  size_t best = 0;
  for (size_t i = 1; i < v.size(); ++i) {
    if (candidate_before(v[i], v[best])) best = i;
  }
  v[0] = v[best];
  v.resize(1);
  cur->sorted = true;
}

void softmax(CandidateArray* cur) {
  auto& v = cur->items;
  if (v.empty()) return;
  const double m = max_logit(*cur);
  double total = 0.0;
  for (const TokenCandidate& c : v) total += std::exp(static_cast<double>(c.logit) - m);
  // total >= 1: the maximum contributes exp(0).
  for (TokenCandidate& c : v) {
    c.p = static_cast<float>(std::exp(static_cast<double>(c.logit) - m) / total);
  }
}

PenaltyStage::PenaltyStage(float repeat, float presence, float frequency, int32_t last_n)
    : repeat_(repeat),
      presence_(presence),
      frequency_(frequency),
      last_n_(last_n),
      enabled_(last_n != 0 && (repeat != 1.0f || presence != 0.0f || frequency != 0.0f)) {}

void PenaltyStage::accept(int32_t token) {
  if (!enabled_) return;
  ++counts_[token];
  if (last_n_ < 0) return;  // whole history: the counts are all we need
  window_.push_back(token);
  if (window_.size() > static_cast<size_t>(last_n_)) {
    const int32_t old = window_.front();
    window_.pop_front();
    auto it = counts_.find(old);
    if (--it->second == 0) counts_.erase(it);
  }
}

void PenaltyStage::reset() {
  window_.clear();
  counts_.clear();
}

void PenaltyStage::apply(CandidateArray* cur) const {
  if (!enabled_) return;
  // Each token is adjusted on its own, so the (unspecified) map order does not matter.
  for (const auto& [token, count] : counts_) {
    assert(!cur->sorted && static_cast<size_t>(token) < cur->items.size());
    TokenCandidate& c = cur->items[static_cast<size_t>(token)];
    if (c.logit == kNegInf) continue;
    c.logit = c.logit > 0.0f ? c.logit / repeat_ : c.logit * repeat_;
    c.logit -= static_cast<float>(count) * frequency_ + presence_;
    // A huge positive logit divided by a penalty below 1 can overflow; +inf would turn the
    // softmax into inf - inf. Saturate instead.
    c.logit = std::min(c.logit, std::numeric_limits<float>::max());
  }
}

void TopKStage::apply(CandidateArray* cur) const {
  auto& v = cur->items;
  if (k <= 0 || static_cast<size_t>(k) >= v.size()) return;
  const auto kth = v.begin() + k;
  if (!cur->sorted) {
    std::nth_element(v.begin(), kth, v.end(), candidate_before);
    std::sort(v.begin(), kth, candidate_before);
  }
  v.erase(kth, v.end());
  cur->sorted = true;
}

void TopPStage::apply(CandidateArray* cur) const {
  auto& v = cur->items;
  if (p >= 1.0f || v.size() <= 1) return;
  const double m = max_logit(*cur);
  double total = 0.0;
  for (const TokenCandidate& c : v) total += std::exp(static_cast<double>(c.logit) - m);
  const double target = static_cast<double>(p) * total;

  // Sort lazily: the first chunk, then chunks twice as large, each one a partial sort of the
  // unsorted rest (every element there ranks after the sorted prefix, so the prefix stays valid).
  size_t sorted_end = cur->sorted ? v.size() : 0;
  size_t chunk = 64;
  double cum = 0.0;
  for (size_t i = 0; i < v.size(); ++i) {
    if (i == sorted_end) {
      const size_t next = std::min(v.size(), sorted_end + chunk);
      std::partial_sort(v.begin() + static_cast<std::ptrdiff_t>(sorted_end),
                        v.begin() + static_cast<std::ptrdiff_t>(next), v.end(), candidate_before);
      sorted_end = next;
      chunk *= 2;
    }
    cum += std::exp(static_cast<double>(v[i].logit) - m);
    if (cum >= target) {
      v.resize(i + 1);
      break;
    }
  }
  // Either cut after the crossing token or, through rounding, nothing was cut and the loop sorted
  // the whole array: sorted in both cases.
  cur->sorted = true;
}

void MinPStage::apply(CandidateArray* cur) const {
  auto& v = cur->items;
  if (min_p <= 0.0f || v.size() <= 1) return;
  // p_i >= min_p * p_max  <=>  exp(l_i - l_max) >= min_p  <=>  l_i - l_max >= log(min_p).
  const double m = max_logit(*cur);
  const double log_min_p = std::log(static_cast<double>(min_p));
  v.erase(std::remove_if(v.begin(), v.end(),
                         [&](const TokenCandidate& c) {
                           return static_cast<double>(c.logit) - m < log_min_p;
                         }),
          v.end());
  // The maximum always survives (log(min_p) <= 0), and a stable filter keeps the order.
}

void TemperatureStage::apply(CandidateArray* cur) const {
  if (t == 1.0f || cur->items.empty()) return;
  const double td = t;
  double max_abs = 0.0;
  for (const TokenCandidate& c : cur->items) {
    max_abs = std::max(max_abs, std::fabs(static_cast<double>(c.logit)));
  }
  double shift = 0.0;
  if (max_abs / td > static_cast<double>(std::numeric_limits<float>::max())) {
    shift = max_logit(*cur);  // afterwards the maximum is 0 and the rest <= 0 (some -inf)
  }
  for (TokenCandidate& c : cur->items) {
    c.logit = static_cast<float>((static_cast<double>(c.logit) - shift) / td);
  }
  // Dividing by a positive number keeps the order, so `sorted` still holds. A shifted logit that
  // underflowed to -inf had probability below 1e-300 relative to the maximum: it stays a
  // candidate with p == 0 and draw() never picks it.
}

int32_t DistStage::draw(const CandidateArray& cur) {
  assert(!cur.items.empty());
  double sum = 0.0;
  for (const TokenCandidate& c : cur.items) sum += c.p;
  const double target = rng_.next_double() * sum;
  double cum = 0.0;
  int32_t last_positive = cur.items.front().id;
  for (const TokenCandidate& c : cur.items) {
    if (c.p <= 0.0f) continue;
    cum += c.p;
    last_positive = c.id;
    if (cum > target) return c.id;
  }
  return last_positive;  // only reachable through rounding in the last place
}

}  // namespace infera
