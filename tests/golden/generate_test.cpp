// End to end on the real default model: text in, text out.
#include "engine/generate.h"

#include <gtest/gtest.h>

#include "golden_compare.h"

namespace infera::testing {
namespace {

struct Loaded {
  std::unique_ptr<Model> model;
  std::unique_ptr<Tokenizer> tokenizer;
};

Loaded load_smollm2() {
  Loaded l;
  l.model = Model::load(real_models_dir() + "/SmolLM2-135M-Instruct.Q4_1.gguf");
  l.tokenizer = Tokenizer::from_gguf(l.model->file());
  return l;
}

std::string complete(const Loaded& l, const std::string& prompt_text, int64_t max_tokens,
                     GenerationStats* stats, bool parse_special = false) {
  ThreadPool pool(2);
  Session session(*l.model, 512, pool);
  SamplingParams greedy;
  greedy.temperature = 0.0f;
  Sampler sampler(greedy, static_cast<int32_t>(l.model->config().n_vocab));
  const auto prompt = l.tokenizer->encode(prompt_text, l.tokenizer->add_bos(), parse_special);
  std::string out;
  *stats = generate(session, *l.tokenizer, sampler, prompt, max_tokens, [&](std::string_view t) {
    out += t;
    return true;
  });
  return out;
}

TEST(Generate, GreedyCompletionNamesParis) {
  const Loaded l = load_smollm2();
  GenerationStats st;
  const std::string text = complete(l, "The capital of France is", 16, &st);
  EXPECT_NE(text.find("Paris"), std::string::npos) << text;
  EXPECT_EQ(st.generated_tokens, 16);
  EXPECT_EQ(st.stop, StopReason::kMaxTokens);
  EXPECT_EQ(l.tokenizer->decode(st.tokens), text);
}

TEST(Generate, ChatTurnAnswersAndStopsAtEndOfTurn) {
  const Loaded l = load_smollm2();
  GenerationStats st;
  // SmolLM2's ChatML turn, written out (chat templates are rendered by the template engine). The
  // reference (llama.cpp) answers "The capital of France is Paris." and ends the turn; its first
  // token leads the runner-up by 1.7 logits, far above rounding noise.
  const std::string text = complete(
      l, "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n", 64,
      &st,
      /*parse_special=*/true);
  EXPECT_NE(text.find("Paris"), std::string::npos) << text;
  EXPECT_EQ(st.stop, StopReason::kEndOfGeneration) << text;
  EXPECT_EQ(text.find("<|im_end|>"), std::string::npos);
}

TEST(Generate, SinkCanCancel) {
  const Loaded l = load_smollm2();
  ThreadPool pool(2);
  Session session(*l.model, 64, pool);
  SamplingParams sp;
  sp.seed = 42;
  Sampler sampler(sp, static_cast<int32_t>(l.model->config().n_vocab));
  const auto prompt = l.tokenizer->encode("Once upon a time", false, false);
  int pieces = 0;
  const auto st = generate(session, *l.tokenizer, sampler, prompt, 50,
                           [&](std::string_view) { return ++pieces < 3; });
  EXPECT_EQ(st.stop, StopReason::kCancelled);
  EXPECT_EQ(pieces, 3);
}

}  // namespace
}  // namespace infera::testing
