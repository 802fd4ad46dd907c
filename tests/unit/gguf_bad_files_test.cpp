// The bad-file corpus: one crafted GGUF image per class of defect, each of which must be rejected
// with infera::Error carrying a specific message (never a crash, hang or huge allocation).
//
// The same images seed the fuzzer: run this binary with INFERA_GGUF_CORPUS_DIR=fuzz/corpus and
// --gtest_filter='GgufCorpus.*' to rewrite fuzz/corpus/*.gguf.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "core/error.h"
#include "gguf/gguf_file.h"
#include "gguf_test_builder.h"

namespace infera::testing {
namespace {

using gguf::GgufFile;
using Bytes = std::vector<uint8_t>;

constexpr uint64_t kMax64 = UINT64_MAX;

struct BadCase {
  std::string name;
  std::function<Bytes()> make;
  std::string expect;  // a distinctive substring of the error message
  ErrorKind kind = ErrorKind::kInvalidFile;
};

// A file with only a vocabulary (no ids): the tokenizer cases add one broken key to it.
GgufBuilder vocab_file() {
  GgufBuilder b;
  b.kv_string("general.architecture", "llama")
      .kv_array("tokenizer.ggml.tokens", array_strings({"<s>", "</s>", "a", "b"}));
  return b;
}

Bytes with_header(uint32_t version) {
  GgufBuilder b = tiny_llama();
  b.version = version;
  return b.build();
}

std::vector<BadCase> bad_cases() {
  std::vector<BadCase> c;
  auto add_kind = [&](std::string name, std::string expect, ErrorKind kind,
                      std::function<Bytes()> make) {
    c.push_back({std::move(name), std::move(make), std::move(expect), kind});
  };
  auto add = [&](std::string name, std::string expect, std::function<Bytes()> make) {
    add_kind(std::move(name), std::move(expect), ErrorKind::kInvalidFile, std::move(make));
  };

  // ---- header ----
  add("bad_magic", "bad magic 'FUGG'", [] {
    GgufBuilder b = tiny_llama();
    b.magic = 0x47475546;  // "FUGG"
    return b.build();
  });
  add_kind("version_0", "unsupported GGUF version 0", ErrorKind::kUnsupported,
           [] { return with_header(0); });
  add_kind("version_1", "unsupported GGUF version 1", ErrorKind::kUnsupported,
           [] { return with_header(1); });
  add_kind("version_99", "unsupported GGUF version 99", ErrorKind::kUnsupported,
           [] { return with_header(99); });
  add_kind("version_big_endian", "big-endian", ErrorKind::kUnsupported,
           [] { return with_header(0x03000000); });
  add("empty_file", "too short for the magic", [] { return Bytes{}; });
  add("truncated_magic", "too short for the magic",
      [] { return truncated(tiny_llama().build(), 2); });
  add("truncated_version", "truncated header: file ends while reading version",
      [] { return truncated(tiny_llama().build(), 6); });
  add("truncated_tensor_count", "truncated header: file ends while reading tensor_count",
      [] { return truncated(tiny_llama().build(), 12); });
  add("truncated_kv_count", "truncated header: file ends while reading metadata_kv_count",
      [] { return truncated(tiny_llama().build(), 20); });
  add("n_tensors_max", "tensor_count 18446744073709551615 is impossible", [] {
    GgufBuilder b = tiny_llama();
    b.n_tensors_override = kMax64;
    return b.build();
  });
  add("n_tensors_too_many", "tensor_count 1000000 is impossible", [] {
    GgufBuilder b = tiny_llama();
    b.n_tensors_override = 1000000;
    return b.build();
  });
  add("n_kv_max", "metadata_kv_count 18446744073709551615 is impossible", [] {
    GgufBuilder b = tiny_llama();
    b.n_kv_override = kMax64;
    return b.build();
  });

  // ---- metadata keys ----
  add("key_length_max", "metadata entry #0: key length 18446744073709551615 extends past the end",
      [] { return GgufBuilder().kv_raw(ByteWriter().u64(kMax64).raw("abcdefghijkl")).build(); });
  add("key_length_past_eof", "key length 100 extends past the end of the file (12 bytes left)",
      [] { return GgufBuilder().kv_raw(ByteWriter().u64(100).raw("abcdefghijkl")).build(); });
  add("key_too_long", "exceeds the GGUF limit of 65535",
      [] { return GgufBuilder().kv_u32(std::string(gguf::kMaxKeyLength + 1, 'k'), 1).build(); });
  add("empty_key", "metadata entry #0: empty key", [] {
    return GgufBuilder()
        .kv_raw(ByteWriter().str("").type(ValueType::UINT8).u8(0))
        .kv_u32("abcd", 1)
        .build();
  });
  add("duplicate_key", "key 'general.name': duplicate key",
      [] { return tiny_llama().kv_string("general.name", "again").build(); });

  // ---- metadata values ----
  add("unknown_value_type_13", "key 'x.bad': unknown value type 13", [] {
    return tiny_llama().kv("x.bad", static_cast<ValueType>(13), ByteWriter().u32(0)).build();
  });
  add("unknown_value_type_max", "unknown value type 4294967295", [] {
    return tiny_llama()
        .kv("x.bad", static_cast<ValueType>(0xFFFFFFFFu), ByteWriter().u32(0))
        .build();
  });
  add("truncated_u64_value", "key 'k': truncated: file ends while reading u64 value", [] {
    return GgufBuilder().kv_raw(ByteWriter().str("k").type(ValueType::UINT64).u32(7)).build();
  });
  add("string_value_past_eof", "key 'k': string value length 1000 extends past the end", [] {
    return GgufBuilder().kv("k", ValueType::STRING, ByteWriter().u64(1000).raw("short")).build();
  });
  add("string_value_length_max", "string value length 18446744073709551615 extends past the end",
      [] {
        return GgufBuilder().kv("k", ValueType::STRING, ByteWriter().u64(kMax64).raw("x")).build();
      });
  add("invalid_bool", "key 'flag': invalid bool value 2",
      [] { return tiny_llama().kv("flag", ValueType::BOOL, ByteWriter().u8(2)).build(); });
  add("array_element_type_13", "key 'arr': array element type 13 is not a valid GGUF value type",
      [] { return tiny_llama().kv_array("arr", ByteWriter().u32(13).u64(1).u32(0)).build(); });
  add("array_element_type_max", "array element type 4294967295 is not a valid", [] {
    return tiny_llama().kv_array("arr", ByteWriter().u32(0xFFFFFFFFu).u64(1).u32(0)).build();
  });
  add("array_count_max", "array of 18446744073709551615 UINT32 elements extends past the end", [] {
    return tiny_llama()
        .kv_array("arr", ByteWriter().type(ValueType::UINT32).u64(kMax64).u32(1))
        .build();
  });
  add("array_count_past_eof",
      "array of 100 UINT32 elements extends past the end of the file (40 bytes left)", [] {
        ByteWriter body;
        body.type(ValueType::UINT32).u64(100);
        for (int k = 0; k < 10; ++k) body.u32(k);
        return GgufBuilder().kv_array("arr", body).build();
      });
  add("array_of_strings_huge", "array of 1099511627776 STRING elements extends past the end", [] {
    return tiny_llama()
        .kv_array("arr", ByteWriter().type(ValueType::STRING).u64(uint64_t{1} << 40).str("x"))
        .build();
  });
  add("array_of_arrays_huge", "array of 4611686018427387904 ARRAY elements extends past the end",
      [] {
        return tiny_llama()
            .kv_array("arr", ByteWriter().type(ValueType::ARRAY).u64(uint64_t{1} << 62))
            .build();
      });
  add("array_string_element_past_eof", "key 'arr': string value length 500 extends past the end",
      [] {
        return GgufBuilder()
            .kv_array("arr",
                      ByteWriter().type(ValueType::STRING).u64(2).str("ok").u64(500).raw("x"))
            .build();
      });
  add("nested_too_deep", "key 'arr': arrays nested more than 7 levels deep",
      [] { return tiny_llama().kv_array("arr", nested_array_body(8)).build(); });
  add("nested_bool_invalid", "invalid bool value 5", [] {
    return tiny_llama()
        .kv_array("arr", ByteWriter().type(ValueType::BOOL).u64(2).u8(1).u8(5))
        .build();
  });

  // ---- well-known keys ----
  add("alignment_zero", "key 'general.alignment': alignment 0 is not a power of two",
      [] { return tiny_llama().kv_u32("general.alignment", 0).build(); });
  add("alignment_three", "alignment 3 is not a power of two",
      [] { return tiny_llama().kv_u32("general.alignment", 3).build(); });
  add("alignment_not_u32", "key 'general.alignment': must be UINT32 (found UINT64)",
      [] { return tiny_llama().kv_u64("general.alignment", 32).build(); });
  add("alignment_string", "must be UINT32 (found STRING)",
      [] { return tiny_llama().kv_string("general.alignment", "32").build(); });
  add("architecture_not_string", "key 'general.architecture': must be STRING (found UINT32)",
      [] { return GgufBuilder().kv_u32("general.architecture", 1).build(); });

  // ---- tokenizer ----
  add("tokens_not_strings",
      "key 'tokenizer.ggml.tokens': must be an array of strings (found ARRAY[UINT32])", [] {
        return GgufBuilder().kv_array("tokenizer.ggml.tokens", array_u32({1, 2})).build();
      });
  add("tokens_scalar", "must be an array of strings (found STRING)",
      [] { return GgufBuilder().kv_string("tokenizer.ggml.tokens", "abc").build(); });
  add("bos_out_of_range",
      "key 'tokenizer.ggml.bos_token_id': token id 4 is out of range for a vocabulary of 4",
      [] { return vocab_file().kv_u32("tokenizer.ggml.bos_token_id", 4).build(); });
  add("eos_max", "key 'tokenizer.ggml.eos_token_id': token id 18446744073709551615 is out of range",
      [] { return vocab_file().kv_u64("tokenizer.ggml.eos_token_id", kMax64).build(); });
  add("unknown_out_of_range", "key 'tokenizer.ggml.unknown_token_id': token id 100 is out of range",
      [] { return vocab_file().kv_u32("tokenizer.ggml.unknown_token_id", 100).build(); });
  add("seperator_out_of_range", "key 'tokenizer.ggml.seperator_token_id': token id 9",
      [] { return vocab_file().kv_u32("tokenizer.ggml.seperator_token_id", 9).build(); });
  add("eot_negative",
      "key 'tokenizer.ggml.eot_token_id': must be a non-negative integer (found INT32)",
      [] { return vocab_file().kv_i32("tokenizer.ggml.eot_token_id", -1).build(); });
  add("padding_string", "must be a non-negative integer (found STRING)",
      [] { return vocab_file().kv_string("tokenizer.ggml.padding_token_id", "0").build(); });
  add("token_type_length_mismatch",
      "key 'tokenizer.ggml.token_type': has 3 elements but the vocabulary has 4 tokens", [] {
        return vocab_file().kv_array("tokenizer.ggml.token_type", array_i32({1, 1, 1})).build();
      });
  add("scores_length_mismatch", "key 'tokenizer.ggml.scores': has 5 elements", [] {
    return vocab_file().kv_array("tokenizer.ggml.scores", array_f32({0, 0, 0, 0, 0})).build();
  });
  add("scores_wrong_type",
      "key 'tokenizer.ggml.scores': must be an array of FLOAT32 (found ARRAY[INT32])", [] {
        return vocab_file().kv_array("tokenizer.ggml.scores", array_i32({0, 0, 0, 0})).build();
      });
  add("token_type_wrong_type", "must be an array of INT32 (found ARRAY[UINT32])", [] {
    return vocab_file().kv_array("tokenizer.ggml.token_type", array_u32({1, 1, 1, 1})).build();
  });
  add("merges_not_strings", "key 'tokenizer.ggml.merges': must be an array of strings",
      [] { return vocab_file().kv_array("tokenizer.ggml.merges", array_u32({1})).build(); });
  add("vocab_size_mismatch", "key 'llama.vocab_size': vocab_size 5 does not match the 4 tokens",
      [] { return vocab_file().kv_u32("llama.vocab_size", 5).build(); });

  // ---- tensor infos ----
  add("tensor_name_past_eof", "tensor #0: name length 1000 extends past the end", [] {
    return GgufBuilder().tensor_raw(ByteWriter().u64(1000).raw(std::string(40, 'x'))).build();
  });
  add("tensor_name_length_max", "tensor #0: name length 18446744073709551615 extends past the end",
      [] {
        return GgufBuilder().tensor_raw(ByteWriter().u64(kMax64).raw(std::string(40, 'x'))).build();
      });
  add("tensor_name_empty", "tensor #0: empty tensor name",
      [] { return GgufBuilder().tensor("", TensorType::F32, {4}).build(); });
  add("tensor_name_duplicate", "tensor 'output_norm.weight': duplicate tensor name",
      [] { return tiny_llama().tensor("output_norm.weight", TensorType::F32, {64}).build(); });
  add("n_dims_0", "tensor 't': n_dims 0 is out of range (1..4)",
      [] { return GgufBuilder().tensor("t", TensorType::F32, {}).build(); });
  add("n_dims_5", "tensor 't': n_dims 5 is out of range", [] {
    return GgufBuilder().tensor("t", TensorType::F32, {1, 1, 1, 1, 1}).build();
  });
  add("n_dims_max", "n_dims 4294967295 is out of range", [] {
    return GgufBuilder()
        .tensor_raw(ByteWriter().str("t").u32(0xFFFFFFFFu).raw(std::string(64, '\0')))
        .build();
  });
  add("dims_product_overflow",
      "tensor 't': element count of shape [4294967296, 4294967296] overflows", [] {
        return GgufBuilder()
            .tensor("t", TensorType::F32, {uint64_t{1} << 32, uint64_t{1} << 32})
            .build();
      });
  add("dims_product_over_int64", "element count of shape [4294967296, 2147483648] overflows", [] {
    return GgufBuilder()
        .tensor("t", TensorType::F32, {uint64_t{1} << 32, uint64_t{1} << 31})
        .build();
  });
  add("bytes_overflow", "tensor 't': byte size of shape [4611686018427387904] overflows",
      [] { return GgufBuilder().tensor("t", TensorType::F32, {uint64_t{1} << 62}).build(); });
  add("dim_zero", "tensor 't': dimension 1 is zero", [] {
    return GgufBuilder().tensor("t", TensorType::F32, {64, 0}).build();
  });
  add("unknown_tensor_type_4", "tensor 't': unknown tensor type id 4",
      [] { return GgufBuilder().tensor("t", 4u, {32}).build(); });
  add("unknown_tensor_type_max", "unknown tensor type id 4294967295",
      [] { return GgufBuilder().tensor("t", 0xFFFFFFFFu, {32}).build(); });
  add("block_size_multiple",
      "tensor 't': ne[0] = 33 is not a multiple of the block size 32 of type Q4_0", [] {
        return GgufBuilder().tensor("t", TensorType::Q4_0, {33, 2}).build();
      });
  add("k_block_size_multiple", "ne[0] = 128 is not a multiple of the block size 256 of type Q4_K",
      [] { return GgufBuilder().tensor("t", TensorType::Q4_K, {128}).build(); });
  add("offset_misaligned", "tensor 't': offset 7 is not a multiple of the alignment 32",
      [] { return GgufBuilder().tensor("t", TensorType::F32, {8}, 7).build(); });
  add("offset_misaligned_64", "offset 32 is not a multiple of the alignment 64", [] {
    GgufBuilder b;
    b.layout_alignment = 64;
    return b.kv_u32("general.alignment", 64).tensor("t", TensorType::F32, {8}, 32).build();
  });
  add("truncated_tensor_info", "tensor 't': truncated: file ends while reading dimension", [] {
    Bytes full = GgufBuilder().tensor("t", TensorType::F32, {8, 8, 8, 8}).build();
    return truncated(full, 24 + 8 + 1 + 4 + 8 * 3);  // ends inside the dimensions
  });

  // ---- data section ----
  add("data_section_past_eof",
      "data section: starts at offset 64, past the end of the file (size 57)", [] {
        GgufBuilder b;
        b.layout_alignment = 1;  // no padding after the infos, which end at byte 57
        b.data_size_override = 0;
        return b.tensor("t", TensorType::F32, {8}).build();
      });
  add("offset_past_eof",
      "tensor 't': offset 4096 (data section at 64) is past the end of the file (size 96)", [] {
        GgufBuilder b;
        b.data_size_override = 32;
        return b.tensor("t", TensorType::F32, {8}, 4096).build();
      });
  add("offset_max", "offset 18446744073709551584 (data section at 64) is past the end of the file",
      [] {
        return GgufBuilder().tensor("t", TensorType::F32, {8}, kMax64 & ~uint64_t{31}).build();
      });
  add("data_past_eof",
      "tensor 't': data [offset 64, 256 bytes] extends past the end of the file (size 164)", [] {
        GgufBuilder b;
        b.data_size_override = 100;
        return b.tensor("t", TensorType::F32, {64}).build();
      });
  add("last_tensor_truncated", "tensor 'output_norm.weight': data [offset", [] {
    Bytes full = tiny_llama().build();
    return truncated(full, full.size() - 1);
  });
  add("total_bytes_beyond_file",
      "data section: tensors hold 256 bytes in all, more than the 160 bytes", [] {
        GgufBuilder b;
        b.data_size_override = 160;
        return b.tensor("a", TensorType::F32, {32}, 0)
            .tensor("b", TensorType::F32, {32}, 32)
            .build();
      });
  add("overlapping_tensors", "tensors 'a' [offset 0, 128 bytes] and 'b' [offset 64] overlap", [] {
    GgufBuilder b;
    b.data_size_override = 256;
    return b.tensor("a", TensorType::F32, {32}, 0).tensor("b", TensorType::F32, {16}, 64).build();
  });
  return c;
}

class GgufBadFile : public ::testing::TestWithParam<BadCase> {};

TEST_P(GgufBadFile, IsRejectedWithASpecificMessage) {
  const BadCase& bc = GetParam();
  const Bytes bytes = bc.make();
  try {
    auto file = GgufFile::from_memory(bytes.data(), bytes.size());
    FAIL() << "accepted a bad file; expected an error containing: " << bc.expect;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(bc.expect), std::string::npos)
        << "message: " << e.what() << "\nexpected to contain: " << bc.expect;
    EXPECT_EQ(e.kind(), bc.kind) << e.what();
    EXPECT_EQ(std::string(e.what()).rfind("GGUF file '<memory>': ", 0), 0u) << e.what();
  }
}

INSTANTIATE_TEST_SUITE_P(Corpus, GgufBadFile, ::testing::ValuesIn(bad_cases()),
                         [](const ::testing::TestParamInfo<BadCase>& info) {
                           return info.param.name;
                         });

TEST(GgufBadFiles, CorpusIsLargeAndNamesAreUnique) {
  const auto cases = bad_cases();
  EXPECT_GE(cases.size(), 45u);
  std::set<std::string> names;
  for (const auto& c : cases) EXPECT_TRUE(names.insert(c.name).second) << c.name;
}

TEST(GgufBadFiles, ErrorsFromOpenNameThePath) {
  const Bytes bytes = with_header(1);
  const auto path = std::filesystem::temp_directory_path() / "infera_gguf_bad_version.gguf";
  std::ofstream(path, std::ios::binary)
      .write(reinterpret_cast<const char*>(bytes.data()),
             static_cast<std::streamsize>(bytes.size()));
  try {
    GgufFile::open(path.string());
    FAIL() << "accepted a version 1 file";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("GGUF file '" + path.string() + "'"), std::string::npos)
        << e.what();
  }
  std::filesystem::remove(path);
}

