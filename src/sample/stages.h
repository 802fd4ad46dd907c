#pragma once
// The stages of the sampler chain. Each is a small value type over a CandidateArray, in the shape
// of llama.cpp's sampler seam (apply / accept / reset; clone is a copy). Sampler (sampler.h) owns
// one of each and runs them in a fixed order; they are separate so that each can be read and
// tested on its own.
//
// Determinism across standard libraries: nth_element / partial_sort leave the order of the
// elements they do not sort unspecified, and that order would change which token a given random
// number lands on. So every stage leaves the array in one of two canonical orders, recorded in
// `sorted`: ascending id (as loaded, narrowed only by stable filters) or descending logit with
// ties broken by the lower id (a total order, so any correct sort gives the same result).
#include <cstdint>
#include <deque>
#include <unordered_map>
#include <vector>

#include "sample/rng.h"

namespace infera {

struct TokenCandidate {
  int32_t id;
  float logit;  // after the stages that ran so far
  float p;      // filled in by softmax(); 0 before
};

struct CandidateArray {
  std::vector<TokenCandidate> items;
  bool sorted = false;  // true: descending logit, ties lowest id first; false: ascending id
};

// The total order the sorting stages use: higher logit first, then lower id.
inline bool candidate_before(const TokenCandidate& a, const TokenCandidate& b) {
  if (a.logit != b.logit) return a.logit > b.logit;
  return a.id < b.id;
}

// Copies `n_vocab` logits into `cur` (index == id, ascending). NaN counts as -inf: a token
// the model gave no number for is never chosen. If any logit is +inf, those tokens take all the
// mass (the limit of softmax): they become 0 and every other token -inf.
void load_candidates(const float* logits, int32_t n_vocab, CandidateArray* cur);

// Removes the -inf candidates, keeping the order. Returns false when none remain.
bool drop_impossible(CandidateArray* cur);

// Keeps only the highest logit, ties to the lowest id (temperature 0).
void keep_argmax(CandidateArray* cur);

// Fills `p` with the softmax of the logits, max-subtracted and summed in double.
void softmax(CandidateArray* cur);

// Repetition (llama.cpp), presence and frequency (OpenAI) penalties over the last `last_n`
// accepted tokens (-1: all of them; 0: none). One window serves all three, as in llama.cpp's
// penalties sampler. Per token with count c > 0 in the window:
//   logit = logit > 0 ? logit / repeat : logit * repeat;
//   logit -= c * frequency + presence;
// ref: llama.cpp src/llama-sampling.cpp (llama_sampler_penalties_apply);
//      https://platform.openai.com/docs/advanced-usage (frequency and presence penalties)
class PenaltyStage {
 public:
  PenaltyStage(float repeat, float presence, float frequency, int32_t last_n);

  // True when the stage can change a logit; accept() records nothing otherwise.
  bool enabled() const { return enabled_; }

  void accept(int32_t token);
  void reset();
  // `cur` must be as load_candidates left it: index == id, all n_vocab entries.
  void apply(CandidateArray* cur) const;

 private:
  float repeat_;
  float presence_;
  float frequency_;
  int32_t last_n_;
  bool enabled_;
  std::deque<int32_t> window_;                   // last_n_ > 0 only: the tokens, oldest first
  std::unordered_map<int32_t, int32_t> counts_;  // token -> occurrences in the window
};

// Keeps the k best candidates (k <= 0: off). O(n + k log k): nth_element, then a sort of the k.
struct TopKStage {
  int32_t k;
  void apply(CandidateArray* cur) const;
};

// Nucleus: keeps the smallest prefix, in descending order, whose probability (softmax of the
// current logits) reaches p (p >= 1: off). Sorts only as far as it needs, in growing chunks, so a
// peaked distribution over a large vocabulary costs about one pass plus a small partial sort.
struct TopPStage {
  float p;
  void apply(CandidateArray* cur) const;
};

// Keeps candidates with p >= min_p * p_max, i.e. logit >= max_logit + log(min_p) (min_p <= 0:
// off). A stable filter: needs no sort, keeps the order.
struct MinPStage {
  float min_p;
  void apply(CandidateArray* cur) const;
};

// Divides the logits by t (t > 0). When the quotient would overflow (huge logits, tiny t), the
// logits are first shifted by their maximum, which leaves the softmax unchanged.
struct TemperatureStage {
  float t;
  void apply(CandidateArray* cur) const;
};

// The final draw from the softmax of what is left.
class DistStage {
 public:
  explicit DistStage(uint64_t seed) : seed_(seed), rng_(seed) {}
  void reset() { rng_.seed(seed_); }
  // `cur` must hold p from softmax(). Walks the candidates in their (canonical) order and returns
  // the id where the running sum of p first exceeds u * sum(p), u uniform in [0, 1).
  int32_t draw(const CandidateArray& cur);

 private:
  uint64_t seed_;
  Xoshiro256 rng_;
};

}  // namespace infera
