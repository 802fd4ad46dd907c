#pragma once
// A validated, memory-mapped GGUF file (versions 2 and 3).
//
// Every count, length, dimension and offset in the file is untrusted: open() checks each against
// the file size with overflow-safe arithmetic before it is used, and throws infera::Error
// (kind kInvalidFile) naming the key or tensor and the reason. Tensor data is never copied: each
// TensorInfo points into the mapping, which lives as long as the GgufFile.
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "quant/tensor_type.h"

namespace infera::gguf {

enum class ValueType : uint32_t {
  UINT8 = 0,
  INT8 = 1,
  UINT16 = 2,
  INT16 = 3,
  UINT32 = 4,
  INT32 = 5,
  FLOAT32 = 6,
  BOOL = 7,
  STRING = 8,
  ARRAY = 9,
  UINT64 = 10,
  INT64 = 11,
  FLOAT64 = 12,
};

std::string_view value_type_name(ValueType type);

// Limits the reader enforces beyond the format itself (each keeps a hostile file from turning a
// small input into deep recursion or a large allocation).
inline constexpr uint32_t kMaxArrayNesting = 7;   // arrays of arrays, 8 levels is an error
inline constexpr uint64_t kMaxKeyLength = 65535;  // the GGUF spec's limit on key length
inline constexpr uint64_t kMaxMetadataElements = 1u << 24;  // array elements in all metadata
inline constexpr uint32_t kMaxTensorDims = 4;

// One metadata value. Scalars live in the field that matches `type` (the others share its storage:
// a vocabulary holds ~10^5 of these, so each byte counts); arrays hold their elements in `array`
// with `array_type` naming the element type (arrays may nest).
struct Value {
  ValueType type = ValueType::UINT8;
  ValueType array_type = ValueType::UINT8;
  union {
    uint64_t u = 0;  // UINT8..UINT64 and BOOL
    int64_t i;       // INT8..INT64
    double f;        // FLOAT32, FLOAT64
  };
  std::string s;  // STRING
  std::vector<Value> array;

  bool is_integer() const;
  bool is_float() const;
  // Numeric value as the requested kind; nullopt where the type does not fit (a string, a
  // negative value asked for as unsigned, a float asked for as integer).
  std::optional<uint64_t> as_u64() const;
  std::optional<int64_t> as_i64() const;
  std::optional<double> as_f64() const;
};

struct TensorInfo {
  std::string name;
  TensorType type = TensorType::F32;
  uint32_t n_dims = 0;
  uint64_t ne[4] = {1, 1, 1, 1};  // ne[0] is the innermost (contiguous) dimension
  uint64_t offset = 0;            // relative to the data section
  uint64_t n_elements = 0;
  uint64_t n_bytes = 0;
  const uint8_t* data = nullptr;  // points into the mapping
};

// Where open() keeps a file's bytes.
enum class FileStorage {
  // Mapped: pages read on first use and shared with every process that maps the file.
  kMapped,
  // Read into memory of the process, in 2 MiB pages where the kernel has transparent huge pages:
  // decode streams every weight once per token, and with 4 KiB pages the hardware prefetcher
  // stops at every page boundary and every page costs a TLB miss.
  kHugePages,
};

class GgufFile {
 public:
  // Maps (or reads, as `storage` says) and validates `path`. Throws infera::Error on any problem.
  // `progress` (may be empty) is called with bytes read so far and the file size while a
  // kHugePages file is read.
  using ReadProgress = std::function<void(uint64_t done, uint64_t total)>;
  static std::unique_ptr<GgufFile> open(const std::string& path,
                                        FileStorage storage = FileStorage::kMapped,
                                        const ReadProgress& progress = {});
  // Validates an in-memory image (the caller keeps `bytes` alive). Used by tests and fuzzers.
  static std::unique_ptr<GgufFile> from_memory(const uint8_t* bytes, size_t size);

  ~GgufFile();
  GgufFile(const GgufFile&) = delete;
  GgufFile& operator=(const GgufFile&) = delete;

  // The path given to open(), or "<memory>" for from_memory(); used in every error message.
  const std::string& path() const { return path_; }
  uint32_t version() const { return version_; }
  uint64_t file_size() const { return size_; }
  uint64_t alignment() const { return alignment_; }
  uint64_t data_offset() const { return data_offset_; }

  // Metadata, in file order.
  const std::vector<std::pair<std::string, Value>>& metadata() const { return kv_; }
  const Value* find(std::string_view key) const;

  // Typed look-ups. The *_or forms return the fallback when the key is absent; all of them throw
  // infera::Error naming the key when it is present with the wrong type.
  std::optional<std::string> get_string(std::string_view key) const;
  std::optional<uint64_t> get_u64(std::string_view key) const;
  std::optional<double> get_f64(std::string_view key) const;
  std::optional<bool> get_bool(std::string_view key) const;
  std::string get_string_or(std::string_view key, std::string fallback) const;
  uint64_t get_u64_or(std::string_view key, uint64_t fallback) const;
  double get_f64_or(std::string_view key, double fallback) const;
  bool get_bool_or(std::string_view key, bool fallback) const;
  // An array of the given element type (throws naming the key if it is another type).
  const std::vector<Value>* get_array(std::string_view key, ValueType element_type) const;

  // Makes the image writable (true) or read-only again (false), where this object owns it (open(),
  // not from_memory()); false where it does not or the OS refuses. Model loading regroups weights
  // in place through it (kernels/matmul.h). The pages of a mapped file that are written become
  // the process's own copies, each in place of the page it copies: memory stays the file's size.
  bool set_image_writable(bool writable);

  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  const TensorInfo* find_tensor(std::string_view name) const;

 private:
  GgufFile() = default;
  void parse();  // throws infera::Error
  void read_into_huge_pages(int fd, const ReadProgress& progress);
  [[noreturn]] void fail(const std::string& message) const;
  [[noreturn]] void wrong_type(std::string_view key, const Value& value,
                               std::string_view expected) const;

  std::string path_;
  const uint8_t* base_ = nullptr;
  uint64_t size_ = 0;
  void* mapping_ = nullptr;  // non-null when we own an mmap (of the file or of memory)
  size_t mapping_size_ = 0;
  uint32_t version_ = 0;
  uint64_t alignment_ = 32;
  uint64_t data_offset_ = 0;
  std::vector<std::pair<std::string, Value>> kv_;
  std::map<std::string, size_t, std::less<>> kv_index_;
  std::vector<TensorInfo> tensors_;
  std::map<std::string, size_t, std::less<>> tensor_index_;
};

}  // namespace infera::gguf
