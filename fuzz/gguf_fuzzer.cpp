// libFuzzer target for the GGUF reader: any input must either parse or throw infera::Error, and a
// parsed file must be safe to walk (every tensor inside the input, every getter well behaved).
#include <cstddef>
#include <cstdint>
#include <string>

#include "core/error.h"
#include "gguf/gguf_file.h"
#include "gguf/gguf_summary.h"

namespace {

// Touches every byte of a tensor so ASan sees any read outside the input.
uint8_t touch(const uint8_t* data, uint64_t n) {
  uint8_t acc = 0;
  for (uint64_t i = 0; i < n; ++i) acc ^= data[i];
  return acc;
}

void exercise(const infera::gguf::GgufFile& file, const uint8_t* base, size_t size) {
  using infera::gguf::ValueType;
  volatile uint8_t sink = 0;
  for (const auto& t : file.tensors()) {
    if (t.data < base || t.n_bytes > size || t.data + t.n_bytes > base + size) __builtin_trap();
    if (file.find_tensor(t.name) != &t) __builtin_trap();
    sink = sink ^ touch(t.data, t.n_bytes);
  }
  // Every getter on every key: each returns a value or throws infera::Error, nothing else.
  for (const auto& entry : file.metadata()) {
    const std::string& key = entry.first;
    const infera::gguf::Value& value = entry.second;
    if (file.find(key) != &value) __builtin_trap();
    auto attempt = [](auto&& fn) {
      try {
        fn();
      } catch (const infera::Error&) {
      }
    };
    attempt([&] { file.get_string(key); });
    attempt([&] { file.get_u64(key); });
    attempt([&] { file.get_f64(key); });
    attempt([&] { file.get_bool(key); });
    attempt([&] { file.get_array(key, value.array_type); });
    attempt([&] { file.get_array(key, ValueType::STRING); });
    (void)infera::gguf::describe_value(value);
  }
  const auto summary = infera::gguf::summarize(file);
  (void)infera::gguf::estimate_ram(summary, 0);
  (void)infera::gguf::estimate_ram(summary, UINT64_MAX);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const auto file = infera::gguf::GgufFile::from_memory(data, size);
    exercise(*file, data, size);
  } catch (const infera::Error&) {
    // Rejecting a bad file is the expected outcome for most inputs.
  }
  return 0;
}
