// GGUF reader: maps the file, then walks header → metadata → tensor infos → data section, checking
// every size against the bytes that are actually left before it is used.
//
// ref: https://github.com/ggml-org/ggml/blob/master/docs/gguf.md (layout, value types, alignment)
#include "gguf/gguf_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <numeric>

#include "core/checked_math.h"
#include "core/error.h"

namespace infera::gguf {

static_assert(std::endian::native == std::endian::little,
              "the GGUF reader assumes a little-endian host");

namespace {

constexpr uint32_t kMagic = 0x46554747;  // "GGUF" read as a little-endian u32
constexpr uint32_t kValueTypeCount = 13;
constexpr uint64_t kDefaultAlignment = 32;
// Smallest encodings, used to reject counts that cannot fit in the bytes left before allocating.
constexpr uint64_t kMinKvBytes = 8 + 1 + 4 + 1;  // key len, 1-byte key, type, u8 value
constexpr uint64_t kMinTensorInfoBytes = 8 + 1 + 4 + 8 + 4 + 8;  // name, 1 dim, type, offset

std::string quote(std::string_view s) {
  std::string out = "'";
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", u);
      out += buf;
    } else {
      out += c;
    }
  }
  out += "'";
  return out;
}

// Encoded size of the smallest possible element of an array of `type`.
uint64_t min_element_bytes(ValueType type) {
  switch (type) {
    case ValueType::UINT8:
    case ValueType::INT8:
    case ValueType::BOOL:
      return 1;
    case ValueType::UINT16:
    case ValueType::INT16:
      return 2;
    case ValueType::UINT32:
    case ValueType::INT32:
    case ValueType::FLOAT32:
      return 4;
    case ValueType::UINT64:
    case ValueType::INT64:
    case ValueType::FLOAT64:
    case ValueType::STRING:  // the u64 length
      return 8;
    case ValueType::ARRAY:  // u32 element type + u64 count
      return 12;
  }
  return 1;
}

std::string type_description(const Value& v) {
  std::string out(value_type_name(v.type));
  if (v.type == ValueType::ARRAY) {
    out += "[";
    out += value_type_name(v.array_type);
    out += "]";
  }
  return out;
}

// Reads little-endian fields from an untrusted buffer. Every read checks the bytes left first; a
// short read throws with the current context ("header", "key 'x'", "tensor 'y'") and field.
class Reader {
 public:
  Reader(const uint8_t* base, uint64_t size, const std::string& path)
      : base_(base), size_(size), path_(path) {}

  uint64_t pos() const { return pos_; }
  uint64_t remaining() const { return size_ - pos_; }
  void set_context(std::string context) { context_ = std::move(context); }
  const std::string& context() const { return context_; }
  uint64_t metadata_elements = 0;

  [[noreturn]] void fail(const std::string& message) const {
    std::string prefix = "GGUF file " + quote(path_) + ": ";
    if (!context_.empty()) prefix += context_ + ": ";
    throw Error(ErrorKind::kInvalidFile, prefix + message);
  }

