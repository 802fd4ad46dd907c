// `infera inspect MODEL.gguf`: what a GGUF file holds and how much memory running it takes.
// Thin: the numbers come from gguf::summarize(); this file only prints them.
#include <cstdint>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>

#include "cli/commands.h"
#include "gguf/gguf_file.h"
#include "gguf/gguf_summary.h"

namespace infera::cli {
namespace {

struct InspectOptions {
  std::string model;
  uint64_t ctx_size = 0;
  bool metadata = false;
  bool tensors = false;
};

void row(const char* label, const std::string& value) {
  std::printf("  %-24s %s\n", label, value.c_str());
}

void row_u64(const char* label, const std::optional<uint64_t>& v, const char* suffix = "") {
  if (v) row(label, std::to_string(*v) + suffix);
}

void row_f64(const char* label, const std::optional<double>& v) {
  if (!v) return;
  char buf[48];
  std::snprintf(buf, sizeof buf, "%g", *v);
  row(label, buf);
}

std::string shape_of(const gguf::TensorInfo& t) {
  std::string out = "[";
  for (uint32_t d = 0; d < t.n_dims; ++d) out += (d ? ", " : "") + std::to_string(t.ne[d]);
  return out + "]";
}

void print_summary(const gguf::GgufFile& file, const InspectOptions& opt) {
  const gguf::ModelSummary s = gguf::summarize(file);

  std::printf("%s\n", s.path.c_str());
  row("file size", gguf::format_bytes(s.file_size) + " (" + std::to_string(s.file_size) + " B)");
  row("GGUF version", std::to_string(s.version));
  row("alignment", std::to_string(s.alignment));
  row("data offset", std::to_string(s.data_offset));
  row("architecture", s.architecture.empty() ? "(not set)" : s.architecture);
  if (!s.name.empty()) row("model name", s.name);

  std::printf("\nhyper-parameters\n");
  row_u64("context length", s.context_length);
  row_u64("embedding length", s.embedding_length);
  row_u64("block count", s.block_count);
  row_u64("feed-forward length", s.feed_forward_length);
  row_u64("attention heads", s.head_count);
  row_u64("KV heads", s.head_count_kv);
  const char* derived = s.head_dim_derived ? " (embedding / heads)" : "";
  row_u64("key length", s.key_length, derived);
  row_u64("value length", s.value_length, derived);
  row_f64("rope freq base", s.rope_freq_base);
  row_u64("rope dimensions", s.rope_dimension_count);
  row_f64("RMS norm epsilon", s.rms_eps);
  row_f64("norm epsilon", s.norm_eps);
  row_u64("sliding window", s.sliding_window);
  if (s.rope_scaling_type) row("rope scaling type", *s.rope_scaling_type);
  row_f64("rope scaling factor", s.rope_scaling_factor);
  row_u64("rope original context", s.rope_scaling_original_context);
  row_u64("vocab size (key)", s.vocab_size_key);

  std::printf("\ntensors: %llu, %s weights, %s parameters\n",
              static_cast<unsigned long long>(s.tensor_count),
              gguf::format_bytes(s.total_weight_bytes).c_str(),
              gguf::format_count(s.parameter_count).c_str());
  std::printf("  %-10s %8s %14s %12s\n", "type", "count", "parameters", "bytes");
  for (const auto& t : s.tensor_types) {
    const auto& traits = traits_of(t.type);
    std::printf("  %-10s %8llu %14s %12s%s\n", std::string(traits.name).c_str(),
                static_cast<unsigned long long>(t.count), gguf::format_count(t.elements).c_str(),
                gguf::format_bytes(t.bytes).c_str(), traits.supported ? "" : "  (not supported)");
  }
  if (s.has_unsupported_types) {
    std::printf("  note: infera cannot run tensors of the types marked (not supported)\n");
  }

  std::printf("\ntokenizer\n");
  row("model", s.tokenizer_model.empty() ? "(not set)" : s.tokenizer_model);
  if (!s.tokenizer_pre.empty()) row("pre-tokenizer", s.tokenizer_pre);
  row("vocab size", std::to_string(s.vocab_size));
  row_u64("BOS id", s.bos_token_id);
  row_u64("EOS id", s.eos_token_id);
  row("chat template",
      s.has_chat_template ? "yes (" + std::to_string(s.chat_template_bytes) + " bytes)" : "no");

  const gguf::RamEstimate ram = gguf::estimate_ram(s, opt.ctx_size);
  std::printf("\nestimated RAM at %llu tokens of context\n",
              static_cast<unsigned long long>(ram.n_ctx));
  row("mapped weights", gguf::format_bytes(ram.weights_bytes));
  row("KV cache (f16)",
      ram.kv_cache_bytes ? gguf::format_bytes(*ram.kv_cache_bytes) : "unknown (missing keys)");
  row("total", gguf::format_bytes(ram.total_bytes));

  if (opt.metadata) {
    std::printf("\nmetadata (%zu keys)\n", file.metadata().size());
    for (const auto& [key, value] : file.metadata()) {
      std::printf("  %-40s %s\n", key.c_str(), gguf::describe_value(value).c_str());
    }
  }
  if (opt.tensors) {
    std::printf("\ntensors\n");
    std::printf("  %-40s %-8s %-24s %12s\n", "name", "type", "shape", "bytes");
    for (const gguf::TensorInfo& t : file.tensors()) {
      std::printf("  %-40s %-8s %-24s %12llu\n", t.name.c_str(),
                  std::string(tensor_type_name(t.type)).c_str(), shape_of(t).c_str(),
                  static_cast<unsigned long long>(t.n_bytes));
    }
  }
}

}  // namespace

void add_inspect_command(CLI::App& app) {
  auto opt = std::make_shared<InspectOptions>();
  CLI::App* cmd = app.add_subcommand("inspect", "Show what a GGUF model file holds");
  cmd->add_option("model", opt->model, "GGUF file")->required();
  cmd->add_option("--ctx-size,-c", opt->ctx_size,
                  "Context length for the KV-cache estimate (default: the model's)");
  cmd->add_flag("--metadata", opt->metadata, "Print every metadata key");
  cmd->add_flag("--tensors", opt->tensors, "Print every tensor");
  cmd->callback([opt]() {
    const auto file = gguf::GgufFile::open(opt->model);
    print_summary(*file, *opt);
  });
}

}  // namespace infera::cli
