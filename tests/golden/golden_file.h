#pragma once
// Reader of the golden reference files written by tools/gen_golden_logits.py (format
// "INFGLD01", described there and in tests/README.md).
#include <cstdint>
#include <string>
#include <vector>

namespace infera::testing {

struct GoldenSequence {
  std::vector<int32_t> tokens;
  uint32_t top_k = 0;
  // For position p: ids[p*top_k + j] and logprobs[p*top_k + j], j-th most likely next token of
  // the reference after tokens[0..p], by decreasing log-probability.
  std::vector<int32_t> ids;
  std::vector<float> logprobs;
};

struct GoldenGreedy {
  std::vector<int32_t> prompt;
  std::vector<int32_t> generated;
};

struct GoldenFile {
  uint32_t n_vocab = 0;
  std::vector<GoldenSequence> sequences;
  std::vector<GoldenGreedy> greedy;
};

// Throws std::runtime_error on a missing or malformed file.
GoldenFile read_golden_file(const std::string& path);

}  // namespace infera::testing