  template <typename T>
  T read(const char* field) {
    if (remaining() < sizeof(T)) {
      fail(std::string("truncated: file ends while reading ") + field + " at offset " +
           std::to_string(pos_) + " (size " + std::to_string(size_) + ")");
    }
    T value;
    std::memcpy(&value, base_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return value;
  }

  // A GGUF string: u64 length then that many bytes (no terminator).
  std::string read_string(const char* field) {
    const uint64_t len = read<uint64_t>(field);
    if (len > remaining()) {
      fail(std::string(field) + " length " + std::to_string(len) +
           " extends past the end of the file (" + std::to_string(remaining()) + " bytes left)");
    }
    std::string s(reinterpret_cast<const char*>(base_ + pos_), len);
    pos_ += len;
    return s;
  }

  Value read_value(ValueType type, uint32_t depth) {
    Value v;
    v.type = type;
    switch (type) {
      case ValueType::UINT8:
        v.u = read<uint8_t>("u8 value");
        break;
      case ValueType::INT8:
        v.i = read<int8_t>("i8 value");
        break;
      case ValueType::UINT16:
        v.u = read<uint16_t>("u16 value");
        break;
      case ValueType::INT16:
        v.i = read<int16_t>("i16 value");
        break;
      case ValueType::UINT32:
        v.u = read<uint32_t>("u32 value");
        break;
      case ValueType::INT32:
        v.i = read<int32_t>("i32 value");
        break;
      case ValueType::UINT64:
        v.u = read<uint64_t>("u64 value");
        break;
      case ValueType::INT64:
        v.i = read<int64_t>("i64 value");
        break;
      case ValueType::FLOAT32:
        v.f = read<float>("f32 value");
        break;
      case ValueType::FLOAT64:
        v.f = read<double>("f64 value");
        break;
      case ValueType::BOOL: {
        const uint8_t b = read<uint8_t>("bool value");
        if (b > 1) fail("invalid bool value " + std::to_string(b) + " (must be 0 or 1)");
        v.u = b;
        break;
      }
      case ValueType::STRING:
        v.s = read_string("string value");
        break;
      case ValueType::ARRAY:
        read_array(&v, depth);
        break;
    }
    return v;
  }

 private:
  void read_array(Value* v, uint32_t depth) {
    if (depth >= kMaxArrayNesting) {
      fail("arrays nested more than " + std::to_string(kMaxArrayNesting) + " levels deep");
    }
    const uint32_t element_type = read<uint32_t>("array element type");
    if (element_type >= kValueTypeCount) {
      fail("array element type " + std::to_string(element_type) +
           " is not a valid GGUF value type");
    }
    const uint64_t count = read<uint64_t>("array length");
    const auto et = static_cast<ValueType>(element_type);
    uint64_t needed;
    if (!checked_mul(count, min_element_bytes(et), &needed) || needed > remaining()) {
      fail("array of " + std::to_string(count) + " " + std::string(value_type_name(et)) +
           " elements extends past the end of the file (" + std::to_string(remaining()) +
           " bytes left)");
    }
    if (!checked_add(metadata_elements, count, &metadata_elements) ||
        metadata_elements > kMaxMetadataElements) {
      fail("metadata holds more than " + std::to_string(kMaxMetadataElements) +
           " array elements in all");
    }
    v->array_type = et;
    v->array.reserve(count);  // bounded: count * min_element_bytes <= remaining()
    for (uint64_t i = 0; i < count; ++i) v->array.push_back(read_value(et, depth + 1));
  }

  const uint8_t* base_;
  uint64_t size_;
  uint64_t pos_ = 0;
  const std::string& path_;
  std::string context_;  // empty while reading the header
};

// The tokenizer arrays index one another: check the ids and lengths here, once, so the tokenizer
// can trust them.
void validate_tokenizer(const GgufFile& file, Reader& r) {
  const Value* tokens = file.find("tokenizer.ggml.tokens");
  if (tokens == nullptr) return;
  r.set_context("key 'tokenizer.ggml.tokens'");
  if (tokens->type != ValueType::ARRAY || tokens->array_type != ValueType::STRING) {
    r.fail("must be an array of strings (found " + type_description(*tokens) + ")");
  }
  const uint64_t n_vocab = tokens->array.size();
  static constexpr const char* kIdKeys[] = {
      "tokenizer.ggml.bos_token_id",       "tokenizer.ggml.eos_token_id",
      "tokenizer.ggml.unknown_token_id",   "tokenizer.ggml.padding_token_id",
      "tokenizer.ggml.seperator_token_id", "tokenizer.ggml.separator_token_id",
      "tokenizer.ggml.eot_token_id",       "tokenizer.ggml.eom_token_id",
      "tokenizer.ggml.mask_token_id",      "tokenizer.ggml.cls_token_id",
  };
  for (const char* key : kIdKeys) {
    const Value* v = file.find(key);
    if (v == nullptr) continue;
    r.set_context("key " + quote(key));
    const auto id = v->as_u64();
    if (!id) r.fail("must be a non-negative integer (found " + type_description(*v) + ")");
    if (*id >= n_vocab) {
      r.fail("token id " + std::to_string(*id) + " is out of range for a vocabulary of " +
             std::to_string(n_vocab) + " tokens");
    }
  }
  const std::pair<const char*, ValueType> kParallel[] = {
      {"tokenizer.ggml.scores", ValueType::FLOAT32},
      {"tokenizer.ggml.token_type", ValueType::INT32},
  };
  for (const auto& [key, element_type] : kParallel) {
    const Value* v = file.find(key);
    if (v == nullptr) continue;
    r.set_context("key " + quote(key));
    if (v->type != ValueType::ARRAY || v->array_type != element_type) {
      r.fail("must be an array of " + std::string(value_type_name(element_type)) + " (found " +
             type_description(*v) + ")");
    }
    if (v->array.size() != n_vocab) {
      r.fail("has " + std::to_string(v->array.size()) + " elements but the vocabulary has " +
             std::to_string(n_vocab) + " tokens");
    }
  }
  if (const Value* v = file.find("tokenizer.ggml.merges")) {
    r.set_context("key 'tokenizer.ggml.merges'");
    if (v->type != ValueType::ARRAY || v->array_type != ValueType::STRING) {
      r.fail("must be an array of strings (found " + type_description(*v) + ")");
    }
  }
  const Value* arch = file.find("general.architecture");
  if (arch == nullptr) return;
  const std::string vocab_key = arch->s + ".vocab_size";
  if (const Value* v = file.find(vocab_key)) {
    r.set_context("key " + quote(vocab_key));
    const auto n = v->as_u64();
    if (!n) r.fail("must be a non-negative integer (found " + type_description(*v) + ")");
    if (*n != n_vocab) {
      r.fail("vocab_size " + std::to_string(*n) + " does not match the " + std::to_string(n_vocab) +
             " tokens in tokenizer.ggml.tokens");
    }
  }
}

}  // namespace

