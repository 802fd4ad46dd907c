#pragma once
// A small GGUF byte builder for tests: writes well-formed files by default and lets a test override
// any field (magic, version, counts, raw key/value bytes, tensor infos) to craft a bad file.
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/checked_math.h"
#include "gguf/gguf_file.h"
#include "quant/tensor_type.h"

namespace infera::testing {

using gguf::ValueType;

// Little-endian byte sink.
class ByteWriter {
 public:
  template <typename T>
  ByteWriter& put(T value) {
    uint8_t raw[sizeof(T)];
    std::memcpy(raw, &value, sizeof(T));
    bytes_.insert(bytes_.end(), raw, raw + sizeof(T));
    return *this;
  }
  ByteWriter& u8(uint8_t v) { return put(v); }
  ByteWriter& i8(int8_t v) { return put(v); }
  ByteWriter& u16(uint16_t v) { return put(v); }
  ByteWriter& i16(int16_t v) { return put(v); }
  ByteWriter& u32(uint32_t v) { return put(v); }
  ByteWriter& i32(int32_t v) { return put(v); }
  ByteWriter& u64(uint64_t v) { return put(v); }
  ByteWriter& i64(int64_t v) { return put(v); }
  ByteWriter& f32(float v) { return put(v); }
  ByteWriter& f64(double v) { return put(v); }
  ByteWriter& type(ValueType t) { return u32(static_cast<uint32_t>(t)); }
  // A GGUF string: u64 length + bytes.
  ByteWriter& str(std::string_view s) {
    u64(s.size());
    return raw(s);
  }
  ByteWriter& raw(std::string_view s) {
    bytes_.insert(bytes_.end(), s.begin(), s.end());
    return *this;
  }
  ByteWriter& append(const ByteWriter& other) {
    bytes_.insert(bytes_.end(), other.bytes_.begin(), other.bytes_.end());
    return *this;
  }
  ByteWriter& pad_to(uint64_t alignment, uint8_t fill = 0) {
    while (bytes_.size() % alignment != 0) bytes_.push_back(fill);
    return *this;
  }
  const std::vector<uint8_t>& bytes() const { return bytes_; }
  std::vector<uint8_t>& bytes() { return bytes_; }
  size_t size() const { return bytes_.size(); }

 private:
  std::vector<uint8_t> bytes_;
};

// Array value bodies (element type + count + elements), for kv() with ValueType::ARRAY.
inline ByteWriter array_u32(const std::vector<uint32_t>& xs) {
  ByteWriter w;
  w.type(ValueType::UINT32).u64(xs.size());
  for (uint32_t x : xs) w.u32(x);
  return w;
}
inline ByteWriter array_i32(const std::vector<int32_t>& xs) {
  ByteWriter w;
  w.type(ValueType::INT32).u64(xs.size());
  for (int32_t x : xs) w.i32(x);
  return w;
}
inline ByteWriter array_f32(const std::vector<float>& xs) {
  ByteWriter w;
  w.type(ValueType::FLOAT32).u64(xs.size());
  for (float x : xs) w.f32(x);
  return w;
}
inline ByteWriter array_strings(const std::vector<std::string>& xs) {
  ByteWriter w;
  w.type(ValueType::STRING).u64(xs.size());
  for (const auto& x : xs) w.str(x);
  return w;
}

struct TensorSpec {
  std::string name;
  uint32_t type = 0;  // ggml type id (F32)
  std::vector<uint64_t> ne;
  std::optional<uint64_t> offset;  // relative to the data section; automatic when unset
};

// Builds a whole file. Metadata entries are kept as raw bytes so tests can write anything.
class GgufBuilder {
 public:
  uint32_t magic = 0x46554747;  // "GGUF"
  uint32_t version = 3;
  std::optional<uint64_t> n_tensors_override;
  std::optional<uint64_t> n_kv_override;
  uint64_t layout_alignment = 32;  // padding the builder uses (set general.alignment too)
  std::optional<uint64_t> data_size_override;  // bytes of data section written after the padding
  uint64_t extra_data_bytes = 0;               // appended after the computed data section

