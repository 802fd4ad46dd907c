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
  std::string first_mismatch;  // a readable description of the first prompt that differed
};

TeacherForcedStats compare_teacher_forced(const Model& model, const GoldenFile& golden, int n_threads);
GreedyStats compare_greedy(const Model& model, const GoldenFile& golden, int n_threads);

// Where the real models live: $INFERA_MODELS_DIR, else ~/.cache/infera/models (as
// tools/fetch_models.sh puts them).
std::string real_models_dir();

}  // namespace infera::testing
