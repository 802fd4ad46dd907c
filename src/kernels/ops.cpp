#include "kernels/ops.h"

#include <cmath>

namespace infera {

void rms_norm(const float* x, const float* weight, int64_t n, float eps, float* out) {
  // Sum of squares in double: n is at most a few thousand, and this keeps the norm exact enough
  // that it is never the largest error term.
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) sum += static_cast<double>(x[i]) * x[i];
  const float scale = static_cast<float>(1.0 / std::sqrt(sum / static_cast<double>(n) + eps));
  if (weight) {
    for (int64_t i = 0; i < n; ++i) out[i] = x[i] * scale * weight[i];
  } else {
    for (int64_t i = 0; i < n; ++i) out[i] = x[i] * scale;
  }
}

void rope(float* x, int64_t n_heads, int64_t head_dim, int64_t pos, const RopeParams& p) {
  const int64_t half = p.n_dims / 2;
  const double position = static_cast<double>(pos) * p.freq_scale;
  for (int64_t i = 0; i < half; ++i) {
    // ref: RoFormer eq. 15, θ_i = base^(−2i/d)
    double theta = position * std::pow(static_cast<double>(p.freq_base),
                                       -2.0 * static_cast<double>(i) / static_cast<double>(p.n_dims));
    if (p.freq_factors) theta /= p.freq_factors[i];
    const float c = static_cast<float>(std::cos(theta));
    const float s = static_cast<float>(std::sin(theta));
    for (int64_t h = 0; h < n_heads; ++h) {
      float* head = x + h * head_dim;
      const int64_t i0 = p.ordering == RopeOrdering::kNormal ? 2 * i : i;
      const int64_t i1 = p.ordering == RopeOrdering::kNormal ? 2 * i + 1 : i + half;
      const float x0 = head[i0];
      const float x1 = head[i1];
      head[i0] = x0 * c - x1 * s;
      head[i1] = x0 * s + x1 * c;
    }
  }
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

void swiglu(const float* gate, const float* up, int64_t n, float* out) {
  for (int64_t i = 0; i < n; ++i) {
    const float g = gate[i];
    out[i] = g / (1.0f + std::exp(-g)) * up[i];
  }
}

void geglu(const float* gate, const float* up, int64_t n, float* out) {
  // ref: Hendrycks & Gimpel 2016, tanh approximation of GELU
  constexpr float kSqrt2OverPi = 0.7978845608028654f;
  constexpr float kCoeff = 0.044715f;
  for (int64_t i = 0; i < n; ++i) {
    const float g = gate[i];
    const float gelu = 0.5f * g * (1.0f + std::tanh(kSqrt2OverPi * g * (1.0f + kCoeff * g * g)));
    out[i] = gelu * up[i];
  }
}

void add_in_place(float* y, const float* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += x[i];
}

void scale_in_place(float* y, float s, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] *= s;
}

}  // namespace infera