  GgufBuilder& kv(std::string_view key, ValueType type, const ByteWriter& value) {
    ByteWriter w;
    w.str(key).type(type).append(value);
    kvs_.push_back(std::move(w));
    return *this;
  }
  // A metadata entry written verbatim (key, type and value as the test crafts them).
  GgufBuilder& kv_raw(const ByteWriter& entry) {
    kvs_.push_back(entry);
    return *this;
  }
  GgufBuilder& kv_u32(std::string_view key, uint32_t v) {
    return kv(key, ValueType::UINT32, ByteWriter().u32(v));
  }
  GgufBuilder& kv_i32(std::string_view key, int32_t v) {
    return kv(key, ValueType::INT32, ByteWriter().i32(v));
  }
  GgufBuilder& kv_u64(std::string_view key, uint64_t v) {
    return kv(key, ValueType::UINT64, ByteWriter().u64(v));
  }
  GgufBuilder& kv_f32(std::string_view key, float v) {
    return kv(key, ValueType::FLOAT32, ByteWriter().f32(v));
  }
  GgufBuilder& kv_bool(std::string_view key, bool v) {
    return kv(key, ValueType::BOOL, ByteWriter().u8(v ? 1 : 0));
  }
  GgufBuilder& kv_string(std::string_view key, std::string_view v) {
    return kv(key, ValueType::STRING, ByteWriter().str(v));
  }
  GgufBuilder& kv_array(std::string_view key, const ByteWriter& body) {
    return kv(key, ValueType::ARRAY, body);
  }

  GgufBuilder& tensor(std::string name, uint32_t type, std::vector<uint64_t> ne,
                      std::optional<uint64_t> offset = std::nullopt) {
    tensors_.push_back({std::move(name), type, std::move(ne), offset});
    return *this;
  }
  GgufBuilder& tensor(std::string name, TensorType type, std::vector<uint64_t> ne,
                      std::optional<uint64_t> offset = std::nullopt) {
    return tensor(std::move(name), static_cast<uint32_t>(type), std::move(ne), offset);
  }
  // A tensor info written verbatim.
  GgufBuilder& tensor_raw(const ByteWriter& info) {
    raw_tensors_.push_back(info);
    return *this;
  }

  // Bytes a tensor's data takes (0 when unknown or overflowing; such files are meant to fail).
  static uint64_t tensor_bytes(const TensorSpec& t) {
    const auto traits = tensor_type_traits(t.type);
    if (!traits) return 0;
    uint64_t n = 1;
    for (uint64_t d : t.ne) {
      if (!checked_mul(n, d, &n)) return 0;
    }
    uint64_t bytes;
    if (!checked_mul(n / traits->block_elements, traits->block_bytes, &bytes)) return 0;
    return bytes;
  }

  std::vector<uint8_t> build() const {
    ByteWriter w;
    w.u32(magic).u32(version);
    w.u64(n_tensors_override.value_or(tensors_.size() + raw_tensors_.size()));
    w.u64(n_kv_override.value_or(kvs_.size()));
    for (const auto& kv : kvs_) w.append(kv);
    uint64_t next = 0;  // next free offset in the data section
    uint64_t data_end = 0;
    for (const auto& t : tensors_) {
      const uint64_t bytes = tensor_bytes(t);
      uint64_t offset = t.offset.value_or(next);
      w.str(t.name).u32(static_cast<uint32_t>(t.ne.size()));
      for (uint64_t d : t.ne) w.u64(d);
      w.u32(t.type).u64(offset);
      uint64_t end;
      if (!checked_add(offset, bytes, &end) || end > (1u << 24)) end = 0;  // bogus: keep it small
      if (end > data_end) data_end = end;
      if (!t.offset) checked_align_up(end, layout_alignment, &next);
    }
    for (const auto& raw : raw_tensors_) w.append(raw);
    if (tensors_.empty() && raw_tensors_.empty() && !data_size_override) return w.bytes();
    w.pad_to(layout_alignment);
    const uint64_t data_size = data_size_override.value_or(data_end) + extra_data_bytes;
    for (uint64_t i = 0; i < data_size; ++i) w.u8(static_cast<uint8_t>(i % 251));
    return w.bytes();
  }

