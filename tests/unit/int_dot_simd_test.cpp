// The SIMD integer dot products (kernels/int_dot.h) against the scalar reference: EXACTLY equal,
// bit for bit, for every ISA this CPU runs, over many shapes and random blocks that include the
// extreme quants (-128/127, 0/15, 0/31, ...) and scales (largest half, subnormal halves, zero).
// Then the same at model level (INFERA_FORCE_SCALAR=1 gives identical logits), and IntDotBench:
// a short check-and-bench that prints GB/s and GOP/s per kernel and ISA and asserts no timing.
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <limits>
#include <random>
#include <vector>

#include "core/thread_pool.h"
#include "kernels/cpu_features.h"
#include "kernels/int_dot.h"
#include "kernels/quantized_dot.h"
#include "model/model.h"
#include "model/session.h"
#include "quant/blocks.h"
#include "quant/float16.h"
#include "quant/vec_dot_k.h"

namespace infera {
namespace {

// Runs fn with `isa` forced, then restores the normal selection.
template <typename Fn>
void with_isa(Isa isa, Fn fn) {
  set_isa_override(isa);
  fn();
  clear_isa_override();
}

std::vector<Isa> simd_isas() {
  std::vector<Isa> isas;
  for (Isa isa : {Isa::kAvx2, Isa::kAvx512})
    if (isa_supported(isa)) isas.push_back(isa);
  return isas;
}

std::vector<uint32_t> bits_of(const std::vector<float>& v) {
  std::vector<uint32_t> b;
  for (float f : v) b.push_back(std::bit_cast<uint32_t>(f));
  return b;
}

// A block scale: mostly ordinary values, sometimes an extreme one.
uint16_t random_half(std::mt19937& rng) {
  switch (rng() % 8) {
    case 0:
      return fp32_to_fp16(65504.0f);  // largest half
    case 1:
      return 0x0001;  // smallest subnormal
    case 2:
      return 0x0000;
    case 3:
      return static_cast<uint16_t>(0x8000 | (rng() % 0x0400));  // negative subnormal
    default: {
      std::uniform_real_distribution<float> u(-4.0f, 4.0f);
      return fp32_to_fp16(std::ldexp(u(rng), -static_cast<int>(rng() % 12)));
    }
  }
}

// Bytes of the quants: random, or all-zero / all-one bits (the extreme quants of every type).
void fill_quant_bytes(std::mt19937& rng, uint8_t* p, size_t n) {
  const unsigned pattern = rng() % 6;
  for (size_t i = 0; i < n; ++i) {
    switch (pattern) {
      case 0:
        p[i] = 0x00;
        break;
      case 1:
        p[i] = 0xff;
        break;
      case 2:
        p[i] = 0x80;  // -128 for int8 quants
        break;
      case 3:
        p[i] = 0x7f;
        break;
      default:
        p[i] = static_cast<uint8_t>(rng());
    }
  }
}

// ---- Q4_0 / Q4_1 / Q5_0 / Q5_1 / Q8_0 × Q8_0 / Q8_1 -------------------------------------------

template <typename Block>
void fill_q8_family_row(std::mt19937& rng, uint8_t* row, int64_t nb) {
  auto* b = reinterpret_cast<Block*>(row);
  for (int64_t i = 0; i < nb; ++i) {
    fill_quant_bytes(rng, reinterpret_cast<uint8_t*>(&b[i]), sizeof(Block));
    b[i].d = random_half(rng);
    if constexpr (requires { b[i].m; }) b[i].m = random_half(rng);
    if constexpr (requires { b[i].s; }) b[i].s = random_half(rng);
  }
}

void fill_weights(std::mt19937& rng, TensorType type, uint8_t* row, int64_t nb) {
  switch (type) {
    case TensorType::Q4_0:
      return fill_q8_family_row<block_q4_0>(rng, row, nb);
    case TensorType::Q4_1:
      return fill_q8_family_row<block_q4_1>(rng, row, nb);
    case TensorType::Q5_0:
      return fill_q8_family_row<block_q5_0>(rng, row, nb);
    case TensorType::Q5_1:
      return fill_q8_family_row<block_q5_1>(rng, row, nb);
    default:
      return fill_q8_family_row<block_q8_0>(rng, row, nb);
  }
}

uint64_t row_bytes(TensorType type, int64_t n) {
  uint64_t bytes = 0;
  tensor_row_bytes(type, static_cast<uint64_t>(n), &bytes);
  return bytes;
}

// y[t] for every activation row, with the current ISA selection.
std::vector<float> dot_rows(TensorType type, const std::vector<uint8_t>& w,
                            const std::vector<uint8_t>& x, int64_t n_rows, int64_t n) {
  std::vector<float> y(static_cast<size_t>(n_rows), -1.0f);
  vec_dot_activations_rows(type, w.data(), x.data(), activation_row_bytes(type, n), n_rows, n,
                           y.data(), 1);
  return y;
}

TEST(IntDotActivations, QuantsNeverReachMinus128) {
  // quantize_q8_block scales by 127 / amax and rounds: |q| <= 127 for any finite input, the
  // extremes included (the Q8_0 weights' SIMD kernel negates activations by the weights' sign).
  std::mt19937 rng(99);
  for (float scale : {1e-38f, 1e-20f, 1.0f, 3.0e4f, 1e30f, 3.0e38f}) {
    for (int rep = 0; rep < 200; ++rep) {
      std::vector<float> f(QK8_0);
      std::uniform_real_distribution<float> u(-1.0f, 1.0f);
      for (auto& v : f) v = u(rng) * scale;
      f[static_cast<size_t>(rep % QK8_0)] = rep % 2 ? -scale : scale;  // an exact extreme
      block_q8_0 b;
      quantize_activations(TensorType::Q8_0, f.data(), &b, QK8_0);
      for (int8_t q : b.qs) ASSERT_GE(q, -127) << "scale " << scale;
    }
  }
}

// The AVX2 and AVX-512 activation quantizers against the scalar ones: the same bytes, for
// ordinary rows and for blocks holding zeros only, ties (x · 127 / amax exactly halfway),
// subnormals, infinities, NaN, and (Q8_K) largest magnitudes of both signs.
TEST(IntDotActivations, SimdQuantizerEqualsScalar) {
  if (simd_isas().empty()) GTEST_SKIP() << "no SIMD quantizer on this CPU";
  std::mt19937 rng(7);
  const int64_t n = 32 * 24;
  for (int rep = 0; rep < 300; ++rep) {
    std::vector<float> f(static_cast<size_t>(n));
    std::normal_distribution<float> normal(0.0f, 1.0f);
    for (auto& v : f) v = normal(rng) * std::ldexp(1.0f, static_cast<int>(rng() % 40) - 20);
    for (int64_t b = 0; b < n / 32; ++b) {
      float* blk = f.data() + 32 * b;
      switch ((rep + b) % 8) {
        case 0:
          std::fill(blk, blk + 32, 0.0f);
          break;
        case 1:  // amax 127: every integer and half-integer is exact, ties included
          for (int j = 0; j < 32; ++j)
            blk[j] = static_cast<float>(static_cast<int>(rng() % 255) - 127) / 2;
          blk[0] = 127.0f;
          break;
        case 2:
          for (int j = 0; j < 32; ++j) blk[j] = std::ldexp(normal(rng), -140);  // subnormals
          break;
        case 3:
          blk[rng() % 32] = std::numeric_limits<float>::quiet_NaN();
          break;
        case 4:
          blk[rng() % 32] = -std::numeric_limits<float>::infinity();
          break;
        default:
          break;
      }
    }
    // Whole 256-element blocks (Q8_K): all zeros, or two values of the largest magnitude with
    // opposite signs, the first of which sets the scale.
    if (rep % 10 == 9) std::fill(f.begin() + 256, f.begin() + 512, 0.0f);
    if (rep % 10 == 8) {
      f[5 + 256] = -1e9f;
      f[100 + 256] = 1e9f;
    }
    // Q8_0, Q8_1 and Q8_K blocks
    for (TensorType type : {TensorType::Q8_0, TensorType::Q4_1, TensorType::Q4_K}) {
      const uint64_t bytes = activation_row_bytes(type, n);
      std::vector<uint8_t> ref(bytes), got(bytes);
      with_isa(Isa::kScalar, [&] { quantize_activations(type, f.data(), ref.data(), n); });
      for (Isa isa : simd_isas()) {
        with_isa(isa, [&] { quantize_activations(type, f.data(), got.data(), n); });
        ASSERT_EQ(ref, got) << isa_name(isa) << " " << tensor_type_name(type) << " rep " << rep;
      }
    }
  }
}

// F16 weights take activations rounded through fp16: the AVX2 and AVX-512 rounding against the
// scalar one, bit for bit, over a sweep of every exponent and sign (with odd strides through the
// mantissas), the ties of each binade, the half's subnormal and overflow edges, infinities and NaN
// payloads.
TEST(IntDotActivations, SimdFp16RoundingEqualsScalar) {
  if (simd_isas().empty()) GTEST_SKIP() << "no SIMD rounding on this CPU";
  std::vector<float> f;
  for (uint64_t bits = 0; bits <= 0xffffffffu; bits += 65521)
    f.push_back(std::bit_cast<float>(static_cast<uint32_t>(bits)));
  for (uint32_t e = 0; e < 256; ++e) {
    for (uint32_t low : {0x0fffu, 0x1000u, 0x1001u, 0x2fffu, 0x3000u, 0x3001u, 0x7fffffu}) {
      const uint32_t bits = (e << 23) | low;
      f.push_back(std::bit_cast<float>(bits));
      f.push_back(std::bit_cast<float>(bits | 0x80000000u));
    }
  }
  for (float v : {65504.0f, 65519.99f, 65520.0f, 65536.0f, 0x1p-24f, 0x1p-25f, 0x1.8p-25f, 0x1p-14f,
                  0x1.ffcp-15f, std::numeric_limits<float>::infinity()})
    for (float s : {1.0f, -1.0f}) f.push_back(s * v);
  f.push_back(std::bit_cast<float>(0x7f800001u));  // signalling NaN: its payload kept as is
  f.push_back(std::bit_cast<float>(0xffc01234u));
  std::vector<float> ref(f.size()), got(f.size());
  const auto n = static_cast<int64_t>(f.size());
  with_isa(Isa::kScalar, [&] { quantize_activations(TensorType::F16, f.data(), ref.data(), n); });
  for (Isa isa : simd_isas()) {
    with_isa(isa, [&] { quantize_activations(TensorType::F16, f.data(), got.data(), n); });
    for (size_t i = 0; i < f.size(); ++i) {
      ASSERT_EQ(std::bit_cast<uint32_t>(ref[i]), std::bit_cast<uint32_t>(got[i]))
          << isa_name(isa) << " input bits " << std::hex << std::bit_cast<uint32_t>(f[i]);
    }
  }
}

class IntDotQ8Family : public ::testing::TestWithParam<TensorType> {};

TEST_P(IntDotQ8Family, EqualsScalarReferenceBitForBit) {
  const TensorType type = GetParam();
  std::mt19937 rng(1234 + static_cast<unsigned>(type));
  int checked = 0;
  for (int64_t nb : {1, 2, 7, 8, 9, 15, 16, 17, 24, 88, 131}) {
    for (int64_t n_rows : {1, 3}) {
      for (int rep = 0; rep < 4; ++rep) {
        const int64_t n = nb * QK8_0;
        std::vector<uint8_t> w(row_bytes(type, n));
        fill_weights(rng, type, w.data(), nb);
        const uint64_t x_bytes = activation_row_bytes(type, n);
        std::vector<uint8_t> x(x_bytes * static_cast<uint64_t>(n_rows));
        for (int64_t t = 0; t < n_rows; ++t) {
          uint8_t* xt = x.data() + t * x_bytes;
          if (rep == 0) {  // activations as the engine makes them
            std::normal_distribution<float> normal(0.0f, 2.0f);
            std::vector<float> f(static_cast<size_t>(n));
            for (auto& v : f) v = normal(rng);
            quantize_activations(type, f.data(), xt, n);
          } else if (activation_type_for(type) == TensorType::Q8_0) {
            fill_q8_family_row<block_q8_0>(rng, xt, nb);
            // Activations never hold -128 (IntDotActivations.QuantsNeverReachMinus128); the Q8_0
            // weights' kernel relies on it.
            auto* blocks = reinterpret_cast<block_q8_0*>(xt);
            for (int64_t i = 0; i < nb; ++i)
              for (int8_t& q : blocks[i].qs) q = std::max<int8_t>(q, -127);
          } else {
            fill_q8_family_row<block_q8_1>(rng, xt, nb);
          }
        }
        std::vector<float> ref;
        with_isa(Isa::kScalar, [&] { ref = dot_rows(type, w, x, n_rows, n); });
        for (Isa isa : simd_isas()) {
          std::vector<float> got;
          with_isa(isa, [&] { got = dot_rows(type, w, x, n_rows, n); });
          ASSERT_EQ(bits_of(got), bits_of(ref))
              << isa_name(isa) << " nb=" << nb << " rows=" << n_rows << " rep=" << rep;
          ++checked;
        }
      }
    }
  }
  if (checked == 0) GTEST_SKIP() << "no SIMD ISA on this CPU: only the reference runs";
}

INSTANTIATE_TEST_SUITE_P(IntDot, IntDotQ8Family,
                         ::testing::Values(TensorType::Q4_0, TensorType::Q4_1, TensorType::Q5_0,
                                           TensorType::Q5_1, TensorType::Q8_0),
                         [](const auto& info) {
                           return std::string(tensor_type_name(info.param));
                         });

// The decode kernel (several weight rows times one activation row) against the reference row by
// row, over row counts around its 4-row and 2-row passes and partial block groups.
TEST_P(IntDotQ8Family, WeightRowsEqualScalarReferenceBitForBit) {
  const TensorType type = GetParam();
  std::mt19937 rng(2468 + static_cast<unsigned>(type));
  int checked = 0;
  for (int64_t nb : {1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 20, 24, 28, 88, 131}) {
    for (int64_t w_rows : {1, 2, 3, 4, 5, 6, 7, 9}) {
      for (int rep = 0; rep < 3; ++rep) {
        const int64_t n = nb * QK8_0;
        const uint64_t w_bytes = row_bytes(type, n);
        std::vector<uint8_t> w(w_bytes * static_cast<uint64_t>(w_rows));
        for (int64_t r = 0; r < w_rows; ++r) fill_weights(rng, type, w.data() + r * w_bytes, nb);
        std::vector<uint8_t> x(activation_row_bytes(type, n));
        if (rep == 0) {  // activations as the engine makes them
          std::normal_distribution<float> normal(0.0f, 2.0f);
          std::vector<float> f(static_cast<size_t>(n));
          for (auto& v : f) v = normal(rng);
          quantize_activations(type, f.data(), x.data(), n);
        } else if (activation_type_for(type) == TensorType::Q8_0) {
          fill_q8_family_row<block_q8_0>(rng, x.data(), nb);
          auto* blocks = reinterpret_cast<block_q8_0*>(x.data());
          for (int64_t i = 0; i < nb; ++i)
            for (int8_t& q : blocks[i].qs) q = std::max<int8_t>(q, -127);
        } else {
          fill_q8_family_row<block_q8_1>(rng, x.data(), nb);
        }
        std::vector<float> ref(static_cast<size_t>(w_rows));
        with_isa(Isa::kScalar, [&] {
          for (int64_t r = 0; r < w_rows; ++r)
            vec_dot_activations_rows(type, w.data() + r * w_bytes, x.data(), 0, 1, n,
                                     ref.data() + r, 0);
        });
        for (Isa isa : simd_isas()) {
          // The activation row in the panel form of that ISA: AVX-512 reads its float block
          // scales instead of gathering them from the blocks; AVX2's kernel needs it.
          std::vector<uint8_t> panel(panel_activation_row_bytes(n));
          with_isa(isa, [&] { panel_activations(type, x.data(), n, panel.data()); });
          for (const uint8_t* x_panel :
               {static_cast<const uint8_t*>(nullptr), static_cast<const uint8_t*>(panel.data())}) {
            std::vector<float> got(ref.size(), -1.0f);
            bool served = false;
            with_isa(isa, [&] {
              served = vec_dot_activations_weight_rows(type, w.data(), w_bytes, w_rows, x.data(), n,
                                                       got.data(), x_panel);
            });
            const bool expect_served = isa == Isa::kAvx512 || x_panel != nullptr;
            ASSERT_EQ(served, expect_served) << isa_name(isa);
            if (!served) continue;
            ASSERT_EQ(bits_of(got), bits_of(ref))
                << isa_name(isa) << " nb=" << nb << " w_rows=" << w_rows << " rep=" << rep
                << " panel scales=" << (x_panel != nullptr);
            ++checked;
          }
        }
      }
    }
  }
  if (checked == 0) GTEST_SKIP() << "no decode kernel for this type on this CPU";
}

// The panel kernel (16 weight rows at a time, prompt processing; here a block of three panels)
// against the reference row by row, over partial block groups and token counts around its vector
// widths; 70 and 133 tokens pass in groups (24 at a time) over the rewritten panels.
TEST_P(IntDotQ8Family, PanelEqualsScalarReferenceBitForBit) {
  const TensorType type = GetParam();
  std::vector<Isa> panel_isas;
  for (Isa isa : simd_isas())
    with_isa(isa, [&] {
      if (activation_panel_rows(type) > 0) panel_isas.push_back(isa);
    });
  if (panel_isas.empty()) GTEST_SKIP() << "no panel kernel for this type on this CPU";
  std::mt19937 rng(4321 + static_cast<unsigned>(type));
  for (int64_t nb : {1, 7, 8, 9, 17, 88}) {
    for (int64_t n_tokens : {1, 8, 19, 70, 133}) {
      const int64_t n = nb * QK8_0;
      const int64_t rows = 48;
      const uint64_t w_bytes = row_bytes(type, n);
      std::vector<uint8_t> w(w_bytes * rows);
      for (int64_t r = 0; r < rows; ++r) fill_weights(rng, type, w.data() + r * w_bytes, nb);
      const uint64_t x_bytes = activation_row_bytes(type, n);
      std::vector<uint8_t> x(x_bytes * static_cast<uint64_t>(n_tokens));
      std::normal_distribution<float> normal(0.0f, 2.0f);
      std::vector<float> f(static_cast<size_t>(n));
      for (int64_t t = 0; t < n_tokens; ++t) {
        for (auto& v : f) v = normal(rng);
        if (t % 3 == 1) f[static_cast<size_t>(t % n)] = 1e30f;  // one huge value: tiny quants
        quantize_activations(type, f.data(), x.data() + t * x_bytes, n);
      }
      // y[t * rows + r], the reference row by row.
      std::vector<float> ref(static_cast<size_t>(rows * n_tokens));
      with_isa(Isa::kScalar, [&] {
        for (int64_t r = 0; r < rows; ++r)
          vec_dot_activations_rows(type, w.data() + r * w_bytes, x.data(), x_bytes, n_tokens, n,
                                   ref.data() + r, rows);
      });
      for (Isa isa : panel_isas) {
        std::vector<float> got(ref.size());
        with_isa(isa, [&] {
          ASSERT_EQ(activation_panel_rows(type), 16);
          const uint64_t p_bytes = panel_activation_row_bytes(n);
          std::vector<uint8_t> panel_x(p_bytes * static_cast<uint64_t>(n_tokens));
          for (int64_t t = 0; t < n_tokens; ++t)
            panel_activations(type, x.data() + t * x_bytes, n, panel_x.data() + t * p_bytes);
          vec_dot_activations_panel(type, w.data(), w_bytes, rows, panel_x.data(), p_bytes,
                                    n_tokens, n, got.data(), rows);
        });
        ASSERT_EQ(bits_of(got), bits_of(ref))
            << isa_name(isa) << " nb=" << nb << " tokens=" << n_tokens;
      }
    }
  }
}

// ---- K-quants × Q8_K ---------------------------------------------------------------------------

template <typename Block>
void fill_k_row(std::mt19937& rng, uint8_t* row, int64_t nb) {
  auto* b = reinterpret_cast<Block*>(row);
  for (int64_t i = 0; i < nb; ++i) {
    // Random bytes cover every quant and every (packed) scale, min -128/127 scales included.
    fill_quant_bytes(rng, reinterpret_cast<uint8_t*>(&b[i]), sizeof(Block));
    if (rng() % 2) {
      for (size_t k = 0; k < sizeof(Block); ++k)
        reinterpret_cast<uint8_t*>(&b[i])[k] = static_cast<uint8_t>(rng());
    }
    b[i].d = random_half(rng);
    if constexpr (requires { b[i].dmin; }) b[i].dmin = random_half(rng);
  }
}

void fill_k_weights(std::mt19937& rng, TensorType type, uint8_t* row, int64_t nb) {
  switch (type) {
    case TensorType::Q2_K:
      return fill_k_row<block_q2_K>(rng, row, nb);
    case TensorType::Q3_K:
      return fill_k_row<block_q3_K>(rng, row, nb);
    case TensorType::Q4_K:
      return fill_k_row<block_q4_K>(rng, row, nb);
    case TensorType::Q5_K:
      return fill_k_row<block_q5_K>(rng, row, nb);
    default:
      return fill_k_row<block_q6_K>(rng, row, nb);
  }
}

void fill_q8k(std::mt19937& rng, block_q8_K* x, int64_t nb) {
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  for (int64_t i = 0; i < nb; ++i) {
    fill_quant_bytes(rng, reinterpret_cast<uint8_t*>(x[i].qs), QK_K);
    const unsigned kind = rng() % 6;
    x[i].d = kind == 0 ? 0.0f : kind == 1 ? 3.0e38f : kind == 2 ? 1.0e-40f : u(rng) * 0.01f;
    for (int s = 0; s < QK_K / 16; ++s) {
      int sum = 0;
      for (int l = 0; l < 16; ++l) sum += x[i].qs[16 * s + l];
      x[i].bsums[s] = static_cast<int16_t>(sum);
    }
  }
}

class IntDotK : public ::testing::TestWithParam<TensorType> {};

TEST_P(IntDotK, EqualsScalarReferenceBitForBit) {
  const TensorType type = GetParam();
  std::mt19937 rng(99 + static_cast<unsigned>(type));
  int checked = 0;
  for (int64_t nb : {1, 2, 3, 5, 11}) {
    // 17 rows: past one tile of rows (kernels decode each weight block once per tile); the rows
    // sit one block further apart than their length, and the weight row starts unaligned.
    for (int64_t n_rows : {1, 3, 17}) {
      for (int rep = 0; rep < (n_rows > 3 ? 2 : 6); ++rep) {
        const int64_t n = nb * QK_K;
        const int64_t stride = n_rows > 3 ? nb + 1 : nb;
        std::vector<uint8_t> w_aligned(row_bytes(type, n)), w_buf(w_aligned.size() + 1);
        fill_k_weights(rng, type, w_aligned.data(), nb);
        uint8_t* w = w_buf.data() + (n_rows > 3 ? 1 : 0);
        std::memcpy(w, w_aligned.data(), w_aligned.size());
        std::vector<block_q8_K> x(static_cast<size_t>(stride * n_rows));
        fill_q8k(rng, x.data(), stride * n_rows);
        auto run = [&] {
          std::vector<float> y(static_cast<size_t>(n_rows));
          vec_dot_k_q8k_rows(type, w, x.data(), stride, n_rows, n, y.data(), 1);
          return y;
        };
        std::vector<float> ref;
        with_isa(Isa::kScalar, [&] { ref = run(); });
        for (Isa isa : simd_isas()) {
          std::vector<float> got;
          with_isa(isa, [&] { got = run(); });
          ASSERT_EQ(bits_of(got), bits_of(ref))
              << isa_name(isa) << " nb=" << nb << " rows=" << n_rows << " rep=" << rep;
          ++checked;
        }
      }
    }
  }
  if (checked == 0) GTEST_SKIP() << "no SIMD ISA on this CPU: only the reference runs";
}

// The K-quant panel kernels (16 weight rows at a time; here a block of three panels) against the
// reference row by row, for the types they serve on each SIMD path; unaligned rows one block longer
// than the matrix, token counts around 8 and 23.
TEST_P(IntDotK, PanelEqualsScalarReferenceBitForBit) {
  const TensorType type = GetParam();
  std::vector<Isa> panel_isas;
  for (Isa isa : simd_isas())
    with_isa(isa, [&] {
      if (activation_panel_rows(type) > 0) panel_isas.push_back(isa);
    });
  if (panel_isas.empty()) GTEST_SKIP() << "no panel kernel for this type on this CPU";
  const int64_t panel_rows = 3 * kIntPanelRows;
  std::mt19937 rng(777 + static_cast<unsigned>(type));
  for (int64_t nb : {1, 2, 3, 5, 9}) {  // 9: block 8 shares lane 0 with block 0
    // 23: every token group size of the kernel in one call (6 or 8, then 4, 2, 1); 71: a group of
    // 48 over the rewritten panels, then 23 more.
    for (int64_t n_tokens : {1, 8, 13, 23, 71}) {
      const int64_t n = nb * QK_K;
      const uint64_t w_bytes = row_bytes(type, n) + row_bytes(type, QK_K);
      std::vector<uint8_t> w_buf(w_bytes * panel_rows + 1), row(w_bytes);
      uint8_t* w = w_buf.data() + 1;  // blocks at odd addresses: the kernel must not care
      for (int64_t r = 0; r < panel_rows; ++r) {
        fill_k_weights(rng, type, row.data(), nb + 1);
        std::memcpy(w + r * w_bytes, row.data(), w_bytes);
      }
      std::vector<block_q8_K> x(static_cast<size_t>(nb * n_tokens));
      fill_q8k(rng, x.data(), nb * n_tokens);
      const auto* xb = reinterpret_cast<const uint8_t*>(x.data());
      const uint64_t x_bytes = nb * sizeof(block_q8_K);
      std::vector<float> ref(static_cast<size_t>(panel_rows * n_tokens));
      with_isa(Isa::kScalar, [&] {
        for (int64_t r = 0; r < panel_rows; ++r)
          vec_dot_activations_rows(type, w + r * w_bytes, xb, x_bytes, n_tokens, n, ref.data() + r,
                                   panel_rows);
      });
      for (Isa isa : panel_isas) {
        std::vector<float> got(ref.size());
        with_isa(isa, [&] {
          ASSERT_FALSE(panel_reads_rewritten_activations(type));
          vec_dot_activations_panel(type, w, w_bytes, panel_rows, xb, x_bytes, n_tokens, n,
                                    got.data(), panel_rows);
        });
        ASSERT_EQ(bits_of(got), bits_of(ref))
            << isa_name(isa) << " nb=" << nb << " tokens=" << n_tokens;
      }
    }
  }
}

// The decode kernel (several weight rows times one activation row) against the reference row by
// row: every row count up to two passes of 4, groups of 8 blocks with and without a tail, rows
// at odd addresses.
TEST_P(IntDotK, WeightRowsEqualScalarReferenceBitForBit) {
  const TensorType type = GetParam();
  std::mt19937 rng(4321 + static_cast<unsigned>(type));
  int checked = 0;
  for (int64_t nb : {1, 2, 7, 8, 9, 16, 17, 46}) {
    for (int64_t w_rows : {1, 2, 3, 4, 5, 6, 7, 9}) {
      for (int rep = 0; rep < 2; ++rep) {
        const int64_t n = nb * QK_K;
        const uint64_t w_bytes = row_bytes(type, n);
        std::vector<uint8_t> w_buf(w_bytes * static_cast<uint64_t>(w_rows) + 1), row(w_bytes);
        uint8_t* w = w_buf.data() + 1;  // blocks at odd addresses: the kernel must not care
        for (int64_t r = 0; r < w_rows; ++r) {
          fill_k_weights(rng, type, row.data(), nb);
          std::memcpy(w + r * w_bytes, row.data(), w_bytes);
        }
        std::vector<block_q8_K> x(static_cast<size_t>(nb));
        if (rep == 0) {  // activations as the engine makes them
          std::normal_distribution<float> normal(0.0f, 2.0f);
          std::vector<float> f(static_cast<size_t>(n));
          for (auto& v : f) v = normal(rng);
          quantize_activations(type, f.data(), x.data(), n);
        } else {
          fill_q8k(rng, x.data(), nb);
        }
        const auto* xb = reinterpret_cast<const uint8_t*>(x.data());
        std::vector<float> ref(static_cast<size_t>(w_rows));
        with_isa(Isa::kScalar, [&] {
          for (int64_t r = 0; r < w_rows; ++r)
            vec_dot_activations_rows(type, w + r * w_bytes, xb, 0, 1, n, ref.data() + r, 0);
        });
        for (Isa isa : simd_isas()) {
          std::vector<float> got(ref.size(), -1.0f);
          bool served = false;
          with_isa(isa, [&] {
            served = vec_dot_activations_weight_rows(type, w, w_bytes, w_rows, xb, n, got.data());
          });
          const bool has_kernel = type == TensorType::Q4_K || type == TensorType::Q6_K;
          const bool avx2_kernel = has_kernel || type == TensorType::Q5_K;
          ASSERT_EQ(served, isa == Isa::kAvx512 ? has_kernel : avx2_kernel) << isa_name(isa);
          if (!served) continue;
          ASSERT_EQ(bits_of(got), bits_of(ref))
              << isa_name(isa) << " nb=" << nb << " w_rows=" << w_rows << " rep=" << rep;
          ++checked;
        }
      }
    }
  }
  if (checked == 0) GTEST_SKIP() << "no decode kernel for this type on this CPU";
}

INSTANTIATE_TEST_SUITE_P(IntDot, IntDotK,
                         ::testing::Values(TensorType::Q2_K, TensorType::Q3_K, TensorType::Q4_K,
                                           TensorType::Q5_K, TensorType::Q6_K),
                         [](const auto& info) {
                           return std::string(tensor_type_name(info.param));
                         });

// ---- selection ---------------------------------------------------------------------------------

TEST(IntDotIsa, ForceScalarEnvironmentSelectsTheReference) {
  const char* old = std::getenv("INFERA_FORCE_SCALAR");
  const std::string saved = old ? old : "";
  setenv("INFERA_FORCE_SCALAR", "1", 1);
  reset_isa_selection();
  EXPECT_EQ(active_isa(), Isa::kScalar);
  setenv("INFERA_FORCE_SCALAR", "0", 1);
  reset_isa_selection();
  EXPECT_EQ(active_isa(), best_isa());
  if (old) {
    setenv("INFERA_FORCE_SCALAR", saved.c_str(), 1);
  } else {
    unsetenv("INFERA_FORCE_SCALAR");
  }
  reset_isa_selection();
}

TEST(IntDotIsa, OverrideWinsAndUnsupportedIsaFallsBack) {
  set_isa_override(Isa::kScalar);
  EXPECT_EQ(active_isa(), Isa::kScalar);
  set_isa_override(Isa::kAvx512);
  EXPECT_TRUE(isa_supported(active_isa()));
  clear_isa_override();
  const CpuFeatures& f = cpu_features();
  std::printf(
      "cpu: avx2=%d fma=%d f16c=%d avx512f=%d bw=%d vl=%d vnni=%d avx_vnni=%d bf16=%d -> %s\n",
      f.avx2, f.fma, f.f16c, f.avx512f, f.avx512bw, f.avx512vl, f.avx512_vnni, f.avx_vnni,
      f.avx512_bf16, std::string(isa_name(best_isa())).c_str());
}

// ---- model level: the forced reference path gives identical logits ---------------------------
// At position 0 attention has one key: its weight is exactly 1 on every path, so the logits
// depend only on the matmuls and element-wise ops, which must match bit for bit. (Over longer
// contexts the SIMD attention sums in another order: tests/unit/attention_test.cpp bounds that.)

std::vector<float> model_logits(const std::string& path) {
  const auto model = Model::load(path);
  ThreadPool pool(2);
  std::vector<float> all;
  for (int32_t token : {1, 5, 9, 2}) {
    Session session(*model, 16, pool);
    std::vector<float> logits;
    session.eval(std::span<const int32_t>(&token, 1), LogitsFor::kLastToken, &logits);
    all.insert(all.end(), logits.begin(), logits.end());
  }
  return all;
}

TEST(IntDotModel, ForcedScalarGivesIdenticalLogits) {
  const std::string dir = std::string(INFERA_TEST_DATA_DIR) + "/models/";
  std::vector<std::string> paths = {dir + "tiny-llama-q8_0.gguf", dir + "tiny-llama-k-q4_k_m.gguf"};
  if (const char* home = std::getenv("HOME")) {
    const std::string smol =
        std::string(home) + "/.cache/infera/models/SmolLM2-135M-Instruct.Q4_1.gguf";
    if (std::filesystem::exists(smol)) paths.push_back(smol);  // the Q4_1 × Q8_1 kernels
  }
  for (const std::string& path : paths) {
    if (!std::filesystem::exists(path)) continue;
    std::vector<float> simd = model_logits(path);
    setenv("INFERA_FORCE_SCALAR", "1", 1);
    reset_isa_selection();
    std::vector<float> scalar = model_logits(path);
    unsetenv("INFERA_FORCE_SCALAR");
    reset_isa_selection();
    ASSERT_EQ(simd.size(), scalar.size());
    EXPECT_EQ(bits_of(simd), bits_of(scalar)) << path;
  }
}

// ---- check-and-bench ---------------------------------------------------------------------------

// One weight matrix times one (decode) or eight (prefill) activation rows per kernel and ISA:
// checks the results against the reference, prints weight GB/s and GOP/s (2 ops per
// multiply-add). Times are noisy on a shared machine; nothing is asserted about them.
TEST(IntDotBench, WeightRowTimesActivationRows) {
  const int64_t cols = 2048, rows = 256;
  std::mt19937 rng(5);
  std::printf("%-6s %5s %-7s %9s %9s\n", "type", "x", "isa", "GB/s", "GOP/s");
  for (TensorType type :
       {TensorType::Q4_0, TensorType::Q4_1, TensorType::Q5_0, TensorType::Q5_1, TensorType::Q8_0,
        TensorType::Q2_K, TensorType::Q3_K, TensorType::Q4_K, TensorType::Q5_K, TensorType::Q6_K}) {
    const bool k = activation_type_for(type) == TensorType::Q8_K;
    const int64_t nb = cols / (k ? QK_K : QK8_0);
    const uint64_t wrow = row_bytes(type, cols);
    std::vector<uint8_t> w(wrow * rows);
    for (int64_t r = 0; r < rows; ++r) {
      if (k) {
        fill_k_weights(rng, type, w.data() + r * wrow, nb);
      } else {
        fill_weights(rng, type, w.data() + r * wrow, nb);
      }
    }
    for (int64_t n_x : {1, 8}) {
      const uint64_t xrow = activation_row_bytes(type, cols);
      std::vector<uint8_t> x(xrow * n_x);
      std::normal_distribution<float> normal(0.0f, 1.0f);
      std::vector<float> f(static_cast<size_t>(cols));
      for (int64_t t = 0; t < n_x; ++t) {
        for (auto& v : f) v = normal(rng);
        quantize_activations(type, f.data(), x.data() + t * xrow, cols);
      }
      auto run = [&](std::vector<float>& y) {
        for (int64_t r = 0; r < rows; ++r)
          vec_dot_activations_rows(type, w.data() + r * wrow, x.data(), xrow, n_x, cols,
                                   y.data() + r, rows);
      };
      std::vector<float> ref(static_cast<size_t>(rows * n_x));
      std::vector<Isa> isas = {Isa::kScalar};
      for (Isa isa : simd_isas()) isas.push_back(isa);
      for (Isa isa : isas) {
        std::vector<float> y(ref.size());
        set_isa_override(isa);
        run(y);  // warm-up, and the check
        if (isa == Isa::kScalar) {
          ref = y;
        } else {
          EXPECT_EQ(bits_of(y), bits_of(ref)) << tensor_type_name(type) << " " << isa_name(isa);
        }
        int reps = 0;
        const auto t0 = std::chrono::steady_clock::now();
        double sec = 0.0;
        do {
          run(y);
          ++reps;
          sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        } while (sec < 0.02);
        clear_isa_override();
        const double gbs = static_cast<double>(w.size()) * reps / sec * 1e-9;
        const double gops = 2.0 * static_cast<double>(rows * cols * n_x) * reps / sec * 1e-9;
        std::printf("%-6s %5lld %-7s %9.2f %9.2f\n", std::string(tensor_type_name(type)).c_str(),
                    static_cast<long long>(n_x), std::string(isa_name(isa)).c_str(), gbs, gops);
      }
    }
  }
}

}  // namespace
}  // namespace infera
