// The GGUF reader on valid files: values read back exactly, tensors point into the mapping,
// version 2 and custom alignment work, getters check types; and it survives every truncation and
// every single-byte change of a valid file.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "core/error.h"
#include "gguf/gguf_file.h"
#include "gguf_test_builder.h"

namespace infera::testing {
namespace {

using gguf::FileStorage;
using gguf::GgufFile;
using gguf::Value;
using Bytes = std::vector<uint8_t>;

std::unique_ptr<GgufFile> parse(const Bytes& bytes) {
  return GgufFile::from_memory(bytes.data(), bytes.size());
}

std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

class TempFile {
 public:
  explicit TempFile(const Bytes& bytes) {
    path_ =
        std::filesystem::temp_directory_path() / ("infera_gguf_test_" + std::to_string(::getpid()) +
                                                  "_" + std::to_string(counter_++) + ".gguf");
    std::ofstream out(path_, std::ios::binary);
    out.write(reinterpret_cast<const char*>(bytes.data()),
              static_cast<std::streamsize>(bytes.size()));
  }
  ~TempFile() { std::filesystem::remove(path_); }
  std::string path() const { return path_.string(); }

 private:
  static inline int counter_ = 0;
  std::filesystem::path path_;
};

TEST(GgufReader, AllValueTypesRoundTrip) {
  const Bytes bytes = all_value_types().build();
  const auto f = parse(bytes);
  EXPECT_EQ(f->version(), 3u);
  EXPECT_EQ(f->path(), "<memory>");
  EXPECT_EQ(f->get_u64("t.u8"), 200u);
  EXPECT_EQ(f->find("t.i8")->i, -100);
  EXPECT_EQ(f->get_u64("t.u16"), 60000u);
  EXPECT_EQ(f->find("t.i16")->i, -30000);
  EXPECT_EQ(f->get_u64("t.u32"), 4000000000u);
  EXPECT_EQ(f->find("t.i32")->as_i64(), -2000000000);
  EXPECT_EQ(f->get_f64("t.f32"), 1.5);
  EXPECT_EQ(f->get_bool("t.bool"), true);
  EXPECT_EQ(f->get_string("t.string"), "h\xc3\xa9llo, world");
  EXPECT_EQ(f->get_u64("t.u64"), UINT64_MAX);
  EXPECT_EQ(f->find("t.i64")->i, INT64_MIN);
  EXPECT_EQ(f->get_f64("t.f64"), -2.25e300);

  const auto* u8s = f->get_array("a.u8", ValueType::UINT8);
  ASSERT_NE(u8s, nullptr);
  ASSERT_EQ(u8s->size(), 3u);
  EXPECT_EQ((*u8s)[2].u, 255u);
  const auto* strs = f->get_array("a.strings", ValueType::STRING);
  ASSERT_EQ(strs->size(), 3u);
  EXPECT_EQ((*strs)[0].s, "");
  EXPECT_EQ((*strs)[2].s, "two");
  const auto* f64s = f->get_array("a.f64", ValueType::FLOAT64);
  EXPECT_EQ((*f64s)[1].f, -1e-300);
  const auto* bools = f->get_array("a.bool", ValueType::BOOL);
  EXPECT_EQ((*bools)[0].u, 0u);
  EXPECT_EQ((*bools)[1].u, 1u);
  EXPECT_TRUE(f->get_array("a.empty", ValueType::UINT32)->empty());

  const auto* nested = f->get_array("a.nested", ValueType::ARRAY);
  ASSERT_EQ(nested->size(), 2u);
  EXPECT_EQ((*nested)[0].array_type, ValueType::INT16);
  ASSERT_EQ((*nested)[0].array.size(), 2u);
  EXPECT_EQ((*nested)[0].array[1].i, 2);
  ASSERT_EQ((*nested)[1].array.size(), 1u);
  EXPECT_EQ((*nested)[1].array[0].i, 3);
  const auto* deep = f->get_array("a.deep", ValueType::ARRAY);
  EXPECT_EQ((*deep)[0].array[0].array[0].s, "deep");

  // Metadata keeps file order.
  EXPECT_EQ(f->metadata().front().first, "t.u8");
  EXPECT_EQ(f->metadata().back().first, "a.deep");
}

TEST(GgufReader, TensorsPointIntoTheCallersBuffer) {
  const Bytes bytes = all_value_types().build();
  const auto f = parse(bytes);
  ASSERT_EQ(f->tensors().size(), 3u);
  EXPECT_EQ(f->data_offset() % 32, 0u);
  for (const auto& t : f->tensors()) {
    EXPECT_EQ(t.data, bytes.data() + f->data_offset() + t.offset) << t.name;
    EXPECT_EQ(t.offset % 32, 0u);
  }
  const auto* plain = f->find_tensor("plain");
  ASSERT_NE(plain, nullptr);
  EXPECT_EQ(plain->type, TensorType::F16);
  EXPECT_EQ(plain->n_dims, 2u);
  EXPECT_EQ(plain->ne[0], 8u);
  EXPECT_EQ(plain->ne[1], 2u);
  EXPECT_EQ(plain->ne[2], 1u);
  EXPECT_EQ(plain->n_elements, 16u);
  EXPECT_EQ(plain->n_bytes, 32u);
  EXPECT_EQ(f->find_tensor("kquant")->n_bytes, 2u * 144u);
  // A known type infera cannot run still parses, so inspect can show it.
  const auto* iq = f->find_tensor("unsupported");
  EXPECT_EQ(iq->type, TensorType::IQ2_XXS);
  EXPECT_EQ(iq->n_bytes, 66u);
  EXPECT_EQ(f->find_tensor("missing"), nullptr);
}

TEST(GgufReader, OpenMapsTheFileWithoutCopying) {
  const Bytes bytes = tiny_llama().build();
  TempFile tmp(bytes);
  const auto f = GgufFile::open(tmp.path());
  EXPECT_EQ(f->path(), tmp.path());
  EXPECT_EQ(f->file_size(), bytes.size());
  const auto& tensors = f->tensors();
  ASSERT_EQ(tensors.size(), 2u);
  // Both tensors live in one mapping at the file's own layout: the distance between their data
  // pointers is the distance between their offsets, and the contents match the file.
  EXPECT_EQ(tensors[1].data - tensors[0].data,
            static_cast<ptrdiff_t>(tensors[1].offset - tensors[0].offset));
  for (const auto& t : tensors) {
    EXPECT_EQ(reinterpret_cast<uintptr_t>(t.data) % 32, 0u) << "mapping is page aligned";
    EXPECT_EQ(0, std::memcmp(t.data, bytes.data() + f->data_offset() + t.offset, t.n_bytes));
  }
  // The mapping is shared with other readers of the file, not a heap copy: a second open of the
  // same file gives the same bytes at a different address.
  const auto g = GgufFile::open(tmp.path());
  EXPECT_NE(g->tensors()[0].data, tensors[0].data);
}

// Read into memory (huge pages where the kernel has them) instead of mapped: the same metadata
// and tensor bytes, reported as read up to the file's size, and a copy of the process's own.
TEST(GgufReader, HugePagesStorageReadsTheSameImage) {
  const Bytes bytes = tiny_llama().build();
  TempFile tmp(bytes);
  uint64_t last = 0, total = 0;
  int calls = 0;
  const auto f =
      GgufFile::open(tmp.path(), FileStorage::kHugePages, [&](uint64_t done, uint64_t t) {
        EXPECT_GE(done, last);
        last = done;
        total = t;
        ++calls;
      });
  EXPECT_GE(calls, 1);
  EXPECT_EQ(last, bytes.size());
  EXPECT_EQ(total, bytes.size());
  const auto mapped = GgufFile::open(tmp.path());
  EXPECT_EQ(f->metadata().size(), mapped->metadata().size());
  ASSERT_EQ(f->tensors().size(), mapped->tensors().size());
  for (size_t i = 0; i < f->tensors().size(); ++i) {
    const auto& t = f->tensors()[i];
    EXPECT_EQ(t.name, mapped->tensors()[i].name);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(t.data) % 32, 0u);
    EXPECT_NE(t.data, mapped->tensors()[i].data);
    EXPECT_EQ(0, std::memcmp(t.data, bytes.data() + f->data_offset() + t.offset, t.n_bytes));
  }
  try {
    GgufFile::open("/nonexistent/infera/model.gguf", FileStorage::kHugePages);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kIo);
  }
  TempFile empty(Bytes{});
  EXPECT_THROW(GgufFile::open(empty.path(), FileStorage::kHugePages), Error);
}

