#include "gguf/gguf_summary.h"

#include <algorithm>
#include <cstdio>
#include <map>

#include "core/checked_math.h"

namespace infera::gguf {
namespace {

// An integer hyper-parameter; a per-layer array (as some architectures write) gives its maximum.
std::optional<uint64_t> int_param(const GgufFile& f, const std::string& key) {
  const Value* v = f.find(key);
  if (v == nullptr) return std::nullopt;
  if (v->type == ValueType::ARRAY) {
    std::optional<uint64_t> best;
    for (const Value& e : v->array) {
      const auto n = e.as_u64();
      if (n && (!best || *n > *best)) best = n;
    }
    return best;
  }
  return v->as_u64();
}

std::optional<double> float_param(const GgufFile& f, const std::string& key) {
  const Value* v = f.find(key);
  return v == nullptr ? std::nullopt : v->as_f64();
}

std::string string_param(const GgufFile& f, const std::string& key) {
  const Value* v = f.find(key);
  return v != nullptr && v->type == ValueType::STRING ? v->s : std::string();
}

std::string cut(const std::string& s, size_t max_chars) {
  std::string out;
  for (char c : s.substr(0, max_chars)) {
    if (c == '\n') {
      out += "\\n";
    } else if (static_cast<unsigned char>(c) < 0x20) {
      out += '?';
    } else {
      out += c;
    }
  }
  if (s.size() > max_chars) out += "...";
  return out;
}

}  // namespace

ModelSummary summarize(const GgufFile& f) {
  ModelSummary s;
  s.path = f.path();
  s.file_size = f.file_size();
  s.version = f.version();
  s.alignment = f.alignment();
  s.data_offset = f.data_offset();
  s.architecture = string_param(f, "general.architecture");
  s.name = string_param(f, "general.name");

  const std::string a = s.architecture + ".";
  s.context_length = int_param(f, a + "context_length");
  s.embedding_length = int_param(f, a + "embedding_length");
  s.block_count = int_param(f, a + "block_count");
  s.feed_forward_length = int_param(f, a + "feed_forward_length");
  s.head_count = int_param(f, a + "attention.head_count");
  s.head_count_kv = int_param(f, a + "attention.head_count_kv");
  if (!s.head_count_kv) s.head_count_kv = s.head_count;
  s.key_length = int_param(f, a + "attention.key_length");
  s.value_length = int_param(f, a + "attention.value_length");
  if ((!s.key_length || !s.value_length) && s.embedding_length && s.head_count &&
      *s.head_count != 0) {
    const uint64_t head_dim = *s.embedding_length / *s.head_count;
    if (!s.key_length) s.key_length = head_dim;
    if (!s.value_length) s.value_length = head_dim;
    s.head_dim_derived = true;
  }
  s.rope_freq_base = float_param(f, a + "rope.freq_base");
  s.rope_dimension_count = int_param(f, a + "rope.dimension_count");
  s.rms_eps = float_param(f, a + "attention.layer_norm_rms_epsilon");
  s.norm_eps = float_param(f, a + "attention.layer_norm_epsilon");
  s.sliding_window = int_param(f, a + "attention.sliding_window");
  if (const Value* v = f.find(a + "rope.scaling.type"); v && v->type == ValueType::STRING) {
    s.rope_scaling_type = v->s;
  }
  s.rope_scaling_factor = float_param(f, a + "rope.scaling.factor");
  s.rope_scaling_original_context = int_param(f, a + "rope.scaling.original_context_length");
  s.vocab_size_key = int_param(f, a + "vocab_size");

  s.tensor_count = f.tensors().size();
  std::map<uint32_t, TensorTypeStats> by_type;
  for (const TensorInfo& t : f.tensors()) {
    TensorTypeStats& st = by_type[static_cast<uint32_t>(t.type)];
    st.type = t.type;
    st.count += 1;
    // Sums cannot overflow: the reader bounds every tensor by the file size and rejects overlaps.
    st.elements += t.n_elements;
    st.bytes += t.n_bytes;
    s.total_weight_bytes += t.n_bytes;
    s.parameter_count += t.n_elements;
  }
  for (const auto& [id, st] : by_type) {
    s.tensor_types.push_back(st);
    if (!traits_of(st.type).supported) s.has_unsupported_types = true;
  }
  std::stable_sort(
      s.tensor_types.begin(), s.tensor_types.end(),
      [](const TensorTypeStats& x, const TensorTypeStats& y) { return x.bytes > y.bytes; });

  s.tokenizer_model = string_param(f, "tokenizer.ggml.model");
  s.tokenizer_pre = string_param(f, "tokenizer.ggml.pre");
  if (const Value* v = f.find("tokenizer.ggml.tokens"); v && v->type == ValueType::ARRAY) {
    s.vocab_size = v->array.size();
  }
  s.bos_token_id = int_param(f, "tokenizer.ggml.bos_token_id");
  s.eos_token_id = int_param(f, "tokenizer.ggml.eos_token_id");
  if (const Value* v = f.find("tokenizer.chat_template"); v && v->type == ValueType::STRING) {
    s.has_chat_template = true;
    s.chat_template_bytes = v->s.size();
  }
  return s;
}

std::optional<uint64_t> kv_cache_bytes(const ModelSummary& s, uint64_t n_ctx) {
  if (!s.block_count || !s.head_count_kv || !s.key_length || !s.value_length) return std::nullopt;
  uint64_t head_width, bytes;
  if (!checked_add(*s.key_length, *s.value_length, &head_width)) return std::nullopt;
  if (!checked_mul(*s.block_count, n_ctx, &bytes) ||
      !checked_mul(bytes, *s.head_count_kv, &bytes) || !checked_mul(bytes, head_width, &bytes) ||
      !checked_mul(bytes, sizeof(uint16_t), &bytes)) {
    return std::nullopt;
  }
  return bytes;
}

RamEstimate estimate_ram(const ModelSummary& s, uint64_t n_ctx) {
  RamEstimate e;
  e.n_ctx = n_ctx != 0 ? n_ctx : s.context_length.value_or(0);
  e.weights_bytes = s.file_size;
  e.kv_cache_bytes = kv_cache_bytes(s, e.n_ctx);
  e.total_bytes = e.weights_bytes;
  if (e.kv_cache_bytes && !checked_add(e.total_bytes, *e.kv_cache_bytes, &e.total_bytes)) {
    e.total_bytes = UINT64_MAX;
  }
  return e;
}

std::string format_bytes(uint64_t bytes) {
  static constexpr const char* kUnits[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  if (bytes < 1024) return std::to_string(bytes) + " B";
  double v = static_cast<double>(bytes) / 1024.0;
  size_t u = 0;
  while (v >= 1024.0 && u + 1 < std::size(kUnits)) {
    v /= 1024.0;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f %s", v, kUnits[u]);
  return buf;
}

std::string format_count(uint64_t n) {
  static constexpr const char* kUnits[] = {"K", "M", "B", "T"};
  if (n < 1000) return std::to_string(n);
  double v = static_cast<double>(n) / 1000.0;
  size_t u = 0;
  while (v >= 1000.0 && u + 1 < std::size(kUnits)) {
    v /= 1000.0;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f%s", v, kUnits[u]);
  return buf;
}

std::string describe_value(const Value& v, size_t max_elements, size_t max_chars) {
  char buf[64];
  switch (v.type) {
    case ValueType::UINT8:
    case ValueType::UINT16:
    case ValueType::UINT32:
    case ValueType::UINT64:
      return std::to_string(v.u);
    case ValueType::INT8:
    case ValueType::INT16:
    case ValueType::INT32:
    case ValueType::INT64:
      return std::to_string(v.i);
    case ValueType::FLOAT32:
    case ValueType::FLOAT64:
      std::snprintf(buf, sizeof buf, "%g", v.f);
      return buf;
    case ValueType::BOOL:
      return v.u ? "true" : "false";
    case ValueType::STRING:
      return "\"" + cut(v.s, max_chars) + "\"";
    case ValueType::ARRAY: {
      std::string out = "[" + std::string(value_type_name(v.array_type)) + " × " +
                        std::to_string(v.array.size()) + "]";
      const size_t shown = std::min(max_elements, v.array.size());
      for (size_t k = 0; k < shown; ++k) {
        out += k == 0 ? " " : ", ";
        const std::string inner = describe_value(v.array[k], std::min<size_t>(max_elements, 3), 24);
        out += v.array_type == ValueType::ARRAY ? "(" + inner + ")" : inner;
      }
      if (shown < v.array.size()) out += ", ...";
      return out;
    }
  }
  return "?";
}

}  // namespace infera::gguf