std::string_view value_type_name(ValueType type) {
  switch (type) {
    case ValueType::UINT8:
      return "UINT8";
    case ValueType::INT8:
      return "INT8";
    case ValueType::UINT16:
      return "UINT16";
    case ValueType::INT16:
      return "INT16";
    case ValueType::UINT32:
      return "UINT32";
    case ValueType::INT32:
      return "INT32";
    case ValueType::FLOAT32:
      return "FLOAT32";
    case ValueType::BOOL:
      return "BOOL";
    case ValueType::STRING:
      return "STRING";
    case ValueType::ARRAY:
      return "ARRAY";
    case ValueType::UINT64:
      return "UINT64";
    case ValueType::INT64:
      return "INT64";
    case ValueType::FLOAT64:
      return "FLOAT64";
  }
  return "UNKNOWN";
}

// ---- Value ----

bool Value::is_integer() const {
  switch (type) {
    case ValueType::UINT8:
    case ValueType::INT8:
    case ValueType::UINT16:
    case ValueType::INT16:
    case ValueType::UINT32:
    case ValueType::INT32:
    case ValueType::UINT64:
    case ValueType::INT64:
      return true;
    default:
      return false;
  }
}

bool Value::is_float() const { return type == ValueType::FLOAT32 || type == ValueType::FLOAT64; }

static bool is_signed_type(ValueType t) {
  return t == ValueType::INT8 || t == ValueType::INT16 || t == ValueType::INT32 ||
         t == ValueType::INT64;
}

std::optional<uint64_t> Value::as_u64() const {
  if (!is_integer()) return std::nullopt;
  if (is_signed_type(type)) {
    if (i < 0) return std::nullopt;
    return static_cast<uint64_t>(i);
  }
  return u;
}

std::optional<int64_t> Value::as_i64() const {
  if (!is_integer()) return std::nullopt;
  if (is_signed_type(type)) return i;
  if (u > static_cast<uint64_t>(INT64_MAX)) return std::nullopt;
  return static_cast<int64_t>(u);
}