TEST(GgufReader, Version2IsAccepted) {
  GgufBuilder b = tiny_llama();
  b.version = 2;
  const Bytes bytes = b.build();
  const auto f = parse(bytes);
  EXPECT_EQ(f->version(), 2u);
  EXPECT_EQ(f->tensors().size(), 2u);
}

TEST(GgufReader, Alignment64IsHonoured) {
  GgufBuilder b = tiny_llama();
  b.layout_alignment = 64;
  b.kv_u32("general.alignment", 64);
  const Bytes bytes = b.build();
  const auto f = parse(bytes);
  EXPECT_EQ(f->alignment(), 64u);
  EXPECT_EQ(f->data_offset() % 64, 0u);
  for (const auto& t : f->tensors()) EXPECT_EQ(t.offset % 64, 0u);
  // The same layout read with the default alignment puts the data section elsewhere.
  GgufBuilder c = tiny_llama();
  const Bytes plain = c.build();
  EXPECT_EQ(parse(plain)->alignment(), 32u);
}

TEST(GgufReader, SevenLevelsOfNestingAreAccepted) {
  const Bytes bytes = tiny_llama().kv_array("deep", nested_array_body(7)).build();
  const auto f = parse(bytes);
  const Value* v = f->find("deep");
  ASSERT_NE(v, nullptr);
  int levels = 1;
  while (v->array_type == ValueType::ARRAY) {
    v = &v->array[0];
    ++levels;
  }
  EXPECT_EQ(levels, 7);
}

