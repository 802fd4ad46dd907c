#include "sample/sampler.h"

#include <cmath>
#include <limits>
#include <random>
#include <sstream>
#include <string>

#include "core/error.h"

namespace infera {

namespace {

[[noreturn]] void fail_field(const char* field, const char* rule, double value) {
  std::ostringstream msg;
  msg << "sampler: " << field << " " << rule << " (got " << value << ")";
  throw Error(ErrorKind::kInvalidArgument, msg.str());
}

uint64_t resolve_seed(uint64_t seed) {
  if (seed != SamplingParams::kRandomSeed) return seed;
  std::random_device rd;
  return (static_cast<uint64_t>(rd()) << 32) ^ static_cast<uint64_t>(rd());
}

const SamplingParams& validated(const SamplingParams& params) {
  params.validate();
  return params;
}

}  // namespace

void SamplingParams::validate() const {
  // Written so that NaN fails every check: !(x >= lo) is true for NaN, x < lo is not.
  if (!(temperature >= 0.0f) || std::isinf(temperature)) {
    fail_field("temperature", "must be a finite number >= 0", temperature);
  }
  if (!(top_p > 0.0f && top_p <= 1.0f)) fail_field("top_p", "must be in (0, 1]", top_p);
  if (!(min_p >= 0.0f && min_p <= 1.0f)) fail_field("min_p", "must be in [0, 1]", min_p);
  if (!(repeat_penalty > 0.0f) || std::isinf(repeat_penalty)) {
    fail_field("repeat_penalty", "must be a finite number > 0", repeat_penalty);
  }
  if (repeat_last_n < -1) fail_field("repeat_last_n", "must be >= -1", repeat_last_n);
  if (!(presence_penalty >= -2.0f && presence_penalty <= 2.0f)) {
    fail_field("presence_penalty", "must be in [-2, 2]", presence_penalty);
  }
  if (!(frequency_penalty >= -2.0f && frequency_penalty <= 2.0f)) {
    fail_field("frequency_penalty", "must be in [-2, 2]", frequency_penalty);
  }
  // top_k: every value is meaningful (<= 0 disables). seed: every value is meaningful.
}

Sampler::Sampler(const SamplingParams& params, int32_t n_vocab)
    : params_(validated(params)),
      n_vocab_(n_vocab),
      seed_(resolve_seed(params.seed)),
      penalties_(params.repeat_penalty, params.presence_penalty, params.frequency_penalty,
                 params.repeat_last_n),
      top_k_{params.top_k},
      top_p_{params.top_p},
      min_p_{params.min_p},
      temperature_{params.temperature},
      dist_(seed_) {
  if (n_vocab <= 0) fail_field("n_vocab", "must be > 0", n_vocab);
  cur_.items.reserve(static_cast<size_t>(n_vocab));
}

std::span<const TokenCandidate> Sampler::apply(const float* logits) {
  load_candidates(logits, n_vocab_, &cur_);
  penalties_.apply(&cur_);
  if (!drop_impossible(&cur_)) {
    throw Error(ErrorKind::kInvalidArgument,
                "sampler: every logit is -inf or NaN after penalties; no token can be chosen");
  }
  if (params_.temperature == 0.0f) {
    keep_argmax(&cur_);
  } else {
    top_k_.apply(&cur_);
    top_p_.apply(&cur_);
    min_p_.apply(&cur_);
    temperature_.apply(&cur_);
  }
  softmax(&cur_);
  return cur_.items;
}

int32_t Sampler::sample(const float* logits) {
  apply(logits);
  if (params_.temperature == 0.0f) return cur_.items.front().id;  // greedy: no random number
  // Draw even when one candidate is left, so the n-th sample always uses the n-th random number.
  return dist_.draw(cur_);
}

void Sampler::accept(int32_t token) {
  if (token < 0 || token >= n_vocab_) {
    throw Error(ErrorKind::kInvalidArgument, "sampler: accepted token " + std::to_string(token) +
                                                 " is outside the vocabulary [0, " +
                                                 std::to_string(n_vocab_) + ")");
  }
  penalties_.accept(token);
}

void Sampler::reset() {
  penalties_.reset();
  dist_.reset();
}

std::unique_ptr<Sampler> Sampler::clone() const { return std::make_unique<Sampler>(*this); }

void Sampler::log_softmax(const float* logits, int32_t n, float* out) {
  if (n <= 0) fail_field("n", "must be > 0", n);
  constexpr float kNegInf = -std::numeric_limits<float>::infinity();
  constexpr float kPosInf = std::numeric_limits<float>::infinity();
  // Same rules as load_candidates: NaN -> -inf; if any +inf, those share the mass.
  bool any_pos_inf = false;
  float m = kNegInf;
  for (int32_t i = 0; i < n; ++i) {
    if (logits[i] == kPosInf) any_pos_inf = true;
    if (!std::isnan(logits[i]) && logits[i] > m) m = logits[i];
  }
  if (any_pos_inf) {
    int32_t count = 0;
    for (int32_t i = 0; i < n; ++i) count += logits[i] == kPosInf ? 1 : 0;
    const float lp = static_cast<float>(-std::log(static_cast<double>(count)));
    for (int32_t i = 0; i < n; ++i) out[i] = logits[i] == kPosInf ? lp : kNegInf;
    return;
  }
  if (m == kNegInf) {
    throw Error(ErrorKind::kInvalidArgument, "log_softmax: every logit is -inf or NaN");
  }
  const double md = m;
  double total = 0.0;
  for (int32_t i = 0; i < n; ++i) {
    if (!std::isnan(logits[i])) total += std::exp(static_cast<double>(logits[i]) - md);
  }
  const double log_total = std::log(total);  // total >= 1
  for (int32_t i = 0; i < n; ++i) {
    out[i] = std::isnan(logits[i])
                 ? kNegInf
                 : static_cast<float>(static_cast<double>(logits[i]) - md - log_total);
  }
}

}  // namespace infera