 private:
  std::vector<ByteWriter> kvs_;
  std::vector<TensorSpec> tensors_;
  std::vector<ByteWriter> raw_tensors_;
};

// A small valid llama-shaped file: hyper-parameters, a 4-token vocabulary and two tensors. Bad-file
// cases start from it and break one thing.
inline GgufBuilder tiny_llama() {
  GgufBuilder b;
  b.kv_string("general.architecture", "llama")
      .kv_string("general.name", "tiny")
      .kv_u32("llama.context_length", 128)
      .kv_u32("llama.embedding_length", 64)
      .kv_u32("llama.block_count", 2)
      .kv_u32("llama.feed_forward_length", 128)
      .kv_u32("llama.attention.head_count", 4)
      .kv_u32("llama.attention.head_count_kv", 2)
      .kv_f32("llama.rope.freq_base", 10000.0f)
      .kv_f32("llama.attention.layer_norm_rms_epsilon", 1e-5f)
      .kv_string("tokenizer.ggml.model", "gpt2")
      .kv_array("tokenizer.ggml.tokens", array_strings({"<s>", "</s>", "a", "b"}))
      .kv_array("tokenizer.ggml.scores", array_f32({0, 0, -1, -2}))
      .kv_array("tokenizer.ggml.token_type", array_i32({3, 3, 1, 1}))
      .kv_u32("tokenizer.ggml.bos_token_id", 0)
      .kv_u32("tokenizer.ggml.eos_token_id", 1)
      .kv_string("tokenizer.chat_template", "{{ messages }}")
      .tensor("token_embd.weight", TensorType::Q8_0, {64, 4})
      .tensor("output_norm.weight", TensorType::F32, {64});
  return b;
}

// One metadata entry of every value type, arrays of several kinds (nested, empty) and tensors of a
// plain, a k-quant and a known-but-unsupported type.
inline GgufBuilder all_value_types() {
  GgufBuilder b;
  b.kv("t.u8", ValueType::UINT8, ByteWriter().u8(200))
      .kv("t.i8", ValueType::INT8, ByteWriter().i8(-100))
      .kv("t.u16", ValueType::UINT16, ByteWriter().u16(60000))
      .kv("t.i16", ValueType::INT16, ByteWriter().i16(-30000))
      .kv("t.u32", ValueType::UINT32, ByteWriter().u32(4000000000u))
      .kv("t.i32", ValueType::INT32, ByteWriter().i32(-2000000000))
      .kv("t.f32", ValueType::FLOAT32, ByteWriter().f32(1.5f))
      .kv("t.bool", ValueType::BOOL, ByteWriter().u8(1))
      .kv("t.string", ValueType::STRING, ByteWriter().str("h\xc3\xa9llo, world"))
      .kv("t.u64", ValueType::UINT64, ByteWriter().u64(UINT64_MAX))
      .kv("t.i64", ValueType::INT64, ByteWriter().i64(INT64_MIN))
      .kv("t.f64", ValueType::FLOAT64, ByteWriter().f64(-2.25e300))
      .kv_array("a.u8", ByteWriter().type(ValueType::UINT8).u64(3).u8(1).u8(2).u8(255))
      .kv_array("a.strings", array_strings({"", "one", "two"}))
      .kv_array("a.f64", ByteWriter().type(ValueType::FLOAT64).u64(2).f64(0.5).f64(-1e-300))
      .kv_array("a.bool", ByteWriter().type(ValueType::BOOL).u64(2).u8(0).u8(1))
      .kv_array("a.empty", ByteWriter().type(ValueType::UINT32).u64(0))
      // [[1, 2], [3]] of INT16
      .kv_array("a.nested", ByteWriter()
                                .type(ValueType::ARRAY)
                                .u64(2)
                                .type(ValueType::INT16)
                                .u64(2)
                                .i16(1)
                                .i16(2)
                                .type(ValueType::INT16)
                                .u64(1)
                                .i16(3))
      // [[["deep"]]]
      .kv_array("a.deep", ByteWriter()
                              .type(ValueType::ARRAY)
                              .u64(1)
                              .type(ValueType::ARRAY)
                              .u64(1)
                              .type(ValueType::STRING)
                              .u64(1)
                              .str("deep"))
      .tensor("plain", TensorType::F16, {8, 2})
      .tensor("kquant", TensorType::Q4_K, {256, 2})
      .tensor("unsupported", TensorType::IQ2_XXS, {256});
  return b;
}

// Nested arrays `levels` deep (levels = 1 is a flat empty UINT8 array).
inline ByteWriter nested_array_body(int levels) {
  ByteWriter w;
  for (int k = 1; k < levels; ++k) w.type(ValueType::ARRAY).u64(1);
  w.type(ValueType::UINT8).u64(0);
  return w;
}

// Truncates a byte image to its first n bytes.
inline std::vector<uint8_t> truncated(std::vector<uint8_t> bytes, size_t n) {
  if (n < bytes.size()) bytes.resize(n);
  return bytes;
}

}  // namespace infera::testing
