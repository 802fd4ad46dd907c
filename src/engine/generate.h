#pragma once
// One prompt in, streamed text out: the loop that ties the model, the sampler and the
// detokenizer together for a single sequence.
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "model/session.h"
#include "sample/sampler.h"
#include "tokenizer/tokenizer.h"

namespace infera {

enum class StopReason { kEndOfGeneration, kMaxTokens, kContextFull, kCancelled };
std::string_view stop_reason_name(StopReason reason);

struct GenerationStats {
  int64_t prompt_tokens = 0;
  int64_t generated_tokens = 0;
  double prompt_seconds = 0;    // prompt processing (prefill)
  double generate_seconds = 0;  // sampling and decoding after the first forward pass
  StopReason stop = StopReason::kMaxTokens;
  std::vector<int32_t> tokens;  // the generated ids (EOG token excluded)
};

// Called with each piece of complete UTF-8 text as it is produced; return false to stop.
using TextSink = std::function<bool(std::string_view text)>;

// Evaluates `prompt` in `session` (appended to what it holds), then samples up to `max_tokens`
// tokens, stopping early at an end-of-generation token or when the context is full.
// Throws infera::Error when the prompt itself does not fit.
GenerationStats generate(Session& session, const Tokenizer& tokenizer, Sampler& sampler,
                         std::span<const int32_t> prompt, int64_t max_tokens, const TextSink& sink);

}  // namespace infera
