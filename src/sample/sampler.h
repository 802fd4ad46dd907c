#pragma once
// The token sampler: one per sequence. Turns a row of logits into the next token id.
//
// Chain order (llama.cpp's default, common/common.h `common_params_sampling::samplers`:
// penalties, dry, top_n_sigma, top_k, typical_p, top_p, min_p, xtc, temperature, then dist;
// infera implements the stages marked *):
//   * penalties   repetition / presence / frequency over the recent accepted tokens
//   * top-k       keep the k highest logits
//   * top-p       keep the smallest most-likely prefix with probability mass >= top_p
//   * min-p       drop tokens with p < min_p * p_max
//   * temperature divide the logits by T (T == 0: greedy, the argmax after penalties)
//   * dist        softmax and one draw from a seeded PRNG
// Temperature comes last, as in llama.cpp: top-p and min-p judge the distribution at T = 1, and
// temperature only reshapes what they left. Greedy (T == 0) takes the argmax after the penalties,
// which top-k/top-p/min-p can never remove, and draws no random number.
//
// Ties: the lower token id wins (greedy, and the top-k / top-p cut).
// Non-finite logits: NaN counts as -inf; -inf is never chosen; if any logit is +inf those tokens
// share all the mass equally; if no token is left (all -inf / NaN), sample() throws
// Error(kInvalidArgument).
// Determinism: the PRNG (rng.h) and the order of every floating-point sum are fixed, so a seed
// gives the same tokens on every compiler and standard library, given a libm whose exp/log agree
// (glibc's are correctly rounded in double; others may differ in the last place, which could move
// a draw only when it lands within ~1e-16 of a boundary).
#include <cstdint>
#include <memory>
#include <span>

#include "sample/stages.h"

namespace infera {

struct SamplingParams {
  // Seed value that asks for a random seed (from std::random_device) at construction; the seed
  // actually used is then reported by Sampler::seed(), and reset() reuses it.
  static constexpr uint64_t kRandomSeed = ~uint64_t{0};

  float temperature = 0.8f;        // 0 => greedy (argmax; ties -> lowest id)
  int32_t top_k = 40;              // <= 0 disables
  float top_p = 0.95f;             // in (0, 1]; 1 disables
  float min_p = 0.05f;             // in [0, 1]; 0 disables
  float repeat_penalty = 1.0f;     // > 0; logit > 0 ? logit / p : logit * p; 1 = off
  int32_t repeat_last_n = 64;      // window of all three penalties; 0 = off, -1 = whole history
  float presence_penalty = 0.0f;   // in [-2, 2]; logit -= presence * (count > 0)
  float frequency_penalty = 0.0f;  // in [-2, 2]; logit -= frequency * count
  uint64_t seed = 0;

  // Throws Error(kInvalidArgument) naming the first field that is out of range or NaN.
  void validate() const;
};

class Sampler {
 public:
  // Validates `params` and n_vocab (> 0); throws Error(kInvalidArgument).
  Sampler(const SamplingParams& params, int32_t n_vocab);

  // Runs the chain on `logits` (n_vocab floats, not modified) and draws a token. Does not record
  // it: call accept() with the token the sequence really takes.
  int32_t sample(const float* logits);

  // Runs every stage but the draw and returns the surviving candidates with their final
  // probabilities (p sums to 1), without touching the random state. The order is canonical:
  // ascending id when no stage sorted, else descending logit (ties: lower id first). Valid until
  // the next call on this sampler. For tests and for reporting the distribution sampled from.
  std::span<const TokenCandidate> apply(const float* logits);

  // Records a generated (or prompt) token for the penalties. Throws Error(kInvalidArgument) when
  // token is outside [0, n_vocab).
  void accept(int32_t token);

  // Forgets the history and restarts the random stream from the seed.
  void reset();

  // An independent sampler in the same state: it produces what this one would.
  std::unique_ptr<Sampler> clone() const;

  const SamplingParams& params() const { return params_; }
  int32_t n_vocab() const { return n_vocab_; }
  uint64_t seed() const { return seed_; }  // the seed in use (resolved when kRandomSeed)

  // out[i] = log softmax(logits)[i], max-subtracted, summed in double. Same rules for non-finite
  // input as the sampler: NaN counts as -inf; any +inf tokens share the mass; all -inf throws.
  // `out` may alias `logits`. Throws Error(kInvalidArgument) for n <= 0.
  static void log_softmax(const float* logits, int32_t n, float* out);

 private:
  SamplingParams params_;
  int32_t n_vocab_;
  uint64_t seed_;
  PenaltyStage penalties_;
  TopKStage top_k_;
  TopPStage top_p_;
  MinPStage min_p_;
  TemperatureStage temperature_;
  DistStage dist_;
  CandidateArray cur_;  // scratch, reused between calls to avoid an n_vocab allocation per token
};

}  // namespace infera
