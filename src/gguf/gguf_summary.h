#pragma once
// What `infera inspect` shows about a GGUF file, computed once from a validated GgufFile so it can
// be tested without the CLI: hyper-parameters, tensor-type statistics, tokenizer facts and a RAM
// estimate. Missing or oddly typed keys become empty fields here, never errors: inspect should show
// whatever a valid file holds.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "gguf/gguf_file.h"

namespace infera::gguf {

struct TensorTypeStats {
  TensorType type = TensorType::F32;
  uint64_t count = 0;
  uint64_t elements = 0;
  uint64_t bytes = 0;
};

struct ModelSummary {
  std::string path;
  uint64_t file_size = 0;
  uint32_t version = 0;
  uint64_t alignment = 0;
  uint64_t data_offset = 0;

  std::string architecture;  // general.architecture ("" when absent)
  std::string name;          // general.name

  // Hyper-parameters from `{arch}.*` keys. Per-layer arrays are summarised by their maximum.
  std::optional<uint64_t> context_length;
  std::optional<uint64_t> embedding_length;
  std::optional<uint64_t> block_count;
  std::optional<uint64_t> feed_forward_length;
  std::optional<uint64_t> head_count;
  std::optional<uint64_t> head_count_kv;  // defaults to head_count when absent
  std::optional<uint64_t> key_length;     // per-head K width (explicit or embedding / heads)
  std::optional<uint64_t> value_length;   // per-head V width
  bool head_dim_derived = false;          // key/value length computed, not read
  std::optional<double> rope_freq_base;
  std::optional<uint64_t> rope_dimension_count;
  std::optional<double> rms_eps;   // attention.layer_norm_rms_epsilon
  std::optional<double> norm_eps;  // attention.layer_norm_epsilon
  std::optional<uint64_t> sliding_window;
  std::optional<std::string> rope_scaling_type;
  std::optional<double> rope_scaling_factor;
  std::optional<uint64_t> rope_scaling_original_context;
  std::optional<uint64_t> vocab_size_key;  // {arch}.vocab_size

  uint64_t tensor_count = 0;
  std::vector<TensorTypeStats> tensor_types;  // sorted by bytes, largest first
  uint64_t total_weight_bytes = 0;
  uint64_t parameter_count = 0;
  bool has_unsupported_types = false;

  std::string tokenizer_model;  // tokenizer.ggml.model
  std::string tokenizer_pre;    // tokenizer.ggml.pre
  uint64_t vocab_size = 0;      // length of tokenizer.ggml.tokens
  std::optional<uint64_t> bos_token_id;
  std::optional<uint64_t> eos_token_id;
  bool has_chat_template = false;
  uint64_t chat_template_bytes = 0;
};

ModelSummary summarize(const GgufFile& file);

// Bytes an fp16 K and V cache (the engine's cache type) takes for `n_ctx` tokens:
// n_layer × n_ctx × n_kv_head × (key_length + value_length) × 4. nullopt when a needed
// hyper-parameter is missing or the product overflows.
std::optional<uint64_t> kv_cache_bytes(const ModelSummary& s, uint64_t n_ctx);

struct RamEstimate {
  uint64_t n_ctx = 0;
  uint64_t weights_bytes = 0;              // the mapped file
  std::optional<uint64_t> kv_cache_bytes;  // nullopt when unknown
  uint64_t total_bytes = 0;                // weights + KV cache (saturating)
};
// n_ctx = 0 means the model's own context length (or 0 tokens when the file does not say).
RamEstimate estimate_ram(const ModelSummary& s, uint64_t n_ctx = 0);

// "512 B", "1.50 KiB", "135.00 MiB", "1.23 GiB".
std::string format_bytes(uint64_t bytes);
// "135.1M", "1.24B", "900".
std::string format_count(uint64_t n);
// A value for display: scalars as text, strings quoted (cut at max_chars), arrays as
// "[TYPE × count] first, few, ..." showing at most max_elements elements.
std::string describe_value(const Value& value, size_t max_elements = 6, size_t max_chars = 60);

}  // namespace infera::gguf
