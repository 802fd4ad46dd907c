// gguf::summarize() and the numbers `infera inspect` prints: hyper-parameters, tensor-type table,
// tokenizer facts and the RAM estimate.
#include "gguf/gguf_summary.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "gguf_test_builder.h"

namespace infera::testing {
namespace {

using gguf::GgufFile;
using Bytes = std::vector<uint8_t>;

TEST(GgufSummary, TinyLlama) {
  const Bytes bytes = tiny_llama().build();
  const auto f = GgufFile::from_memory(bytes.data(), bytes.size());
  const gguf::ModelSummary s = gguf::summarize(*f);
  EXPECT_EQ(s.path, "<memory>");
  EXPECT_EQ(s.file_size, bytes.size());
  EXPECT_EQ(s.version, 3u);
  EXPECT_EQ(s.alignment, 32u);
  EXPECT_EQ(s.architecture, "llama");
  EXPECT_EQ(s.name, "tiny");
  EXPECT_EQ(s.context_length, 128u);
  EXPECT_EQ(s.embedding_length, 64u);
  EXPECT_EQ(s.block_count, 2u);
  EXPECT_EQ(s.feed_forward_length, 128u);
  EXPECT_EQ(s.head_count, 4u);
  EXPECT_EQ(s.head_count_kv, 2u);
  EXPECT_EQ(s.key_length, 16u);  // 64 / 4
  EXPECT_EQ(s.value_length, 16u);
  EXPECT_TRUE(s.head_dim_derived);
  EXPECT_EQ(s.rope_freq_base, 10000.0);
  EXPECT_FLOAT_EQ(static_cast<float>(*s.rms_eps), 1e-5f);
  EXPECT_FALSE(s.sliding_window.has_value());

  EXPECT_EQ(s.tensor_count, 2u);
  ASSERT_EQ(s.tensor_types.size(), 2u);
  // Sorted by bytes: Q8_0 [64, 4] = 8 blocks × 34 B = 272 B; F32 [64] = 256 B.
  EXPECT_EQ(s.tensor_types[0].type, TensorType::Q8_0);
  EXPECT_EQ(s.tensor_types[0].bytes, 272u);
  EXPECT_EQ(s.tensor_types[0].elements, 256u);
  EXPECT_EQ(s.tensor_types[1].type, TensorType::F32);
  EXPECT_EQ(s.tensor_types[1].bytes, 256u);
  EXPECT_EQ(s.total_weight_bytes, 528u);
  EXPECT_EQ(s.parameter_count, 320u);
  EXPECT_FALSE(s.has_unsupported_types);

  EXPECT_EQ(s.tokenizer_model, "gpt2");
  EXPECT_EQ(s.vocab_size, 4u);
  EXPECT_EQ(s.bos_token_id, 0u);
  EXPECT_EQ(s.eos_token_id, 1u);
  EXPECT_TRUE(s.has_chat_template);
  EXPECT_EQ(s.chat_template_bytes, 14u);
}

TEST(GgufSummary, KvCacheEstimate) {
  const Bytes bytes = tiny_llama().build();
  const auto f = GgufFile::from_memory(bytes.data(), bytes.size());
  const gguf::ModelSummary s = gguf::summarize(*f);
  // 2 (K and V) × n_layer 2 × n_ctx × n_kv_head 2 × head_dim 16 × 2 bytes (fp16).
  EXPECT_EQ(gguf::kv_cache_bytes(s, 128), 2u * 2 * 128 * 2 * 16 * 2);
  EXPECT_EQ(gguf::kv_cache_bytes(s, 0), 0u);
  EXPECT_EQ(gguf::kv_cache_bytes(s, UINT64_MAX), std::nullopt);  // overflows

  const gguf::RamEstimate model_ctx = gguf::estimate_ram(s);
  EXPECT_EQ(model_ctx.n_ctx, 128u);
  EXPECT_EQ(model_ctx.weights_bytes, bytes.size());
  EXPECT_EQ(model_ctx.kv_cache_bytes, 32768u);
  EXPECT_EQ(model_ctx.total_bytes, bytes.size() + 32768u);
  const gguf::RamEstimate asked = gguf::estimate_ram(s, 4096);
  EXPECT_EQ(asked.n_ctx, 4096u);
  EXPECT_EQ(asked.kv_cache_bytes, 32768u * 32);
}

TEST(GgufSummary, ExplicitHeadDimsAndRopeScaling) {
  GgufBuilder b;
  b.kv_string("general.architecture", "qwen3")
      .kv_u32("qwen3.block_count", 3)
      .kv_u32("qwen3.embedding_length", 100)
      .kv_u32("qwen3.attention.head_count", 10)
      .kv_array("qwen3.attention.head_count_kv", array_u32({1, 4, 2}))  // per layer: max is used
      .kv_u32("qwen3.attention.key_length", 128)
      .kv_u32("qwen3.attention.value_length", 64)
      .kv_u32("qwen3.attention.sliding_window", 512)
      .kv_string("qwen3.rope.scaling.type", "yarn")
      .kv_f32("qwen3.rope.scaling.factor", 4.0f)
      .kv_u32("qwen3.rope.scaling.original_context_length", 32768)
      .tensor("w", TensorType::IQ2_XXS, {256});
  const Bytes bytes = b.build();
  const auto f = GgufFile::from_memory(bytes.data(), bytes.size());
  const gguf::ModelSummary s = gguf::summarize(*f);
  EXPECT_EQ(s.head_count_kv, 4u);
  EXPECT_EQ(s.key_length, 128u);
  EXPECT_EQ(s.value_length, 64u);
  EXPECT_FALSE(s.head_dim_derived);
  EXPECT_EQ(s.sliding_window, 512u);
  EXPECT_EQ(s.rope_scaling_type, "yarn");
  EXPECT_EQ(s.rope_scaling_factor, 4.0);
  EXPECT_EQ(s.rope_scaling_original_context, 32768u);
  EXPECT_TRUE(s.has_unsupported_types);
  EXPECT_EQ(gguf::kv_cache_bytes(s, 10), 3u * 10 * 4 * (128 + 64) * 2);
  EXPECT_FALSE(s.context_length.has_value());
  EXPECT_EQ(gguf::estimate_ram(s).n_ctx, 0u);
}

TEST(GgufSummary, MissingKeysGiveNoEstimate) {
  const Bytes bytes = GgufBuilder().kv_string("general.name", "bare").build();
  const auto f = GgufFile::from_memory(bytes.data(), bytes.size());
  const gguf::ModelSummary s = gguf::summarize(*f);
  EXPECT_EQ(s.architecture, "");
  EXPECT_EQ(gguf::kv_cache_bytes(s, 100), std::nullopt);
  const gguf::RamEstimate e = gguf::estimate_ram(s, 100);
  EXPECT_EQ(e.kv_cache_bytes, std::nullopt);
  EXPECT_EQ(e.total_bytes, bytes.size());
}

TEST(GgufSummary, Formatting) {
  EXPECT_EQ(gguf::format_bytes(0), "0 B");
  EXPECT_EQ(gguf::format_bytes(1023), "1023 B");
  EXPECT_EQ(gguf::format_bytes(1536), "1.50 KiB");
  EXPECT_EQ(gguf::format_bytes(uint64_t{3} << 30), "3.00 GiB");
  EXPECT_EQ(gguf::format_bytes(UINT64_MAX), "16.00 EiB");
  EXPECT_EQ(gguf::format_count(999), "999");
  EXPECT_EQ(gguf::format_count(134515008), "134.52M");
  EXPECT_EQ(gguf::format_count(1240000000), "1.24B");

  const Bytes bytes = all_value_types().build();
  const auto f = GgufFile::from_memory(bytes.data(), bytes.size());
  EXPECT_EQ(gguf::describe_value(*f->find("t.i8")), "-100");
  EXPECT_EQ(gguf::describe_value(*f->find("t.bool")), "true");
  EXPECT_EQ(gguf::describe_value(*f->find("t.f32")), "1.5");
  EXPECT_EQ(gguf::describe_value(*f->find("a.strings")), "[STRING × 3] \"\", \"one\", \"two\"");
  EXPECT_EQ(gguf::describe_value(*f->find("a.u8"), 2), "[UINT8 × 3] 1, 2, ...");
  EXPECT_EQ(gguf::describe_value(*f->find("a.nested")),
            "[ARRAY × 2] ([INT16 × 2] 1, 2), ([INT16 × 1] 3)");
  EXPECT_EQ(gguf::describe_value(*f->find("t.string"), 6, 5), "\"h\xc3\xa9ll...\"");
}

TEST(GgufSummary, RealSmolLM2) {
  const char* dir = std::getenv("INFERA_MODELS_DIR");
  const char* home = std::getenv("HOME");
  const std::string path =
      (dir ? std::string(dir) : std::string(home ? home : "") + "/.cache/infera/models") +
      "/SmolLM2-135M-Instruct.Q4_1.gguf";
  if (!std::filesystem::exists(path)) GTEST_SKIP() << "model not found at " << path;
  const auto f = GgufFile::open(path);
  const gguf::ModelSummary s = gguf::summarize(*f);
  EXPECT_EQ(s.architecture, "llama");
  EXPECT_EQ(s.embedding_length, 576u);
  EXPECT_EQ(s.block_count, 30u);
  EXPECT_EQ(s.head_count, 9u);
  EXPECT_EQ(s.head_count_kv, 3u);
  EXPECT_EQ(s.key_length, 64u);
  EXPECT_EQ(s.tensor_count, 272u);
  EXPECT_EQ(s.vocab_size, 49152u);
  EXPECT_TRUE(s.has_chat_template);
  // 2 × 30 layers × 2048 tokens × 3 KV heads × 64 × 2 bytes = 45 MiB.
  EXPECT_EQ(gguf::kv_cache_bytes(s, 2048), 2ull * 30 * 2048 * 3 * 64 * 2);
  EXPECT_GT(s.parameter_count, 130000000u);
  EXPECT_LT(s.total_weight_bytes, s.file_size);
}

}  // namespace
}  // namespace infera::testing