std::optional<double> Value::as_f64() const {
  if (is_float()) return f;
  if (!is_integer()) return std::nullopt;
  if (is_signed_type(type)) return static_cast<double>(i);
  return static_cast<double>(u);
}

// ---- GgufFile: opening ----

GgufFile::~GgufFile() {
  if (mapping_ != nullptr) munmap(mapping_, mapping_size_);
}

// 2 MiB: the size of an x86-64 huge page.
constexpr size_t kHugePage = size_t{1} << 21;

void GgufFile::read_into_huge_pages(int fd, const ReadProgress& progress) {
  const size_t length = (static_cast<size_t>(size_) + kHugePage - 1) / kHugePage * kHugePage;
  // One huge page more than needed, so that the image can start on a huge-page boundary.
  const size_t mapped = length + kHugePage;
  void* p = mmap(nullptr, mapped, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) {
    const int err = errno;
    ::close(fd);
    throw Error(ErrorKind::kIo, "cannot allocate " + std::to_string(size_) +
                                    " bytes for GGUF file " + quote(path_) + ": " +
                                    std::strerror(err));
  }
  mapping_ = p;
  mapping_size_ = mapped;
  auto* image = reinterpret_cast<uint8_t*>((reinterpret_cast<uintptr_t>(p) + kHugePage - 1) &
                                           ~uintptr_t{kHugePage - 1});
  // Without transparent huge pages (or with them off) this fails and the pages stay 4 KiB.
  madvise(image, length, MADV_HUGEPAGE);
  uint64_t done = 0;
  while (done < size_) {
    const size_t chunk = static_cast<size_t>(std::min<uint64_t>(size_ - done, uint64_t{64} << 20));
    const ssize_t got = pread(fd, image + done, chunk, static_cast<off_t>(done));
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) {
      const int err = got < 0 ? errno : EIO;
      ::close(fd);
      throw Error(ErrorKind::kIo, "cannot read GGUF file " + quote(path_) + ": " +
                                      (got < 0 ? std::strerror(err) : "file shrank while read"));
    }
    done += static_cast<uint64_t>(got);
    if (progress) progress(done, size_);
  }
  mprotect(image, length, PROT_READ);
  base_ = image;
}

std::unique_ptr<GgufFile> GgufFile::open(const std::string& path, FileStorage storage,
                                         const ReadProgress& progress) {
  std::unique_ptr<GgufFile> file(new GgufFile());
  file->path_ = path;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    throw Error(ErrorKind::kIo,
                "cannot open GGUF file " + quote(path) + ": " + std::strerror(errno));
  }
  struct stat st;
  if (fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    throw Error(ErrorKind::kIo, "cannot stat GGUF file " + quote(path) + ": " + std::strerror(err));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    throw Error(ErrorKind::kIo, "GGUF file " + quote(path) + " is not a regular file");
  }
  file->size_ = static_cast<uint64_t>(st.st_size);
  if (file->size_ > 0 && storage == FileStorage::kHugePages) {
    file->read_into_huge_pages(fd, progress);
  } else if (file->size_ > 0) {
    void* p = mmap(nullptr, file->size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      const int err = errno;
      ::close(fd);
      throw Error(ErrorKind::kIo,
                  "cannot map GGUF file " + quote(path) + ": " + std::strerror(err));
    }
    file->mapping_ = p;
    file->mapping_size_ = file->size_;
    file->base_ = static_cast<const uint8_t*>(p);
  }
  ::close(fd);  // the mapping keeps the file alive
  file->parse();
  return file;
}

bool GgufFile::set_image_writable(bool writable) {
  if (mapping_ == nullptr) return false;
  return mprotect(mapping_, mapping_size_, writable ? PROT_READ | PROT_WRITE : PROT_READ) == 0;
}

std::unique_ptr<GgufFile> GgufFile::from_memory(const uint8_t* bytes, size_t size) {
  std::unique_ptr<GgufFile> file(new GgufFile());
  file->path_ = "<memory>";
  file->base_ = bytes;
  file->size_ = bytes == nullptr ? 0 : size;
  file->parse();
  return file;
}