// Writes the corpus (bad cases up to 16 KiB plus a few valid files) for the fuzzer's seeds.
TEST(GgufCorpus, DumpWhenAsked) {
  const char* dir = std::getenv("INFERA_GGUF_CORPUS_DIR");
  if (dir == nullptr) GTEST_SKIP() << "set INFERA_GGUF_CORPUS_DIR to write the seed corpus";
  std::filesystem::create_directories(dir);
  auto write = [&](const std::string& name, const Bytes& bytes) {
    std::ofstream out(std::filesystem::path(dir) / (name + ".gguf"), std::ios::binary);
    out.write(reinterpret_cast<const char*>(bytes.data()),
              static_cast<std::streamsize>(bytes.size()));
  };
  for (const auto& c : bad_cases()) {
    const Bytes bytes = c.make();
    if (bytes.size() <= 16384) write("bad_" + c.name, bytes);
  }
  write("valid_tiny_llama", tiny_llama().build());
  write("valid_all_value_types", all_value_types().build());
  GgufBuilder v2 = tiny_llama();
  v2.version = 2;
  write("valid_v2", v2.build());
  GgufBuilder a64 = tiny_llama();
  a64.layout_alignment = 64;
  write("valid_alignment_64", a64.kv_u32("general.alignment", 64).build());
}

}  // namespace
}  // namespace infera::testing
