#include "kernels/ops.h"

#include <cmath>
#include <vector>

#include "kernels/cpu_features.h"
#include "kernels/ops_simd.h"
#include "quant/float16.h"

namespace infera {

float rms_norm_scale(double sum_of_squares, int64_t n, float eps) {
  return static_cast<float>(1.0 / std::sqrt(sum_of_squares / static_cast<double>(n) + eps));
}

void rms_norm(const float* x, const float* weight, int64_t n, float eps, float* out) {
#if defined(__x86_64__) || defined(__i386__)
  if (active_isa() != Isa::kScalar) return rms_norm_avx2(x, weight, n, eps, out);
#endif
  // Sum of squares in double: n is at most a few thousand, and this keeps the norm exact enough
  // that it is never the largest error term. Element i goes into lane i % 8 and the lanes add up
  // in a fixed tree, so that a SIMD loop gives the same bits (one lane chain was latency-bound).
  double lane[8] = {};
  for (int64_t i = 0; i < n; ++i) lane[i % 8] += static_cast<double>(x[i]) * x[i];
  const double sum =
      ((lane[0] + lane[4]) + (lane[1] + lane[5])) + ((lane[2] + lane[6]) + (lane[3] + lane[7]));
  const float scale = rms_norm_scale(sum, n, eps);
  if (weight) {
    for (int64_t i = 0; i < n; ++i) out[i] = x[i] * scale * weight[i];
  } else {
    for (int64_t i = 0; i < n; ++i) out[i] = x[i] * scale;
  }
}

void rope_angles(int64_t pos, const RopeParams& p, float* cos_sin) {
  const int64_t half = p.n_dims / 2;
  // θ_i = pos · base^(−2i/d) (ref: RoFormer eq. 15), built as llama.cpp builds it: a float running
  // product pos · scale^i, so that positions rotate by the same rounded angles as in the reference.
  const float theta_scale = std::pow(p.freq_base, -2.0f / static_cast<float>(p.n_dims));
  float theta = static_cast<float>(pos);
  for (int64_t i = 0; i < half; ++i) {
    const float factor = p.freq_factors ? p.freq_factors[i] : 1.0f;
    const float angle = p.freq_scale * (theta / factor);
    theta *= theta_scale;
    cos_sin[2 * i] = std::cos(angle);
    cos_sin[2 * i + 1] = std::sin(angle);
  }
}

void rope_rotate(float* x, int64_t n_heads, int64_t head_dim, const float* cos_sin,
                 const RopeParams& p) {
  const bool normal = p.ordering == RopeOrdering::kNormal;
#if defined(__x86_64__) || defined(__i386__)
  if (active_isa() != Isa::kScalar)
    return rope_rotate_avx2(x, n_heads, head_dim, cos_sin, p.n_dims, normal);
#endif
  for (int64_t h = 0; h < n_heads; ++h)
    rope_rotate_pairs(x + h * head_dim, cos_sin, 0, p.n_dims, normal);
}

void rope(float* x, int64_t n_heads, int64_t head_dim, int64_t pos, const RopeParams& p) {
  std::vector<float> cos_sin(static_cast<size_t>(p.n_dims / 2 * 2));
  rope_angles(pos, p, cos_sin.data());
  rope_rotate(x, n_heads, head_dim, cos_sin.data(), p);
}

void softmax(float* x, int64_t n) {
  float max = -INFINITY;
  for (int64_t i = 0; i < n; ++i) max = std::fmax(max, x[i]);
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    x[i] = std::exp(x[i] - max);
    sum += x[i];
  }
  const float inv = static_cast<float>(1.0 / sum);
  for (int64_t i = 0; i < n; ++i) x[i] *= inv;
}

namespace {
INFERA_FMA_CLONES void swiglu_reference(const float* gate, const float* up, int64_t n, float* out) {
  // exp_f32: glibc's expf on FMA CPUs, bit for bit, wherever infera runs.
  for (int64_t i = 0; i < n; ++i) out[i] = swiglu_element(gate[i], up[i]);
}
}  // namespace

void swiglu(const float* gate, const float* up, int64_t n, float* out) {
#if defined(__x86_64__) || defined(__i386__)
  if (active_isa() == Isa::kAvx512) return swiglu_avx512(gate, up, n, out);
  if (active_isa() == Isa::kAvx2) return swiglu_avx2(gate, up, n, out);
#endif
  swiglu_reference(gate, up, n, out);
}

namespace {
float gelu_tanh(float x) {
  // ref: Hendrycks & Gimpel 2016, tanh approximation of GELU
  constexpr float kSqrt2OverPi = 0.79788456080286535587989211986876f;
  constexpr float kCoeff = 0.044715f;
  return 0.5f * x * (1.0f + std::tanh(kSqrt2OverPi * x * (1.0f + kCoeff * x * x)));
}

// GELU of every fp16 value, rounded to fp16. llama.cpp evaluates GELU through such a table (its
// input rounded to fp16), and GeGLU models such as Gemma 3 are sensitive enough to it that
// infera does the same to agree with it.
const std::vector<float>& gelu_fp16_table() {
  static const std::vector<float> table = [] {
    std::vector<float> t(65536);
    for (uint32_t h = 0; h < 65536; ++h)
      t[h] = fp16_to_fp32(fp32_to_fp16(gelu_tanh(fp16_to_fp32(static_cast<uint16_t>(h)))));
    return t;
  }();
  return table;
}
}  // namespace

const float* gelu_fp16_lookup() { return gelu_fp16_table().data(); }

void geglu(const float* gate, const float* up, int64_t n, float* out) {
#if defined(__x86_64__) || defined(__i386__)
  if (active_isa() != Isa::kScalar) return geglu_avx2(gate, up, n, out);
#endif
  const float* table = gelu_fp16_lookup();
  for (int64_t i = 0; i < n; ++i) out[i] = geglu_element(table, gate[i], up[i]);
}

void fp32_to_fp16_row(const float* x, uint16_t* y, int64_t n) {
#if defined(__x86_64__) || defined(__i386__)
  if (active_isa() != Isa::kScalar) return fp32_to_fp16_row_avx2(x, y, n);
#endif
  for (int64_t i = 0; i < n; ++i) y[i] = fp32_to_fp16(x[i]);
}

void add_in_place(float* y, const float* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += x[i];
}

void scale_in_place(float* y, float s, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] *= s;
}

}  // namespace infera