void GgufFile::fail(const std::string& message) const {
  throw Error(ErrorKind::kInvalidFile, "GGUF file " + quote(path_) + ": " + message);
}

// ---- GgufFile: parsing ----

void GgufFile::parse() {
  Reader r(base_, size_, path_);

  // Header.
  if (size_ < 4) {
    r.fail("truncated header: the file is " + std::to_string(size_) +
           " bytes, too short for the magic");
  }
  const uint32_t magic = r.read<uint32_t>("magic");
  if (magic != kMagic) {
    std::string shown;
    for (int k = 0; k < 4; ++k) shown += static_cast<char>(base_[k]);
    r.fail("bad magic " + quote(shown) + " (expected 'GGUF'); this is not a GGUF file");
  }
  if (r.remaining() < 4) r.fail("truncated header: file ends while reading version");
  version_ = r.read<uint32_t>("version");
  if (version_ != 2 && version_ != 3) {
    std::string msg = "GGUF file " + quote(path_) + ": unsupported GGUF version " +
                      std::to_string(version_) + " (infera reads versions 2 and 3)";
    if (version_ == 1) msg += "; version 1 files use 32-bit counts, re-convert the model";
    if (version_ == 0x02000000 || version_ == 0x03000000) {
      msg += "; this looks like a big-endian GGUF file, which is not supported";
    }
    throw Error(ErrorKind::kUnsupported, msg);
  }
  if (r.remaining() < 8) r.fail("truncated header: file ends while reading tensor_count");
  const uint64_t n_tensors = r.read<uint64_t>("tensor_count");
  if (r.remaining() < 8) r.fail("truncated header: file ends while reading metadata_kv_count");
  const uint64_t n_kv = r.read<uint64_t>("metadata_kv_count");
  uint64_t min_bytes;
  if (!checked_mul(n_kv, kMinKvBytes, &min_bytes) || min_bytes > r.remaining()) {
    r.fail("metadata_kv_count " + std::to_string(n_kv) + " is impossible for a file of " +
           std::to_string(size_) + " bytes");
  }
  uint64_t min_tensor_bytes;
  if (!checked_mul(n_tensors, kMinTensorInfoBytes, &min_tensor_bytes) ||
      !checked_add(min_bytes, min_tensor_bytes, &min_bytes) || min_bytes > r.remaining()) {
    r.fail("tensor_count " + std::to_string(n_tensors) + " is impossible for a file of " +
           std::to_string(size_) + " bytes");
  }

  // Metadata.
  kv_.reserve(n_kv);
  for (uint64_t k = 0; k < n_kv; ++k) {
    r.set_context("metadata entry #" + std::to_string(k));
    std::string key = r.read_string("key");
    if (key.empty()) r.fail("empty key");
    if (key.size() > kMaxKeyLength) {
      r.fail("key length " + std::to_string(key.size()) + " exceeds the GGUF limit of " +
             std::to_string(kMaxKeyLength));
    }
    r.set_context("key " + quote(key));
    if (kv_index_.count(key) != 0) r.fail("duplicate key");
    const uint32_t type = r.read<uint32_t>("value type");
    if (type >= kValueTypeCount) {
      r.fail("unknown value type " + std::to_string(type));
    }
    Value value = r.read_value(static_cast<ValueType>(type), 0);
    kv_index_.emplace(key, kv_.size());
    kv_.emplace_back(std::move(key), std::move(value));
  }

  if (const Value* a = find("general.alignment")) {
    r.set_context("key 'general.alignment'");
    if (a->type != ValueType::UINT32) {
      r.fail("must be UINT32 (found " + type_description(*a) + ")");
    }
    if (a->u == 0 || !std::has_single_bit(a->u)) {
      r.fail("alignment " + std::to_string(a->u) + " is not a power of two");
    }
    alignment_ = a->u;
  } else {
    alignment_ = kDefaultAlignment;
  }
  if (const Value* a = find("general.architecture"); a != nullptr && a->type != ValueType::STRING) {
    r.set_context("key 'general.architecture'");
    r.fail("must be STRING (found " + type_description(*a) + ")");
  }
  validate_tokenizer(*this, r);

  // Tensor infos.
  tensors_.reserve(n_tensors);
  for (uint64_t t = 0; t < n_tensors; ++t) {
    r.set_context("tensor #" + std::to_string(t));
    TensorInfo info;
    info.name = r.read_string("name");
    if (info.name.empty()) r.fail("empty tensor name");
    r.set_context("tensor " + quote(info.name));
    if (tensor_index_.count(info.name) != 0) r.fail("duplicate tensor name");
    info.n_dims = r.read<uint32_t>("n_dims");
    if (info.n_dims == 0 || info.n_dims > kMaxTensorDims) {
      r.fail("n_dims " + std::to_string(info.n_dims) + " is out of range (1.." +
             std::to_string(kMaxTensorDims) + ")");
    }
    for (uint32_t d = 0; d < info.n_dims; ++d) info.ne[d] = r.read<uint64_t>("dimension");
    std::string shape = "[";
    for (uint32_t d = 0; d < info.n_dims; ++d) {
      shape += (d ? ", " : "") + std::to_string(info.ne[d]);
    }
    shape += "]";
    uint64_t n_elements = 1;
    for (uint32_t d = 0; d < info.n_dims; ++d) {
      if (info.ne[d] == 0)
        r.fail("dimension " + std::to_string(d) + " is zero (shape " + shape + ")");
      if (!checked_mul(n_elements, info.ne[d], &n_elements) ||
          n_elements > static_cast<uint64_t>(INT64_MAX)) {
        r.fail("element count of shape " + shape + " overflows");
      }
    }
    info.n_elements = n_elements;
    const uint32_t type_id = r.read<uint32_t>("type");
    const auto traits = tensor_type_traits(type_id);
    if (!traits) r.fail("unknown tensor type id " + std::to_string(type_id));
    info.type = traits->type;
    if (info.ne[0] % traits->block_elements != 0) {
      r.fail("ne[0] = " + std::to_string(info.ne[0]) + " is not a multiple of the block size " +
             std::to_string(traits->block_elements) + " of type " + std::string(traits->name));
    }
    if (!checked_mul(n_elements / traits->block_elements, traits->block_bytes, &info.n_bytes)) {
      r.fail("byte size of shape " + shape + " overflows");
    }
    info.offset = r.read<uint64_t>("offset");
    if (info.offset % alignment_ != 0) {
      r.fail("offset " + std::to_string(info.offset) + " is not a multiple of the alignment " +
             std::to_string(alignment_));
    }
    tensor_index_.emplace(info.name, tensors_.size());
    tensors_.push_back(std::move(info));
  }

  // Data section: starts at the next multiple of the alignment after the tensor infos.
  r.set_context("data section");
  if (!checked_align_up(r.pos(), alignment_, &data_offset_)) {
    r.fail("data offset overflows when aligned to " + std::to_string(alignment_));
  }
  if (data_offset_ > size_) {
    if (!tensors_.empty()) {
      r.fail("starts at offset " + std::to_string(data_offset_) +
             ", past the end of the file (size " + std::to_string(size_) + ")");
    }
    data_offset_ = size_;  // no tensors: a file may end without the final padding
  }
  uint64_t total = 0;
  for (TensorInfo& info : tensors_) {
    r.set_context("tensor " + quote(info.name));
    uint64_t begin, end;
    if (!checked_add(data_offset_, info.offset, &begin) || begin >= size_) {
      r.fail("offset " + std::to_string(info.offset) + " (data section at " +
             std::to_string(data_offset_) + ") is past the end of the file (size " +
             std::to_string(size_) + ")");
    }
    if (!checked_add(begin, info.n_bytes, &end) || end > size_) {
      r.fail("data [offset " + std::to_string(begin) + ", " + std::to_string(info.n_bytes) +
             " bytes] extends past the end of the file (size " + std::to_string(size_) + ")");
    }
    info.data = base_ + begin;
    // Cannot overflow: each n_bytes is below size_, and the count is bounded by size_ too.
    total += info.n_bytes;
  }
  r.set_context("data section");
  if (total > size_ - data_offset_) {
    r.fail("tensors hold " + std::to_string(total) + " bytes in all, more than the " +
           std::to_string(size_ - data_offset_) + " bytes of the data section");
  }
  std::vector<size_t> order(tensors_.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::sort(order.begin(), order.end(),
            [&](size_t a, size_t b) { return tensors_[a].offset < tensors_[b].offset; });
  for (size_t k = 1; k < order.size(); ++k) {
    const TensorInfo& prev = tensors_[order[k - 1]];
    const TensorInfo& cur = tensors_[order[k]];
    if (prev.offset + prev.n_bytes > cur.offset) {  // both bounded by size_, no overflow
      r.fail("tensors " + quote(prev.name) + " [offset " + std::to_string(prev.offset) + ", " +
             std::to_string(prev.n_bytes) + " bytes] and " + quote(cur.name) + " [offset " +
             std::to_string(cur.offset) + "] overlap");
    }
  }
}

// ---- GgufFile: look-ups ----

const Value* GgufFile::find(std::string_view key) const {
  auto it = kv_index_.find(key);
  return it == kv_index_.end() ? nullptr : &kv_[it->second].second;
}

const TensorInfo* GgufFile::find_tensor(std::string_view name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

void GgufFile::wrong_type(std::string_view key, const Value& value,
                          std::string_view expected) const {
  fail("key " + quote(key) + " has type " + type_description(value) + ", expected " +
       std::string(expected));
}

std::optional<std::string> GgufFile::get_string(std::string_view key) const {
  const Value* v = find(key);
  if (v == nullptr) return std::nullopt;
  if (v->type != ValueType::STRING) wrong_type(key, *v, "STRING");
  return v->s;
}

std::optional<uint64_t> GgufFile::get_u64(std::string_view key) const {
  const Value* v = find(key);
  if (v == nullptr) return std::nullopt;
  const auto n = v->as_u64();
  if (!n) {
    if (v->is_integer()) {
      fail("key " + quote(key) + " has negative value " + std::to_string(v->i) + " (type " +
           type_description(*v) + "), expected a non-negative integer");
    }
    wrong_type(key, *v, "a non-negative integer");
  }
  return n;
}

std::optional<double> GgufFile::get_f64(std::string_view key) const {
  const Value* v = find(key);
  if (v == nullptr) return std::nullopt;
  const auto x = v->as_f64();
  if (!x) wrong_type(key, *v, "a number");
  return x;
}

std::optional<bool> GgufFile::get_bool(std::string_view key) const {
  const Value* v = find(key);
  if (v == nullptr) return std::nullopt;
  if (v->type != ValueType::BOOL) wrong_type(key, *v, "BOOL");
  return v->u != 0;
}

std::string GgufFile::get_string_or(std::string_view key, std::string fallback) const {
  auto v = get_string(key);
  return v ? std::move(*v) : std::move(fallback);
}

uint64_t GgufFile::get_u64_or(std::string_view key, uint64_t fallback) const {
  return get_u64(key).value_or(fallback);
}

double GgufFile::get_f64_or(std::string_view key, double fallback) const {
  return get_f64(key).value_or(fallback);
}

bool GgufFile::get_bool_or(std::string_view key, bool fallback) const {
  return get_bool(key).value_or(fallback);
}

const std::vector<Value>* GgufFile::get_array(std::string_view key, ValueType element_type) const {
  const Value* v = find(key);
  if (v == nullptr) return nullptr;
  if (v->type != ValueType::ARRAY || v->array_type != element_type) {
    wrong_type(key, *v, "ARRAY[" + std::string(value_type_name(element_type)) + "]");
  }
  return &v->array;
}

}  // namespace infera::gguf
