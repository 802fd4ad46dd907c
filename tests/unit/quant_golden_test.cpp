// Dequantization and quantization proven against gguf-py's numpy reference (gguf 0.19.0): the
// golden files in tests/data/quant/ hold gguf-py's inputs and outputs (tools/gen_quant_golden.py).
// Every comparison here is bit-exact; no tolerance was needed for any type.
#include <gtest/gtest.h>

#include <bit>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

#include "quant/dequantize.h"
#include "quant/float16.h"
#include "quant/quantize.h"
#include "quant/tensor_type.h"

namespace infera {
namespace {

constexpr char kGoldenMagic[8] = {'I', 'F', 'Q', 'G', 'O', 'L', 'D', '\0'};
constexpr uint32_t kGoldenVersion = 1;
constexpr uint32_t kKindDequantize = 1;
constexpr uint32_t kKindQuantize = 2;

struct Golden {
  uint32_t kind = 0;
  uint32_t type_id = 0;
  std::vector<uint8_t> bytes;  // quantized blocks
  std::vector<float> floats;   // float32 values
};

uint32_t read_u32(const std::vector<uint8_t>& data, size_t offset) {
  uint32_t v = 0;
  for (int k = 0; k < 4; ++k) v |= static_cast<uint32_t>(data[offset + k]) << (8 * k);
  return v;
}

// Throws with a message naming the file on any problem (stale or missing goldens included).
Golden load_golden(const std::string& name) {
  const std::string path = std::string(INFERA_TEST_DATA_DIR) + "/quant/" + name;
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + path + " (run tools/gen_quant_golden.py)");
  std::vector<uint8_t> data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (data.size() < 32 || std::memcmp(data.data(), kGoldenMagic, 8) != 0) {
    throw std::runtime_error(path + ": not a quant golden file");
  }
  if (read_u32(data, 8) != kGoldenVersion) {
    throw std::runtime_error(path + ": golden version " + std::to_string(read_u32(data, 8)) +
                             ", expected " + std::to_string(kGoldenVersion) +
                             " (regenerate with tools/gen_quant_golden.py)");
  }
  Golden g;
  g.kind = read_u32(data, 12);
  g.type_id = read_u32(data, 16);
  const uint64_t n_elements = read_u32(data, 20);
  const uint64_t n_bytes = read_u32(data, 24);
  if (data.size() != 32 + n_bytes + 4 * n_elements) {
    throw std::runtime_error(path + ": size does not match its header");
  }
  g.bytes.resize(n_bytes);
  g.floats.resize(n_elements);
  const size_t bytes_at = g.kind == kKindDequantize ? 32 : 32 + 4 * n_elements;
  const size_t floats_at = g.kind == kKindDequantize ? 32 + n_bytes : 32;
  std::memcpy(g.bytes.data(), data.data() + bytes_at, n_bytes);
  for (uint64_t i = 0; i < n_elements; ++i) {
    g.floats[i] = std::bit_cast<float>(read_u32(data, floats_at + 4 * i));
  }
  return g;
}

std::string type_param_name(const testing::TestParamInfo<TensorType>& info) {
  return std::string(tensor_type_name(info.param));
}

class DequantizeGolden : public testing::TestWithParam<TensorType> {};

TEST_P(DequantizeGolden, BitExactWithGgufPy) {
  const TensorType type = GetParam();
  const Golden g = load_golden("deq_" + std::string(tensor_type_name(type)) + ".bin");
  ASSERT_EQ(g.kind, kKindDequantize);
  ASSERT_EQ(g.type_id, static_cast<uint32_t>(type));
  const int64_t n = static_cast<int64_t>(g.floats.size());
  uint64_t row_bytes = 0;
  ASSERT_TRUE(tensor_row_bytes(type, static_cast<uint64_t>(n), &row_bytes));
  ASSERT_EQ(row_bytes, g.bytes.size());

  // Offset by one byte: dequantize_row must not rely on the blocks being aligned.
  std::vector<uint8_t> src(g.bytes.size() + 1);
  std::memcpy(src.data() + 1, g.bytes.data(), g.bytes.size());
  std::vector<float> out(static_cast<size_t>(n), -1.0f);
  dequantize_row(type, src.data() + 1, out.data(), n);

  const int64_t qk = traits_of(type).block_elements;
  int mismatches = 0;
  for (int64_t i = 0; i < n; ++i) {
    const uint32_t want = std::bit_cast<uint32_t>(g.floats[i]);
    const uint32_t got = std::bit_cast<uint32_t>(out[i]);
    if (want != got && ++mismatches <= 8) {
      ADD_FAILURE() << tensor_type_name(type) << " block " << i / qk << " element " << i % qk
                    << ": gguf-py " << g.floats[i] << " (0x" << std::hex << want << "), infera "
                    << out[i] << " (0x" << got << ")" << std::dec;
    }
  }
  EXPECT_EQ(mismatches, 0) << "of " << n << " values";
}

INSTANTIATE_TEST_SUITE_P(Types, DequantizeGolden,
                         testing::Values(TensorType::F32, TensorType::F16, TensorType::BF16,
                                         TensorType::Q4_0, TensorType::Q4_1, TensorType::Q5_0,
                                         TensorType::Q5_1, TensorType::Q8_0, TensorType::Q2_K,
                                         TensorType::Q3_K, TensorType::Q4_K, TensorType::Q5_K,
                                         TensorType::Q6_K),
                         type_param_name);

class QuantizeGolden : public testing::TestWithParam<TensorType> {};

TEST_P(QuantizeGolden, BitExactWithGgufPy) {
  const TensorType type = GetParam();
  const Golden g = load_golden("quant_" + std::string(tensor_type_name(type)) + ".bin");
  ASSERT_EQ(g.kind, kKindQuantize);
  ASSERT_EQ(g.type_id, static_cast<uint32_t>(type));
  const int64_t n = static_cast<int64_t>(g.floats.size());
  uint64_t row_bytes = 0;
  ASSERT_TRUE(tensor_row_bytes(type, static_cast<uint64_t>(n), &row_bytes));
  ASSERT_EQ(row_bytes, g.bytes.size());
  ASSERT_TRUE(has_quantizer(type));

  std::vector<uint8_t> dst(g.bytes.size() + 1, 0xCD);
  quantize_row(type, g.floats.data(), dst.data() + 1, n);  // unaligned destination on purpose

  const TensorTypeTraits& t = traits_of(type);
  int mismatches = 0;
  for (size_t i = 0; i < g.bytes.size(); ++i) {
    if (dst[i + 1] != g.bytes[i] && ++mismatches <= 8) {
      const size_t block = i / t.block_bytes;
      ADD_FAILURE() << tensor_type_name(type) << " block " << block << " byte " << i % t.block_bytes
                    << ": gguf-py 0x" << std::hex << int{g.bytes[i]} << ", infera 0x"
                    << int{dst[i + 1]} << std::dec << " (first input "
                    << g.floats[block * t.block_elements] << ")";
    }
  }
  EXPECT_EQ(mismatches, 0) << "of " << g.bytes.size() << " bytes";
}

INSTANTIATE_TEST_SUITE_P(Types, QuantizeGolden,
                         testing::Values(TensorType::F16, TensorType::BF16, TensorType::Q4_0,
                                         TensorType::Q4_1, TensorType::Q5_0, TensorType::Q5_1,
                                         TensorType::Q8_0),
                         type_param_name);

// The scalar conversions themselves (not only through the row functions) against numpy.
TEST(Float16Golden, AllHalfValuesToFp32MatchNumpy) {
  const Golden g = load_golden("deq_F16.bin");
  ASSERT_EQ(g.floats.size(), 65536u);
  for (uint32_t i = 0; i < 65536; ++i) {
    uint16_t h;
    std::memcpy(&h, g.bytes.data() + 2 * i, 2);
    ASSERT_EQ(h, i);
    ASSERT_EQ(std::bit_cast<uint32_t>(fp16_to_fp32(h)), std::bit_cast<uint32_t>(g.floats[i]))
        << "half 0x" << std::hex << h;
  }
}

TEST(Float16Golden, Fp32ToFp16AndBf16MatchNumpyOnEdgeCases) {
  for (const char* name : {"quant_F16.bin", "quant_BF16.bin"}) {
    const Golden g = load_golden(name);
    ASSERT_EQ(g.bytes.size(), 2 * g.floats.size());
    const bool is_f16 = g.type_id == static_cast<uint32_t>(TensorType::F16);
    for (size_t i = 0; i < g.floats.size(); ++i) {
      uint16_t want;
      std::memcpy(&want, g.bytes.data() + 2 * i, 2);
      const float f = g.floats[i];
      const uint16_t got = is_f16 ? fp32_to_fp16(f) : fp32_to_bf16(f);
      ASSERT_EQ(got, want) << name << " input 0x" << std::hex << std::bit_cast<uint32_t>(f);
    }
  }
}

}  // namespace
}  // namespace infera
