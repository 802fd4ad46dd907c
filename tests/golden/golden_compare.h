#pragma once
// Runs infera on the token sequences of a golden file and measures agreement with the reference.
#include <string>

#include "golden_file.h"
#include "model/model.h"

namespace infera::testing {

struct TeacherForcedStats {
  int64_t positions = 0;
  int64_t top1_agree = 0;
  double kl_sum = 0;  // Σ KL(reference ‖ infera) over the reference's top-k plus one "rest" bucket
  double kl_max = 0;
  double top1_rate() const { return positions ? static_cast<double>(top1_agree) / positions : 0; }
  double kl_mean() const { return positions ? kl_sum / positions : 0; }
};

struct GreedyStats {
  int prompts = 0;
  int identical = 0;
  // Of the prompts that diverged: the largest gap between infera's top two logits at the step
  // where it first chose differently. A divergence at a near-tie is rounding noise; one where
  // infera was sure of another token is an error.
  double max_divergence_margin = 0;
  std::string first_mismatch;  // a readable description of the first prompt that differed
};

// Uses whole sequences in file order until at least `min_positions` positions are covered (all of
// them when min_positions is 0).
TeacherForcedStats compare_teacher_forced(const Model& model, const GoldenFile& golden,
                                          int n_threads, int64_t min_positions = 0);
GreedyStats compare_greedy(const Model& model, const GoldenFile& golden, int n_threads);

// Where the real models live: $INFERA_MODELS_DIR, else ~/.cache/infera/models (as
// tools/fetch_models.sh puts them).
std::string real_models_dir();

}  // namespace infera::testing
