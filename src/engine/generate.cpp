#include "engine/generate.h"

#include <chrono>

namespace infera {

std::string_view stop_reason_name(StopReason reason) {
  switch (reason) {
    case StopReason::kEndOfGeneration:
      return "end of generation";
    case StopReason::kMaxTokens:
      return "token limit";
    case StopReason::kContextFull:
      return "context full";
    case StopReason::kCancelled:
      return "cancelled";
  }
  return "unknown";
}

GenerationStats generate(Session& session, const Tokenizer& tokenizer, Sampler& sampler,
                         std::span<const int32_t> prompt, int64_t max_tokens,
                         const TextSink& sink) {
  using Clock = std::chrono::steady_clock;
  GenerationStats st;
  st.prompt_tokens = static_cast<int64_t>(prompt.size());
  for (int32_t t : prompt) sampler.accept(t);

  std::vector<float> logits;
  const auto t0 = Clock::now();
  session.eval(prompt, LogitsFor::kLastToken, &logits);
  const auto t1 = Clock::now();
  st.prompt_seconds = std::chrono::duration<double>(t1 - t0).count();

  IncrementalDecoder decoder(tokenizer);
  bool cancelled = false;
  while (true) {
    if (st.generated_tokens >= max_tokens) {
      st.stop = StopReason::kMaxTokens;
      break;
    }
    const int32_t next = sampler.sample(logits.data());
    if (tokenizer.is_eog(next)) {
      st.stop = StopReason::kEndOfGeneration;
      break;
    }
    sampler.accept(next);
    st.tokens.push_back(next);
    ++st.generated_tokens;
    const std::string text = decoder.push(next);
    if (!text.empty() && !sink(text)) {
      cancelled = true;
      st.stop = StopReason::kCancelled;
      break;
    }
    if (st.generated_tokens >= max_tokens) {
      st.stop = StopReason::kMaxTokens;
      break;
    }
    if (session.n_past() >= session.n_ctx()) {
      st.stop = StopReason::kContextFull;
      break;
    }
    session.eval(std::span<const int32_t>(&next, 1), LogitsFor::kLastToken, &logits);
  }
  if (!cancelled) {
    const std::string rest = decoder.flush();
    if (!rest.empty()) sink(rest);
  }
  st.generate_seconds = std::chrono::duration<double>(Clock::now() - t1).count();
  return st;
}

}  // namespace infera
