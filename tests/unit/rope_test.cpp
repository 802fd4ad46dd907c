// rope (kernels/ops.h: rope_angles, then rope_rotate) against the rotation written out in double
// precision, for both orderings, with a linear position scale and per-pair frequency divisors.
// The forward step's sharing of a position's angles among heads and layers is covered by the
// model golden tests.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "kernels/ops.h"

namespace infera {
namespace {

std::vector<float> random_heads(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-2.0f, 2.0f);
  std::vector<float> x(static_cast<size_t>(n));
  for (float& v : x) v = u(rng);
  return x;
}

// Pair i of a head rotated by pos · scale · base^(−2i/n_dims) / factor_i, in double.
std::vector<double> rotated(const std::vector<float>& x, int64_t n_heads, int64_t head_dim,
                            int64_t pos, const RopeParams& p) {
  std::vector<double> y(x.begin(), x.end());
  const int64_t half = p.n_dims / 2;
  for (int64_t h = 0; h < n_heads; ++h) {
    for (int64_t i = 0; i < half; ++i) {
      const double factor = p.freq_factors ? p.freq_factors[i] : 1.0;
      const double angle = p.freq_scale * static_cast<double>(pos) *
                           std::pow(static_cast<double>(p.freq_base),
                                    -2.0 * static_cast<double>(i) / static_cast<double>(p.n_dims)) /
                           factor;
      const bool normal = p.ordering == RopeOrdering::kNormal;
      const size_t i0 = static_cast<size_t>(h * head_dim + (normal ? 2 * i : i));
      const size_t i1 = static_cast<size_t>(h * head_dim + (normal ? 2 * i + 1 : i + half));
      const double x0 = x[i0], x1 = x[i1];
      y[i0] = x0 * std::cos(angle) - x1 * std::sin(angle);
      y[i1] = x0 * std::sin(angle) + x1 * std::cos(angle);
    }
  }
  return y;
}

TEST(Rope, MatchesTheRotationInDouble) {
  const std::vector<float> factors = {1.0f, 1.0f, 2.0f, 4.0f, 8.0f, 8.0f, 16.0f, 32.0f};
  for (RopeOrdering ordering : {RopeOrdering::kNormal, RopeOrdering::kNeox}) {
    for (bool with_factors : {false, true}) {
      RopeParams p;
      p.ordering = ordering;
      p.n_dims = 16;
      p.freq_base = 10000.0f;
      p.freq_scale = with_factors ? 0.25f : 1.0f;
      p.freq_factors = with_factors ? factors.data() : nullptr;
      const int64_t n_heads = 3, head_dim = 20;  // 4 dims of each head left as they are
      for (int64_t pos : {0, 1, 7, 100, 4000}) {
        const auto x = random_heads(n_heads * head_dim, static_cast<uint32_t>(pos) + 1);
        auto y = x;
        rope(y.data(), n_heads, head_dim, pos, p);
        const auto want = rotated(x, n_heads, head_dim, pos, p);
        // The angle is a float running product, rounded once per pair (a few ulp of pos · θ_i),
        // then a float cos/sin and two float products: ~1e-6 · pos relative to |x| ≤ 2.
        const double tolerance = 4e-6 * (1.0 + static_cast<double>(pos));
        for (size_t i = 0; i < y.size(); ++i)
          EXPECT_NEAR(y[i], want[i], tolerance) << "pos " << pos << " element " << i;
      }
    }
  }
}

}  // namespace
}  // namespace infera