TEST(GgufReader, MetadataOnlyFileNeedsNoPadding) {
  const Bytes bytes = GgufBuilder().kv_string("general.name", "x").build();
  const auto f = parse(bytes);
  EXPECT_TRUE(f->tensors().empty());
  EXPECT_EQ(f->data_offset(), bytes.size());
}

TEST(GgufReader, TypedGettersCheckTypes) {
  const Bytes bytes = tiny_llama()
                          .kv_i32("x.neg", -3)
                          .kv_i32("x.pos", 7)
                          .kv_bool("x.flag", true)
                          .kv_u64("x.big", UINT64_MAX)
                          .build();
  const auto f = parse(bytes);
  EXPECT_EQ(f->get_u64("x.pos"), 7u);
  EXPECT_EQ(f->get_f64("x.pos"), 7.0);
  EXPECT_EQ(f->get_f64("llama.block_count"), 2.0);
  EXPECT_FLOAT_EQ(static_cast<float>(f->get_f64_or("llama.rope.freq_base", 0)), 10000.0f);
  EXPECT_EQ(f->get_u64_or("absent", 42), 42u);
  EXPECT_EQ(f->get_string_or("absent", "dflt"), "dflt");
  EXPECT_EQ(f->get_bool_or("absent", true), true);
  EXPECT_EQ(f->get_f64_or("absent", 0.25), 0.25);
  EXPECT_EQ(f->get_string("absent"), std::nullopt);
  EXPECT_EQ(f->get_array("absent", ValueType::STRING), nullptr);
  EXPECT_EQ(f->find("x.big")->as_i64(), std::nullopt);
  EXPECT_EQ(f->find("x.neg")->as_u64(), std::nullopt);
  EXPECT_EQ(f->find("x.flag")->as_u64(), std::nullopt);

  EXPECT_NE(error_of([&] { f->get_u64("x.neg"); }).find("key 'x.neg' has negative value -3"),
            std::string::npos);
  EXPECT_NE(error_of([&] {
              f->get_string("llama.block_count");
            }).find("key 'llama.block_count' has type UINT32, expected STRING"),
            std::string::npos);
  EXPECT_NE(error_of([&] {
              f->get_u64("general.name");
            }).find("key 'general.name' has type STRING, expected a non-negative integer"),
            std::string::npos);
  EXPECT_NE(error_of([&] { f->get_u64("llama.rope.freq_base"); }).find("has type FLOAT32"),
            std::string::npos);
  EXPECT_NE(error_of([&] { f->get_bool("x.pos"); }).find("has type INT32, expected BOOL"),
            std::string::npos);
  EXPECT_NE(error_of([&] { f->get_f64("x.flag"); }).find("has type BOOL, expected a number"),
            std::string::npos);
  EXPECT_NE(error_of([&] {
              f->get_array("tokenizer.ggml.tokens", ValueType::INT32);
            }).find("has type ARRAY[STRING], expected ARRAY[INT32]"),
            std::string::npos);
  EXPECT_NE(error_of([&] { f->get_u64_or("general.name", 1); }).find("general.name"),
            std::string::npos);
}

TEST(GgufReader, OpenErrorsAreIoErrors) {
  try {
    GgufFile::open("/nonexistent/infera/model.gguf");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kIo);
    EXPECT_NE(std::string(e.what()).find("/nonexistent/infera/model.gguf"), std::string::npos);
  }
  try {
    GgufFile::open(std::filesystem::temp_directory_path().string());
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kIo);
    EXPECT_NE(std::string(e.what()).find("not a regular file"), std::string::npos);
  }
  TempFile empty(Bytes{});
  try {
    GgufFile::open(empty.path());
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidFile);
  }
}

TEST(GgufReader, EveryTruncationIsRejected) {
  const Bytes full = tiny_llama().build();
  for (size_t n = 0; n < full.size(); ++n) {
    const Bytes cut = truncated(full, n);
    try {
      GgufFile::from_memory(cut.data(), cut.size());
      ADD_FAILURE() << "a prefix of " << n << " bytes was accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kInvalidFile) << n << ": " << e.what();
    }
  }
}

// A poor man's fuzzer: every byte of the header and metadata set to a few values. Each mutant must
// either parse or throw infera::Error; run under ASan/UBSan (preset asan) this finds memory bugs.
TEST(GgufReader, SingleByteMutationsNeverCrash) {
  const Bytes full = all_value_types().build();
  const auto f = parse(full);
  size_t accepted = 0, rejected = 0;
  for (size_t pos = 0; pos < f->data_offset(); ++pos) {
    for (uint8_t value :
         {uint8_t{0x00}, uint8_t{0x01}, uint8_t{0x7f}, uint8_t{0x80}, uint8_t{0xff}}) {
      Bytes m = full;
      m[pos] = value;
      try {
        auto g = GgufFile::from_memory(m.data(), m.size());
        for (const auto& t : g->tensors()) {
          ASSERT_GE(t.data, m.data());
          ASSERT_LE(t.data + t.n_bytes, m.data() + m.size());
        }
        ++accepted;
      } catch (const Error&) {
        ++rejected;
      }
    }
  }
  EXPECT_GT(accepted, 0u);
  EXPECT_GT(rejected, 0u);
}

std::string smollm2_path() {
  if (const char* dir = std::getenv("INFERA_MODELS_DIR")) {
    return std::string(dir) + "/SmolLM2-135M-Instruct.Q4_1.gguf";
  }
  const char* home = std::getenv("HOME");
  return std::string(home ? home : "") + "/.cache/infera/models/SmolLM2-135M-Instruct.Q4_1.gguf";
}

TEST(GgufReader, OpensRealSmolLM2) {
  const std::string path = smollm2_path();
  if (!std::filesystem::exists(path)) GTEST_SKIP() << "model not found at " << path;
  const auto f = GgufFile::open(path);
  EXPECT_EQ(f->tensors().size(), 272u);
  EXPECT_EQ(f->get_string("general.architecture"), "llama");
  EXPECT_EQ(f->get_u64("llama.embedding_length"), 576u);
  EXPECT_EQ(f->get_u64("llama.block_count"), 30u);
  const auto* tokens = f->get_array("tokenizer.ggml.tokens", ValueType::STRING);
  ASSERT_NE(tokens, nullptr);
  EXPECT_EQ(tokens->size(), 49152u);
  const auto* embd = f->find_tensor("token_embd.weight");
  ASSERT_NE(embd, nullptr);
  EXPECT_EQ(embd->ne[0], 576u);
  EXPECT_EQ(embd->ne[1], 49152u);
  uint64_t last_end = 0;
  for (const auto& t : f->tensors()) last_end = std::max(last_end, t.offset + t.n_bytes);
  EXPECT_LE(f->data_offset() + last_end, f->file_size());
}

}  // namespace
}  // namespace infera::testing
